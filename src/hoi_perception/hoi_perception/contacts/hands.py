"""21-keypoint hands (MediaPipe Hands order) and the sample points a contact test uses.

Order (as hoi_msgs/Hand3D): 0 wrist; 1-4 thumb CMC, MCP, IP, tip; 5-8 index
MCP, PIP, DIP, tip; 9-12 middle; 13-16 ring; 17-20 pinky.

Until a hand model runs, a hand can be derived from the five hand joints of
the 34-joint skeleton (wrist, thumb tip, index and pinky knuckles, middle
finger tip): the others are interpolated along the fingers. Such hands say
``source = "body-joints"``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hoi_perception.skeleton.bodypose34 import JOINT_INDEX

LEFT, RIGHT = 0, 1
SIDES = ("left", "right")
NUM_HAND_KEYPOINTS = 21
BODY_JOINTS_SOURCE = "body-joints"

# MediaPipe Hands connections (wrist -> each finger chain), used for bone samples and drawing.
HAND_BONES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4),
    (0, 5), (5, 6), (6, 7), (7, 8),
    (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16),
    (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)
# Finger length (MCP -> tip) relative to the middle finger's, adult averages.
_FINGER_LENGTH = {"index": 0.9, "middle": 1.0, "ring": 0.95, "pinky": 0.75}


def hand_from_body_joints(joints: NDArray[np.float64], side: int) -> NDArray[np.float64]:
    """(21, 3) MediaPipe-order keypoints derived from a 34-joint skeleton's hand joints (side 0 = left)."""
    s = SIDES[side]
    j = np.asarray(joints, dtype=np.float64)
    wrist = j[JOINT_INDEX[f"{s}_wrist"]]
    thumb_tip = j[JOINT_INDEX[f"{s}_thumb_tip"]]
    index_mcp = j[JOINT_INDEX[f"{s}_index_knuckle"]]
    pinky_mcp = j[JOINT_INDEX[f"{s}_pinky_knuckle"]]
    middle_tip = j[JOINT_INDEX[f"{s}_middle_tip"]]
    middle_mcp = (index_mcp + pinky_mcp) / 2
    ring_mcp = (middle_mcp + pinky_mcp) / 2
    along = middle_tip - middle_mcp
    length = float(np.linalg.norm(along))
    f = along / length if length > 1e-9 else np.zeros(3)
    out = np.zeros((NUM_HAND_KEYPOINTS, 3))
    out[0] = wrist
    for k, t in enumerate((0.25, 0.5, 0.75, 1.0)):
        out[1 + k] = wrist + t * (thumb_tip - wrist)
    for base, name, mcp in ((5, "index", index_mcp), (9, "middle", middle_mcp), (13, "ring", ring_mcp),
                            (17, "pinky", pinky_mcp)):
        tip_len = length * _FINGER_LENGTH[name]
        out[base] = mcp
        for k, t in enumerate((0.45, 0.75, 1.0)):
            out[base + 1 + k] = mcp + t * tip_len * f
    out[12] = middle_tip
    return out


def hand_sample_points(keypoints: NDArray[np.float64], per_bone: int = 3) -> NDArray[np.float64]:
    """Keypoints plus ``per_bone`` evenly spaced points inside every bone (the hand's skeleton, densely)."""
    k = np.asarray(keypoints, dtype=np.float64)
    a = k[[b[0] for b in HAND_BONES]]
    b = k[[b[1] for b in HAND_BONES]]
    t = (np.arange(1, per_bone + 1) / (per_bone + 1))[None, :, None]
    inner = (a[:, None, :] + t * (b - a)[:, None, :]).reshape(-1, 3)
    return np.concatenate([k, inner])
