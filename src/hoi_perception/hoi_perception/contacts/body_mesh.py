"""The project's own articulated body as a triangle mesh ("hoi_capsules").

The synthetic scene's human is a set of capsules (scene/body.py) whose
surface is sampled by an index-stable vertex template. This module

* builds that body from any 34-joint BodyPose3DNet skeleton (the capsule ends
  are skeleton joints, except the head, placed from the ears), so contact
  vertices of a *measured* person use the same vertex indices as the scene's
  ground truth (ContactSet.body_model "hoi_capsules");
* gives the template's triangle faces (rings stitched pole to pole), so the
  body can be rasterised with per-pixel face/vertex ids (interactvlm/);
* poses it canonically: arms out, legs spread 30 degrees each, the
  "Vitruvian" pose InteractVLM renders its body in
  (saidwivedi/InteractVLM preprocess_data/render_mesh_utils.py
  get_virtuvian_body_pose: hips rotated +-30 degrees about z, SMPL zero pose
  = arms out), in SMPL's canonical axes (y up, the body facing +z).

Openly licensed: everything here is this project's own geometry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from hoi_perception.scene.body import (
    CAPSULES,
    FOREARM_M,
    SHANK_M,
    THIGH_M,
    UPPER_ARM_M,
    BodyDrive,
    BodyState,
    HumanBody,
)
from hoi_perception.skeleton.bodypose34 import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS

BODY_MODEL_NAME = "hoi_capsules"
_RINGS, _AXIAL = 12, 5  # HumanBody's defaults: the scene's ground-truth vertex indices use them


@dataclass(frozen=True)
class BodyMesh:
    """A body surface: vertices (V, 3) metres, faces (F, 3), vertex -> part index, and its model name."""

    vertices: NDArray[np.float64]
    faces: NDArray[np.int64]
    vertex_part: NDArray[np.int64]
    model: str


def template_faces(rings: int = _RINGS, axial: int = _AXIAL, num_capsules: int = len(CAPSULES)) -> NDArray[np.int64]:
    """Triangles of the capsule vertex template (HumanBody._vertex_template's layout), all capsules."""
    # template layout per capsule: `axial` rings, then per end: ring(30 deg), ring(60 deg), pole
    ring_start = [j * rings for j in range(axial)]
    end0 = axial * rings
    end1 = end0 + 2 * rings + 1
    order = [("pole", end0 + 2 * rings), ("ring", end0 + rings), ("ring", end0)]
    order += [("ring", s) for s in ring_start]
    order += [("ring", end1), ("ring", end1 + rings), ("pole", end1 + 2 * rings)]
    per = end1 + 2 * rings + 1
    j = np.arange(rings)
    jn = (j + 1) % rings
    tris = []
    for (ka, a), (kb, b) in zip(order[:-1], order[1:], strict=True):
        if ka == "pole":
            tris.append(np.stack([np.full(rings, a), b + j, b + jn], -1))
        elif kb == "pole":
            tris.append(np.stack([a + j, np.full(rings, b), a + jn], -1))
        else:
            tris.append(np.stack([a + j, b + j, b + jn], -1))
            tris.append(np.stack([a + j, b + jn, a + jn], -1))
    one = np.concatenate(tris).astype(np.int64)
    return np.concatenate([one + c * per for c in range(num_capsules)])


def _unit(v: NDArray[np.float64]) -> NDArray[np.float64]:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def body_scale_from_joints(joints: NDArray[np.float64]) -> float:
    """Body scale (1 = the 1.75 m reference) from limb lengths, clamped to [0.7, 1.3]."""
    j = JOINT_INDEX
    pairs = [("shoulder", "elbow", UPPER_ARM_M), ("elbow", "wrist", FOREARM_M), ("hip", "knee", THIGH_M),
             ("knee", "ankle", SHANK_M)]
    ratios = []
    for a, b, rest in pairs:
        for side in ("left", "right"):
            d = float(np.linalg.norm(joints[j[f"{side}_{a}"]] - joints[j[f"{side}_{b}"]]))
            if np.isfinite(d) and d > 0:
                ratios.append(d / rest)
    return float(np.clip(np.median(ratios), 0.7, 1.3)) if ratios else 1.0


@lru_cache(maxsize=8)
def _body(scale_key: int) -> HumanBody:
    return HumanBody(1.75 * scale_key / 1000.0, rings=_RINGS, axial=_AXIAL)


def capsule_body_from_joints(joints: NDArray[np.float64], up: NDArray[np.float64] | None = None,
                             scale: float | None = None) -> BodyMesh:
    """The capsule body posed by a 34-joint skeleton (any metric frame).

    ``up``: the frame's vertical (world z in the scene); without it the body's
    own pelvis->neck direction is used. The vertex ring phase follows the
    pelvis frame as in scene/body.py, so with the scene's up axis and joints
    the vertices equal the scene's ground-truth body vertices (the head within
    about 1 cm)."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape != (NUM_JOINTS, 3) or not np.all(np.isfinite(joints)):
        raise ValueError(f"capsule body needs finite joints of shape ({NUM_JOINTS}, 3), got {joints.shape}")
    sc = body_scale_from_joints(joints) if scale is None else float(scale)
    body = _body(int(round(sc * 1000)))
    pts = {name: joints[i] for i, name in enumerate(JOINT_NAMES)}
    left = _unit(pts["left_hip"] - pts["right_hip"])
    trunk_up = _unit(pts["neck"] - pts["pelvis"])
    z = _unit(np.asarray(up, dtype=np.float64)) if up is not None else trunk_up
    y = _unit(left - (left @ z) * z)
    x = np.cross(y, z)
    ears = (pts["left_ear"] + pts["right_ear"]) / 2
    # scene/body.py: head centre 1 cm above the ear line, head capsule +-1 cm along the upper body's up
    head_up = trunk_up
    pts["head_centre"] = ears + 0.01 * sc * head_up
    pts["head_lo"] = pts["head_centre"] - 0.01 * sc * head_up
    pts["head_hi"] = pts["head_centre"] + 0.01 * sc * head_up
    wfp = np.eye(4)
    wfp[:3, :3] = np.column_stack([x, y, z])
    wfp[:3, 3] = pts["pelvis"]
    state = BodyState(joints=joints, world_from_pelvis=wfp, points=pts, scale=sc)
    return BodyMesh(body.vertices(state), template_faces(), body.vertex_part.copy(), BODY_MODEL_NAME)


def vitruvian_capsule_body(height_m: float = 1.75) -> BodyMesh:
    """The capsule body in InteractVLM's canonical pose and axes: y up, facing +z, pelvis at the origin."""
    body = HumanBody(height_m, rings=_RINGS, axial=_AXIAL)
    sc = body.scale
    pelvis = np.array([0.0, 0.0, body.pelvis_standing_height])
    wrists, fingers, palms, ankles = np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3))
    spread = math.radians(30.0)
    leg = (THIGH_M + SHANK_M) * sc * 0.999
    for i, s in enumerate((1.0, -1.0)):  # 0 = left (+y in the pelvis frame)
        shoulder = pelvis + body.shoulder_offset(i, 0.0)
        wrists[i] = shoulder + np.array([0.0, s, 0.0]) * (UPPER_ARM_M + FOREARM_M) * sc * 0.999
        fingers[i] = [0.0, s, 0.0]
        palms[i] = [0.0, 0.0, -1.0]
        hip = pelvis + np.array([0.0, s * 0.09 * sc, -0.03 * sc])
        ankles[i] = hip + leg * np.array([0.0, s * math.sin(spread), -math.cos(spread)])
    drive = BodyDrive(pelvis=pelvis, yaw=0.0, lean=0.0, ankles=ankles, foot_yaws=np.zeros(2), wrists=wrists,
                      fingers=fingers, palms=palms)
    state = body.solve(drive)
    v = body.vertices(state) - pelvis
    # scene axes (x forward, y left, z up) -> SMPL canonical (x = body's left, y up, z forward)
    canon = np.column_stack([v[:, 1], v[:, 2], v[:, 0]])
    return BodyMesh(canon, template_faces(), body.vertex_part.copy(), BODY_MODEL_NAME)
