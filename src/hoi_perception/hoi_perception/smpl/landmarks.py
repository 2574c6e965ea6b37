"""Keypoints of an SMPL body: OpenPose BODY_25 (CoCoNet's body-joint input) and
the correspondence with the 34-joint BodyPose3DNet skeleton (the fit targets).

CARI4D regresses BODY_25 from the SMPL-H vertices with its body25 regressor
(NVlabs/CARI4D lib_smpl/body_landmark.py, an asset that ships with SMPL); we
take the SMPL joints where the keypoint is a joint and one surface vertex per
face and foot keypoint: for an SMPL-topology file the vertex ids of the
smplh entry of vchoutas/smplx smplx/vertex_ids.py, for the synthetic body its
own ``landmarks_body25``. Mid-hip is the midpoint of the two hip joints.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hoi_perception.skeleton.bodypose34 import JOINT_INDEX as BP34

BODY25_NAMES: tuple[str, ...] = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "mid_hip",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
    "l_big_toe", "l_small_toe", "l_heel", "r_big_toe", "r_small_toe", "r_heel",
)
# BODY_25 keypoints that are SMPL joints (index into the 24 joints)
BODY25_FROM_JOINT = {"neck": 12, "r_shoulder": 17, "r_elbow": 19, "r_wrist": 21, "l_shoulder": 16, "l_elbow": 18,
                     "l_wrist": 20, "r_hip": 2, "r_knee": 5, "r_ankle": 8, "l_hip": 1, "l_knee": 4, "l_ankle": 7}
# SMPL-topology vertex ids (6890 vertices) of the other keypoints: vchoutas/smplx smplx/vertex_ids.py "smplh"
SMPL_VERTEX_IDS = {"nose": 332, "r_eye": 6260, "l_eye": 2800, "r_ear": 4071, "l_ear": 583,
                   "l_big_toe": 3216, "l_small_toe": 3226, "l_heel": 3387,
                   "r_big_toe": 6617, "r_small_toe": 6624, "r_heel": 6787}
SMPL_NUM_VERTICES = 6890


def landmark_vertex_ids(num_vertices: int, landmarks_body25: NDArray[np.int64] | None) -> NDArray[np.int64]:
    """Vertex index per BODY_25 keypoint (-1 where the keypoint comes from joints)."""
    if landmarks_body25 is not None:
        return np.asarray(landmarks_body25, dtype=np.int64)
    if num_vertices != SMPL_NUM_VERTICES:
        raise ValueError(f"model with {num_vertices} vertices has no landmarks_body25 and is not SMPL topology")
    return np.array([SMPL_VERTEX_IDS.get(n, -1) for n in BODY25_NAMES], dtype=np.int64)


def body25_from_smpl(joints: NDArray[np.float64], landmark_points: NDArray[np.float64]) -> NDArray[np.float64]:
    """BODY_25 keypoints (..., 25, 3) from SMPL joints (..., 24, 3) and the posed
    landmark vertices (..., 25, 3) (rows of joint keypoints are ignored)."""
    out = landmark_points.copy()
    for name, j in BODY25_FROM_JOINT.items():
        out[..., BODY25_NAMES.index(name), :] = joints[..., j, :]
    out[..., BODY25_NAMES.index("mid_hip"), :] = 0.5 * (joints[..., 1, :] + joints[..., 2, :])
    return out


# Fit targets: 34-joint skeleton joint -> ("joint", SMPL joint) or ("landmark", BODY_25 keypoint).
# pelvis -> the SMPL pelvis joint; torso is left out (its height on the spine is
# not defined compatibly with SMPL's spine joints); the hand joint of SMPL (22/23, at
# the knuckles) takes the mean of the index and pinky knuckles; toes and heels,
# nose, eyes and ears use surface landmarks. Finger tips and thumbs are left out.
FIT_CORRESPONDENCE: tuple[tuple[str, str, object], ...] = (
    ("pelvis", "joint", 0), ("left_hip", "joint", 1), ("right_hip", "joint", 2),
    ("left_knee", "joint", 4), ("right_knee", "joint", 5), ("left_ankle", "joint", 7), ("right_ankle", "joint", 8),
    ("neck", "joint", 12), ("left_shoulder", "joint", 16), ("right_shoulder", "joint", 17),
    ("left_elbow", "joint", 18), ("right_elbow", "joint", 19), ("left_wrist", "joint", 20), ("right_wrist", "joint", 21),
    ("left_pinky_knuckle+left_index_knuckle", "joint", 22), ("right_pinky_knuckle+right_index_knuckle", "joint", 23),
    ("nose", "landmark", "nose"), ("left_eye", "landmark", "l_eye"), ("right_eye", "landmark", "r_eye"),
    ("left_ear", "landmark", "l_ear"), ("right_ear", "landmark", "r_ear"),
    ("left_big_toe", "landmark", "l_big_toe"), ("right_big_toe", "landmark", "r_big_toe"),
    ("left_small_toe", "landmark", "l_small_toe"), ("right_small_toe", "landmark", "r_small_toe"),
    ("left_heel", "landmark", "l_heel"), ("right_heel", "landmark", "r_heel"),
)


def skeleton34_targets(joints34: NDArray[np.float64], confidence34: NDArray[np.float64]
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Target points (K, 3) and weights (K,) in FIT_CORRESPONDENCE order from a 34-joint pose."""
    pts = np.zeros((len(FIT_CORRESPONDENCE), 3))
    w = np.zeros(len(FIT_CORRESPONDENCE))
    for i, (src, _, _) in enumerate(FIT_CORRESPONDENCE):
        idx = [BP34[s] for s in src.split("+")]
        pts[i] = joints34[idx].mean(axis=0)
        w[i] = float(np.min(confidence34[idx]))
    return pts, w


def model_points(joints: NDArray[np.float64], landmark_points: NDArray[np.float64]) -> NDArray[np.float64]:
    """The model's points (..., K, 3) in FIT_CORRESPONDENCE order."""
    body25 = body25_from_smpl(joints, landmark_points)
    cols = []
    for _, kind, key in FIT_CORRESPONDENCE:
        cols.append(joints[..., int(key), :] if kind == "joint" else body25[..., BODY25_NAMES.index(str(key)), :])
    return np.stack(cols, axis=-2)


def smpl_points_for_skeleton34(joints: NDArray[np.float64], landmark_points: NDArray[np.float64]
                               ) -> tuple[NDArray[np.float64], list[int]]:
    """Model points (..., K, 3) and the 34-skeleton index each is scored against
    (the first joint of a '+' pair's mean is not used: only single-joint rows)."""
    pts = model_points(joints, landmark_points)
    keep, idx = [], []
    for i, (src, _, _) in enumerate(FIT_CORRESPONDENCE):
        if "+" not in src:
            keep.append(i)
            idx.append(BP34[src])
    return pts[..., keep, :], idx
