"""Body frames derived from 34-joint skeletons (for TF).

A human's root frame sits at the pelvis with REP 103 body axes: x forward
(the way the chest faces), y to the person's left, z up the spine. Hand
frames sit at the wrists with the root's orientation (the skeleton has no
hand orientation to offer that the fingertips do not make noisy).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hoi_perception.skeleton.bodypose34 import JOINT_INDEX

_PELVIS, _LHIP, _RHIP, _NECK = (JOINT_INDEX[n] for n in ("pelvis", "left_hip", "right_hip", "neck"))
_LWRIST, _RWRIST = JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]


def root_frame(joints: NDArray[np.floating]) -> NDArray[np.float64] | None:
    """4x4 pose of the pelvis frame in the joints' frame, or None if the hips
    and neck are degenerate (coincident or non-finite)."""
    j = np.asarray(joints, dtype=np.float64)
    y = j[_LHIP] - j[_RHIP]
    z = j[_NECK] - j[_PELVIS]
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(z))):
        return None
    ny = np.linalg.norm(y)
    if ny < 1e-6:
        return None
    y /= ny
    z = z - np.dot(z, y) * y  # Gram-Schmidt: keep y (hip line), make z orthogonal
    nz = np.linalg.norm(z)
    if nz < 1e-6:
        return None
    z /= nz
    x = np.cross(y, z)
    out = np.eye(4)
    out[:3, 0], out[:3, 1], out[:3, 2], out[:3, 3] = x, y, z, j[_PELVIS]
    return out


def hand_frames(joints: NDArray[np.floating], root: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """{"left_hand": 4x4, "right_hand": 4x4} at the wrists, root orientation."""
    j = np.asarray(joints, dtype=np.float64)
    out = {}
    for name, idx in (("left_hand", _LWRIST), ("right_hand", _RWRIST)):
        if np.all(np.isfinite(j[idx])):
            m = root.copy()
            m[:3, 3] = j[idx]
            out[name] = m
    return out
