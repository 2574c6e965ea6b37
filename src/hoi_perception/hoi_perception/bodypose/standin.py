"""Engine stand-in for BodyPose3DNet: ground truth in the contract's layout.

The BodyPose3DNet weights are not downloadable here, so geometry tests run
the real adapter against this stand-in. It knows the true camera K and the
true camera-frame joints of every person (from the synthetic scene), and
answers ``run(inputs)`` the way the network would for each crop:

* ``pose2d``: the true joints projected with the *true* K, mapped into the crop
  with the crop transform (inverse of the ``t_form_inv`` input), plus noise;
* ``pose25d``: those crop pixels, zRel = (z_j - z_pelvis) / S with S the
  person's own mm-per-normalised-unit (so the network's mean-limb scale is
  off by the person's deviation from the mean, as with a real network);
* ``pose2d_org_img``: pose2d mapped through ``t_form_inv``;
* ``pose3d``: the true camera-frame joints in millimetres, i.e. what a perfect
  network outputs. It reads neither ``k_inv`` nor the adapter's lifting code, so
  it makes no assumption about how the real network uses ``k_inv`` (issue 11
  point 2: the earlier stand-in built pose3d from the adapter's own k_inv
  convention and lift, so nothing tested either). The one thing it takes from
  the inputs is where the crop is (``t_form_inv``, the crop->image map of the
  keypoints), which any network's pose2d/pose25d pixels depend on by
  definition; ``test_bodypose_fidelity`` checks that map against the warped
  pixels independently.

``backend_name`` starts with "stand-in:", and results derived from it say so.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hoi_perception.bodypose.bodypose3dnet import (
    INPUT_H,
    INPUT_W,
    LIMB_IDX0,
    LIMB_IDX1,
    LIMB_LENGTH_NORM,
)
from hoi_perception.geometry.camera import project_points
from hoi_perception.skeleton.bodypose34 import JOINT_INDEX, NUM_JOINTS


class StandInBodyPose3DNetEngine:
    backend_name = "stand-in:bodypose3dnet-ground-truth-projection"

    def __init__(self, k_true: NDArray[np.float64], pixel_noise: float = 1.0, zrel_noise: float = 0.01,
                 seed: int = 0) -> None:
        self.k_true = np.asarray(k_true, dtype=np.float64)
        self.pixel_noise = pixel_noise
        self.zrel_noise = zrel_noise
        self.rng = np.random.default_rng(seed)
        self.people = np.zeros((0, NUM_JOINTS, 3))

    def set_people(self, joints_cam_m: NDArray[np.float64]) -> None:
        """True joints (P, 34, 3), metres, optical frame, for the coming frame."""
        self.people = np.asarray(joints_cam_m, dtype=np.float64).reshape(-1, NUM_JOINTS, 3)

    def _pick(self, a: NDArray[np.float64]) -> int | None:
        best, best_key = None, None
        for p, joints in enumerate(self.people):
            if np.any(joints[:, 2] <= 0):
                continue
            uv = project_points(self.k_true, joints) @ a[:2, :2].T + a[:2, 2]
            inside = np.mean((uv[:, 0] >= 0) & (uv[:, 0] < INPUT_W) & (uv[:, 1] >= 0) & (uv[:, 1] < INPUT_H))
            centre = np.hypot(*(uv[JOINT_INDEX["pelvis"]] - [INPUT_W / 2, INPUT_H / 2]))
            key = (inside, -centre)
            # a crop showing less than half of someone is nobody's: all-zero confidence
            if inside >= 0.5 and (best_key is None or key > best_key):
                best, best_key = p, key
        return best

    def run(self, inputs: dict[str, NDArray[np.float32]]) -> dict[str, NDArray[np.float32]]:
        t_inv = np.asarray(inputs["t_form_inv"], dtype=np.float64)
        n = t_inv.shape[0]
        pose2d = np.zeros((n, NUM_JOINTS, 3), dtype=np.float32)
        pose2d_org = np.zeros((n, NUM_JOINTS, 3), dtype=np.float32)
        pose25d = np.zeros((n, NUM_JOINTS, 4), dtype=np.float32)
        pose3d = np.zeros((n, NUM_JOINTS, 3), dtype=np.float32)
        for i in range(n):
            a = np.linalg.inv(t_inv[i])
            p = self._pick(a)
            if p is None:
                continue
            joints_mm = self.people[p] * 1000.0
            uv_img = project_points(self.k_true, joints_mm)
            uv_crop = uv_img @ a[:2, :2].T + a[:2, 2]
            uv_crop += self.rng.normal(0.0, self.pixel_noise, uv_crop.shape)
            inside = (uv_crop[:, 0] >= 0) & (uv_crop[:, 0] < INPUT_W) & (uv_crop[:, 1] >= 0) & (uv_crop[:, 1] < INPUT_H)
            conf = np.where(inside, 0.9, 0.2)
            lengths = np.linalg.norm(joints_mm[LIMB_IDX0] - joints_mm[LIMB_IDX1], axis=1)
            s_person = float(lengths @ LIMB_LENGTH_NORM / (LIMB_LENGTH_NORM @ LIMB_LENGTH_NORM))
            z_rel = (joints_mm[:, 2] - joints_mm[JOINT_INDEX["pelvis"], 2]) / s_person
            z_rel += self.rng.normal(0.0, self.zrel_noise, z_rel.shape)
            z_rel[JOINT_INDEX["pelvis"]] = 0.0
            uv_org = uv_crop @ t_inv[i, :2, :2].T + t_inv[i, :2, 2]
            pose2d[i] = np.column_stack([uv_crop, conf])
            pose2d_org[i] = np.column_stack([uv_org, conf])
            pose25d[i] = np.column_stack([uv_crop, z_rel, conf])
            pose3d[i] = joints_mm
        return {"pose2d": pose2d, "pose2d_org_img": pose2d_org, "pose25d": pose25d, "pose3d": pose3d}


def standing_skeleton(height_scale: float = 1.0) -> NDArray[np.float64]:
    """A standing person facing the camera, (34, 3) metres, pelvis at the origin,
    camera-aligned axes (x right in the image = the person's left, y down,
    z away from the camera). For tests and stand-ins."""
    from hoi_perception.skeleton.bodypose34 import JOINT_NAMES

    pts = {
        "pelvis": (0, 0, 0), "left_hip": (0.1, 0.02, 0), "right_hip": (-0.1, 0.02, 0),
        "torso": (0, -0.246, 0), "neck": (0, -0.49, 0), "left_knee": (0.1, 0.45, 0), "right_knee": (-0.1, 0.45, 0),
        "left_ankle": (0.1, 0.87, 0.02), "right_ankle": (-0.1, 0.87, 0.02),
        "left_big_toe": (0.08, 0.93, -0.15), "right_big_toe": (-0.08, 0.93, -0.15),
        "left_small_toe": (0.14, 0.93, -0.12), "right_small_toe": (-0.14, 0.93, -0.12),
        "left_heel": (0.1, 0.93, 0.06), "right_heel": (-0.1, 0.93, 0.06),
        "nose": (0, -0.62, -0.1), "left_eye": (0.035, -0.66, -0.08), "right_eye": (-0.035, -0.66, -0.08),
        "left_ear": (0.075, -0.64, 0), "right_ear": (-0.075, -0.64, 0),
        "left_shoulder": (0.18, -0.46, 0), "right_shoulder": (-0.18, -0.46, 0),
        "left_elbow": (0.2, -0.18, 0), "right_elbow": (-0.2, -0.18, 0),
        "left_wrist": (0.21, 0.07, 0), "right_wrist": (-0.21, 0.07, 0),
        "left_pinky_knuckle": (0.23, 0.15, 0), "right_pinky_knuckle": (-0.23, 0.15, 0),
        "left_middle_tip": (0.21, 0.24, 0), "right_middle_tip": (-0.21, 0.24, 0),
        "left_index_knuckle": (0.2, 0.15, -0.02), "right_index_knuckle": (-0.2, 0.15, -0.02),
        "left_thumb_tip": (0.17, 0.14, -0.05), "right_thumb_tip": (-0.17, 0.14, -0.05),
    }
    return np.array([pts[n] for n in JOINT_NAMES], dtype=np.float64) * height_scale
