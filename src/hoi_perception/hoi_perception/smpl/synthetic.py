"""A small synthetic body model in the SMPL file format (not SMPL).

SMPL is licensed and never shipped, so the tests and the node (when the user
names no SMPL file) use this procedural model instead: SMPL's 24-joint
kinematic tree with an adult's rest joints (y up, x to the body's left, z
forward, T pose), a capsule-like surface of rings around every bone, rigid
skinning to the bone's parent joint blended with the grandparent near the
joint, 10 shape directions (height, girth and smooth seeded deformations),
zero pose correctives, a J_regressor that averages a ring of vertices around
each joint (so the regressed joints are exactly the rest joints), and one
vertex per BODY_25 face/foot keypoint (``landmarks_body25``).

Every output that uses it names it: ``SYNTHETIC_MODEL_NAME``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hoi_perception.smpl.landmarks import BODY25_NAMES
from hoi_perception.smpl.model import NUM_BETAS, NUM_JOINTS, PARENTS, SmplModel, save_smpl_npz, smpl_from_arrays

SYNTHETIC_MODEL_NAME = "synthetic-smpl-format (procedural test body, not SMPL)"

# rest joints in metres (SMPL axes: y up, x = body's left, z = forward), adult T pose
REST_JOINTS = np.array([
    [0.0, 0.0, 0.0], [0.06, -0.09, 0.0], [-0.06, -0.09, 0.0], [0.0, 0.11, -0.01],
    [0.10, -0.47, 0.0], [-0.10, -0.47, 0.0], [0.0, 0.24, -0.01], [0.09, -0.87, -0.03],
    [-0.09, -0.87, -0.03], [0.0, 0.29, 0.0], [0.11, -0.93, 0.10], [-0.11, -0.93, 0.10],
    [0.0, 0.51, -0.01], [0.07, 0.41, -0.01], [-0.07, 0.41, -0.01], [0.0, 0.62, 0.03],
    [0.17, 0.44, -0.02], [-0.17, 0.44, -0.02], [0.43, 0.43, -0.03], [-0.43, 0.43, -0.03],
    [0.68, 0.43, -0.03], [-0.68, 0.43, -0.03], [0.77, 0.42, -0.03], [-0.77, 0.42, -0.03],
])
# surface radius of the bone that ends at joint j (parent -> j), metres
BONE_RADIUS = np.array([0.0, 0.08, 0.08, 0.12, 0.065, 0.065, 0.12, 0.05, 0.05, 0.12, 0.04, 0.04,
                        0.055, 0.06, 0.06, 0.1, 0.055, 0.055, 0.045, 0.045, 0.035, 0.035, 0.04, 0.04])
# BODY_25 face and foot keypoints: (joint that carries them, offset from that joint at rest)
_LANDMARKS = {
    "nose": (15, (0.0, -0.02, 0.1)), "r_eye": (15, (-0.035, 0.02, 0.085)), "l_eye": (15, (0.035, 0.02, 0.085)),
    "r_ear": (15, (-0.08, 0.0, 0.0)), "l_ear": (15, (0.08, 0.0, 0.0)),
    "l_big_toe": (10, (0.0, -0.02, 0.07)), "l_small_toe": (10, (0.05, -0.02, 0.05)), "l_heel": (7, (0.0, -0.06, -0.08)),
    "r_big_toe": (11, (0.0, -0.02, 0.07)), "r_small_toe": (11, (-0.05, -0.02, 0.05)), "r_heel": (8, (0.0, -0.06, -0.08)),
}


def _frame(d: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    d = d / np.linalg.norm(d)
    a = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(d, a)
    u /= np.linalg.norm(u)
    return u, np.cross(d, u)


def synthetic_smpl_arrays(rings: int = 6, around: int = 10, seed: int = 0) -> dict[str, NDArray]:
    """SMPL-format arrays of the synthetic body (V about 24 * (rings + 1) * around + 11)."""
    verts: list[NDArray[np.float64]] = []
    weights: list[NDArray[np.float64]] = []
    faces: list[NDArray[np.int64]] = []
    jreg = np.zeros((NUM_JOINTS, 0))
    ring_of_joint: dict[int, list[int]] = {}
    ang = np.linspace(0, 2 * np.pi, around, endpoint=False)
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        a, b = REST_JOINTS[p], REST_JOINTS[j]
        u, v = _frame(b - a)
        r = BONE_RADIUS[j]
        start = sum(len(x) for x in verts)
        for i in range(rings + 1):
            s = i / rings
            c = a + s * (b - a)
            ring = c + r * (np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * v)
            w = np.zeros((around, NUM_JOINTS))
            gp = PARENTS[p]
            blend = min(1.0, s / 0.25) if gp >= 0 else 1.0  # near the parent joint: blend with the grandparent
            w[:, p] = blend
            if gp >= 0:
                w[:, gp] += 1.0 - blend
            verts.append(ring)
            weights.append(w)
            if i == 0:
                ring_of_joint.setdefault(p, []).extend(range(start, start + around))
            if i == rings:
                ring_of_joint.setdefault(j, []).extend(range(start + i * around, start + (i + 1) * around))
        for i in range(rings):
            for k in range(around):
                k2 = (k + 1) % around
                a0, a1 = start + i * around + k, start + i * around + k2
                b0, b1 = a0 + around, a1 + around
                faces.append(np.array([[a0, b0, a1], [a1, b0, b1]]))
    lm_index = []
    for name in BODY25_NAMES:
        if name in _LANDMARKS:
            j, off = _LANDMARKS[name]
            lm_index.append(sum(len(x) for x in verts))
            verts.append((REST_JOINTS[j] + np.asarray(off))[None])
            w = np.zeros((1, NUM_JOINTS))
            w[0, j] = 1.0
            weights.append(w)
        else:
            lm_index.append(-1)
    v_template = np.concatenate(verts)
    w_all = np.concatenate(weights)
    n = len(v_template)
    jreg = np.zeros((NUM_JOINTS, n))
    for j, idx in ring_of_joint.items():
        jreg[j, idx] = 1.0 / len(idx)
    rng = np.random.default_rng(seed)
    shapedirs = np.zeros((n, 3, NUM_BETAS))
    pelvis = REST_JOINTS[0]
    shapedirs[:, :, 0] = 0.05 * (v_template - pelvis)  # beta 0: +5 % size per unit
    # beta 1: girth (push each vertex away from its bone axis); built from the ring centres
    centre = w_all @ REST_JOINTS
    shapedirs[:, :, 1] = 0.1 * (v_template - centre)
    for b in range(2, NUM_BETAS):  # smooth seeded deformations of small amplitude
        k = rng.normal(size=(3, 3)) * 0.01
        shapedirs[:, :, b] = (v_template - pelvis) @ k.T
    kintree = np.array([[2**32 - 1 if p < 0 else p for p in PARENTS], list(range(NUM_JOINTS))], dtype=np.int64)
    return {
        "v_template": v_template, "shapedirs": shapedirs,
        "posedirs": np.zeros((n, 3, (NUM_JOINTS - 1) * 9)), "J_regressor": jreg, "weights": w_all,
        "kintree_table": kintree, "f": np.concatenate(faces), "landmarks_body25": np.asarray(lm_index, np.int64),
    }


def synthetic_smpl_model() -> SmplModel:
    """The synthetic body as an SmplModel (named SYNTHETIC_MODEL_NAME)."""
    return smpl_from_arrays(synthetic_smpl_arrays(), SYNTHETIC_MODEL_NAME)


def write_synthetic_smpl(path: str | Path) -> Path:
    """Write the synthetic body as an SMPL-format .npz file."""
    return save_smpl_npz(synthetic_smpl_arrays(), path)
