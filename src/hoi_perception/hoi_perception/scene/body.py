"""Articulated human on the 34-joint BodyPose3DNet skeleton, with a capsule body surface.

The pose is *driven*, not simulated: a ``BodyDrive`` gives the pelvis position
and heading, an upper-body lean, ankle targets (from the gait) and wrist
targets with hand orientations (from the motion script). Legs and arms are
solved with analytic two-bone IK, so every bone keeps its rest length in every
frame (targets out of reach are pulled back onto the reachable sphere).

Proportions are those of a 1.75 m adult (segment lengths after the
Drillis-Contini height fractions: thigh and shank ~0.245 H, upper arm ~0.17 H,
forearm ~0.15 H, hand ~0.1 H, shoulder height ~0.82 H), scaled linearly for
other heights.

Frames: world z up; the pelvis frame has x forward, y left, z up
(``world_from_pelvis`` has yaw only).

The body surface is a fixed list of capsules (``CAPSULES``) and the body
vertex set is a fixed template of points on each capsule (ring x axial plus
two hemispherical caps), so vertex ``i`` is always the same spot of the same
body part: contact regions are vertex index sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hoi_perception.skeleton.bodypose34 import JOINT_NAMES

REFERENCE_HEIGHT_M = 1.75
PELVIS_STANDING_HEIGHT_M = 0.94  # hips at 0.91: knees slightly flexed when standing
UPPER_ARM_M, FOREARM_M = 0.30, 0.26
THIGH_M, SHANK_M = 0.42, 0.42
ANKLE_HEIGHT_M = 0.08
HAND_PALM_CENTRE_M = 0.085  # wrist -> palm centre along the fingers

# Points that move rigidly with the (leaning) upper body, pelvis frame, 1.75 m person.
_UPPER_REST: dict[str, tuple[float, float, float]] = {
    "torso": (-0.01, 0.0, 0.27),
    "neck": (-0.02, 0.0, 0.53),
    "left_shoulder": (-0.02, 0.18, 0.49),
    "right_shoulder": (-0.02, -0.18, 0.49),
    "head_centre": (0.0, 0.0, 0.71),
    "nose": (0.075, 0.0, 0.695),
    "left_eye": (0.07, 0.03, 0.72),
    "right_eye": (0.07, -0.03, 0.72),
    "left_ear": (0.0, 0.075, 0.70),
    "right_ear": (0.0, -0.075, 0.70),
}
_HIP_REST: dict[str, tuple[float, float, float]] = {"left_hip": (0.0, 0.09, -0.03), "right_hip": (0.0, -0.09, -0.03)}
# foot frame: origin at the ankle, x along the foot, y left, z up; y given for the LEFT foot (mirrored for right)
_FOOT_REST: dict[str, tuple[float, float, float]] = {
    "heel": (-0.05, 0.0, -0.05),
    "big_toe": (0.165, -0.022, -0.06),
    "small_toe": (0.13, 0.035, -0.06),
}
# hand frame: f = wrist->fingers, th = towards the thumb, p = out of the palm
_HAND_REST: dict[str, tuple[float, float, float]] = {  # (f, th, p)
    "middle_tip": (0.18, 0.0, 0.0),
    "index_knuckle": (0.095, 0.03, 0.0),
    "pinky_knuckle": (0.085, -0.035, 0.0),
    "thumb_tip": (0.09, 0.065, 0.01),
}

HEAD_POINTS = ("head_lo", "head_hi")
# (part name, end a, end b, radius at 1.75 m, material role)
CAPSULES: tuple[tuple[str, str, str, float, str], ...] = (
    ("pelvis", "left_hip", "right_hip", 0.10, "pants"),
    ("abdomen", "pelvis", "torso", 0.12, "shirt"),
    ("chest", "torso", "neck", 0.13, "shirt"),
    ("shoulders", "left_shoulder", "right_shoulder", 0.065, "shirt"),
    ("neck", "neck", "head_centre", 0.05, "skin"),
    ("head", "head_lo", "head_hi", 0.09, "head"),
    ("left_upper_arm", "left_shoulder", "left_elbow", 0.045, "shirt"),
    ("right_upper_arm", "right_shoulder", "right_elbow", 0.045, "shirt"),
    ("left_forearm", "left_elbow", "left_wrist", 0.037, "skin"),
    ("right_forearm", "right_elbow", "right_wrist", 0.037, "skin"),
    ("left_hand", "left_wrist", "left_middle_tip", 0.028, "skin"),
    ("right_hand", "right_wrist", "right_middle_tip", 0.028, "skin"),
    ("left_palm", "left_index_knuckle", "left_pinky_knuckle", 0.024, "skin"),
    ("right_palm", "right_index_knuckle", "right_pinky_knuckle", 0.024, "skin"),
    ("left_thumb", "left_wrist", "left_thumb_tip", 0.016, "skin"),
    ("right_thumb", "right_wrist", "right_thumb_tip", 0.016, "skin"),
    ("left_thigh", "left_hip", "left_knee", 0.075, "pants"),
    ("right_thigh", "right_hip", "right_knee", 0.075, "pants"),
    ("left_shank", "left_knee", "left_ankle", 0.052, "pants"),
    ("right_shank", "right_knee", "right_ankle", 0.052, "pants"),
    ("left_foot", "left_heel", "left_big_toe", 0.035, "shoes"),
    ("right_foot", "right_heel", "right_big_toe", 0.035, "shoes"),
    ("left_foot_outer", "left_heel", "left_small_toe", 0.03, "shoes"),
    ("right_foot_outer", "right_heel", "right_small_toe", 0.03, "shoes"),
)
CAPSULE_NAMES: tuple[str, ...] = tuple(c[0] for c in CAPSULES)
HAND_CAPSULES: dict[str, tuple[str, ...]] = {
    side: (f"{side}_hand", f"{side}_palm", f"{side}_thumb") for side in ("left", "right")
}


def _rot_z(yaw: float) -> NDArray[np.float64]:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rot_y(angle: float) -> NDArray[np.float64]:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _unit(v: NDArray[np.float64]) -> NDArray[np.float64]:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def two_bone_ik(root: NDArray[np.float64], target: NDArray[np.float64], upper: float, lower: float,
                pole: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Analytic two-bone IK: (middle joint, end joint) with exact bone lengths.

    The middle joint bends towards ``pole`` (a direction); unreachable targets
    are clamped onto the reachable shell along the root->target direction.
    """
    d_vec = target - root
    dist = float(np.linalg.norm(d_vec))
    direction = d_vec / dist if dist > 1e-9 else _unit(-pole)
    dist = float(np.clip(dist, abs(upper - lower) + 1e-4, (upper + lower) * 0.9995))
    end = root + direction * dist
    cos_a = (upper * upper + dist * dist - lower * lower) / (2 * upper * dist)
    sin_a = np.sqrt(max(0.0, 1.0 - cos_a * cos_a))
    bend = pole - (pole @ direction) * direction
    if np.linalg.norm(bend) < 1e-9:  # pole along the limb: any perpendicular will do
        bend = np.cross(direction, [0.0, 0.0, 1.0] if abs(direction[2]) < 0.9 else [1.0, 0.0, 0.0])
    bend = _unit(bend)
    middle = root + upper * (cos_a * direction + sin_a * bend)
    return middle, end


@dataclass
class BodyDrive:
    """What the motion script prescribes for one instant (world frame, index 0 = left, 1 = right)."""

    pelvis: NDArray[np.float64]          # (3,)
    yaw: float                           # heading of the pelvis frame x axis about +z
    lean: float                          # forward lean of the upper body about the pelvis y axis, radians
    ankles: NDArray[np.float64]          # (2, 3) ankle targets
    foot_yaws: NDArray[np.float64]       # (2,)
    wrists: NDArray[np.float64]          # (2, 3) wrist targets
    fingers: NDArray[np.float64]         # (2, 3) wrist->fingers direction
    palms: NDArray[np.float64]           # (2, 3) direction the palm faces


@dataclass
class BodyState:
    """Solved pose: joints (34, 3) world, the pelvis frame, and all named points."""

    joints: NDArray[np.float64]
    world_from_pelvis: NDArray[np.float64]
    points: dict[str, NDArray[np.float64]]
    scale: float


class HumanBody:
    """Skeleton of a person of ``height_m`` with its capsule surface and vertex template."""

    def __init__(self, height_m: float = REFERENCE_HEIGHT_M, rings: int = 12, axial: int = 5) -> None:
        self.height_m = height_m
        self.scale = height_m / REFERENCE_HEIGHT_M
        self.radii = np.array([c[3] for c in CAPSULES]) * self.scale
        self._template = self._vertex_template(rings, axial)
        n_per = self._template[0].size
        self.vertex_part: NDArray[np.int64] = np.repeat(np.arange(len(CAPSULES)), n_per)

    @property
    def pelvis_standing_height(self) -> float:
        return PELVIS_STANDING_HEIGHT_M * self.scale

    @property
    def ankle_height(self) -> float:
        return ANKLE_HEIGHT_M * self.scale

    @property
    def num_vertices(self) -> int:
        return int(self.vertex_part.size)

    def rest_wrist_offset(self, side: int) -> NDArray[np.float64]:
        """Hanging-arm wrist position in the pelvis frame (side 0 = left, 1 = right)."""
        s = 1.0 if side == 0 else -1.0
        return self.scale * np.array([0.01, s * 0.235, -0.01])

    def shoulder_offset(self, side: int, lean: float) -> NDArray[np.float64]:
        name = "left_shoulder" if side == 0 else "right_shoulder"
        return _rot_y(lean) @ (np.array(_UPPER_REST[name]) * self.scale)

    def solve(self, drive: BodyDrive) -> BodyState:
        sc = self.scale
        r_yaw = _rot_z(drive.yaw)
        origin = np.asarray(drive.pelvis, dtype=np.float64)
        lean = _rot_y(drive.lean)
        pts: dict[str, NDArray[np.float64]] = {"pelvis": origin.copy()}
        for name, off in _UPPER_REST.items():
            pts[name] = origin + r_yaw @ (lean @ (np.array(off) * sc))
        for name, off in _HIP_REST.items():
            pts[name] = origin + r_yaw @ (np.array(off) * sc)
        up_head = r_yaw @ lean @ np.array([0.0, 0.0, 1.0])
        pts["head_lo"] = pts["head_centre"] - 0.01 * sc * up_head
        pts["head_hi"] = pts["head_centre"] + 0.01 * sc * up_head
        fwd = r_yaw[:, 0]
        left = r_yaw[:, 1]
        for i, side in enumerate(("left", "right")):
            s = 1.0 if i == 0 else -1.0
            # legs: knees bend forward and a little outward
            knee, ankle = two_bone_ik(pts[f"{side}_hip"], drive.ankles[i], THIGH_M * sc, SHANK_M * sc,
                                      fwd + 0.15 * s * left)
            pts[f"{side}_knee"], pts[f"{side}_ankle"] = knee, ankle
            r_foot = _rot_z(float(drive.foot_yaws[i]))
            for name, off in _FOOT_REST.items():
                o = np.array(off) * sc
                o[1] *= s
                pts[f"{side}_{name}"] = ankle + r_foot @ o
            # arms: elbows point down, back and outward
            pole = -0.8 * np.array([0.0, 0.0, 1.0]) - 0.3 * fwd + 0.5 * s * left
            elbow, wrist = two_bone_ik(pts[f"{side}_shoulder"], drive.wrists[i], UPPER_ARM_M * sc, FOREARM_M * sc,
                                       pole)
            pts[f"{side}_elbow"], pts[f"{side}_wrist"] = elbow, wrist
            f = _unit(drive.fingers[i])
            p = _unit(drive.palms[i] - (drive.palms[i] @ f) * f)
            # right hand: thumb = f x p; left hand is the mirror image
            th = -s * np.cross(f, p)
            for name, (cf, ct, cp) in _HAND_REST.items():
                pts[f"{side}_{name}"] = wrist + sc * (cf * f + ct * th + cp * p)
        joints = np.stack([pts[name] for name in _JOINT_ORDER])
        wfp = np.eye(4)
        wfp[:3, :3] = r_yaw
        wfp[:3, 3] = origin
        return BodyState(joints=joints, world_from_pelvis=wfp, points=pts, scale=sc)

    def capsule_segments(self, state: BodyState) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(a (C, 3), b (C, 3), radius (C,)) of every body capsule, in CAPSULES order."""
        a = np.stack([state.points[c[1]] for c in CAPSULES])
        b = np.stack([state.points[c[2]] for c in CAPSULES])
        return a, b, self.radii

    def _vertex_template(self, rings: int, axial: int) -> tuple[NDArray, NDArray, NDArray, NDArray]:
        """Per-vertex coefficients (t along a->b, u, v, axis) of one capsule, scaled by the radius."""
        theta = np.linspace(0, 2 * np.pi, rings, endpoint=False)
        ct, cu, cv, ca = [], [], [], []
        for t in np.linspace(0, 1, axial):
            ct.append(np.full(rings, t))
            cu.append(np.cos(theta))
            cv.append(np.sin(theta))
            ca.append(np.zeros(rings))
        for end, sign in ((0.0, -1.0), (1.0, 1.0)):
            for lat in (np.pi / 6, np.pi / 3):
                ct.append(np.full(rings, end))
                cu.append(np.cos(lat) * np.cos(theta))
                cv.append(np.cos(lat) * np.sin(theta))
                ca.append(np.full(rings, sign * np.sin(lat)))
            ct.append(np.array([end]))
            cu.append(np.zeros(1))
            cv.append(np.zeros(1))
            ca.append(np.array([sign]))
        return tuple(np.concatenate(x) for x in (ct, cu, cv, ca))  # type: ignore[return-value]

    def vertices(self, state: BodyState) -> NDArray[np.float64]:
        """Body surface sample points (V, 3) in the world; index-stable across frames."""
        a, b, r = self.capsule_segments(state)
        axis = b - a
        length = np.linalg.norm(axis, axis=1, keepdims=True)
        # degenerate (sphere-like) capsules take the body's up direction as their axis
        up = state.world_from_pelvis[:3, 2]
        unit_axis = np.where(length > 1e-9, axis / np.maximum(length, 1e-12), up)
        ref = np.broadcast_to(state.world_from_pelvis[:3, 0], unit_axis.shape).copy()
        parallel = np.abs(np.sum(ref * unit_axis, axis=1)) > 0.95
        ref[parallel] = state.world_from_pelvis[:3, 1]
        u = ref - np.sum(ref * unit_axis, axis=1, keepdims=True) * unit_axis
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        v = np.cross(unit_axis, u)
        ct, cu, cv, ca = self._template
        rr = r[:, None, None]
        out = (a[:, None, :] + ct[None, :, None] * axis[:, None, :]
               + rr * (cu[None, :, None] * u[:, None, :] + cv[None, :, None] * v[:, None, :]
                       + ca[None, :, None] * unit_axis[:, None, :]))
        return out.reshape(-1, 3)

    def box_extents(self, state: BodyState) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
        """Tight yaw-aligned box around the capsule surface: (centre (3,), size (w, l, h), yaw)."""
        a, b, r = self.capsule_segments(state)
        yaw = float(np.arctan2(state.world_from_pelvis[1, 0], state.world_from_pelvis[0, 0]))
        rot = _rot_z(yaw)
        pts = np.concatenate([a, b]) @ rot  # into the heading frame (R^T p)
        rad = np.concatenate([r, r])[:, None]
        lo = (pts - rad).min(axis=0)
        hi = (pts + rad).max(axis=0)
        centre = rot @ ((lo + hi) / 2)
        return centre, hi - lo, yaw


_JOINT_ORDER: tuple[str, ...] = JOINT_NAMES
