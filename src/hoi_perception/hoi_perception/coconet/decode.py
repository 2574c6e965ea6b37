"""CoCoNet tensors: window frames -> contract inputs, outputs -> refined estimates.

The outputs are applied as CARI4D applies them (contracts/coconet.yaml v2):

* human, NVlabs/CARI4D learning/training/trainer.py smpl_params_from_pred:
  ``R_j = rot6d_to_rotmat(hum_pose_j) @ R_init_j`` (6D = first two columns),
  ``transl = transl_init + hum_trans``, ``betas = betas_init + hum_shape``;
* object translation, trainer.py abspose_from_relative and
  Utils.egocentric_delta_pose_to_pose: ``t = t_init + trans * mesh_diameter / 2``;
* object rotation: ``object_rotation="delta"`` (scripts/demo.sh runs
  run_horefine.py with use_intermediate=True):
  ``R = exp(rot * rot_normalizer)^T @ R_init`` (PyTorch3D's so3_exp_map, which
  trainer.py calls, is Rodrigues with the standard hat operator,
  facebookresearch/pytorch3d pytorch3d/transforms/so3.py, so exp = axis-angle
  to matrix; the trainer's target is ``so3_log_map(delta_rot^T) / rot_normalizer``); ``"abs"`` (trainer.py
  compute_abspose for loss l1-absrot-delta-hum): ``R = rot6d_to_rotmat(rot_abs)``;
* contacts: logit > 0 (trainer.py contact accuracy ``cont_pred > 0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hoi_perception.coconet.window import WindowFrame
from hoi_perception.engine.contract import Contract
from hoi_perception.geometry.rotations import axis_angle_to_matrix, rotation_6d_columns_to_matrix

OBJECT_ROTATION_MODES = ("delta", "abs")


@dataclass
class RefinedFrame:
    """The refined estimate of one frame (camera optical frame)."""

    stamp_ns: int
    smpl_rotmats: NDArray[np.float64]   # (24, 3, 3)
    betas: NDArray[np.float64]          # (10,)
    transl: NDArray[np.float64]         # (3,)
    obj_pose: NDArray[np.float64]       # (4, 4)
    contact_logits: NDArray[np.float64]  # (2,) [left, right]

    @property
    def contact_prob(self) -> NDArray[np.float64]:
        return 1.0 / (1.0 + np.exp(-self.contact_logits))

    @property
    def contact(self) -> NDArray[np.bool_]:
        return self.contact_logits > 0.0


def assemble_inputs(frames: list[WindowFrame]) -> dict[str, np.ndarray]:
    """Contract inputs for a window of frames (T = len(frames))."""
    def seq(name: str) -> np.ndarray:  # (T, 2, H, W, C) -> (2, T, C, H, W)
        return np.ascontiguousarray(np.stack([getattr(f, name) for f in frames]).transpose(1, 0, 4, 2, 3),
                                    dtype=np.float32)

    return {
        "rgb": seq("rgb"), "xyz": seq("xyz"), "masks": seq("masks"),
        "obj_pose_init": np.stack([f.estimate.obj_pose for f in frames]).astype(np.float32),
        "body_joints_init": np.stack([f.estimate.body25 for f in frames]).astype(np.float32),
        "mesh_diameter": np.array([f.estimate.mesh_diameter for f in frames], dtype=np.float32),
    }


def decode(outputs: dict[str, np.ndarray], frames: list[WindowFrame], contract: Contract,
           object_rotation: str = "delta") -> list[RefinedFrame]:
    """Apply the network's outputs to each frame's initial estimate."""
    if object_rotation not in OBJECT_ROTATION_MODES:
        raise ValueError(f"object_rotation must be one of {OBJECT_ROTATION_MODES}, got {object_rotation!r}")
    t = len(frames)
    rot_norm = float(contract.outputs["rot"].conventions["rot_normalizer"])
    d_pose = rotation_6d_columns_to_matrix(np.asarray(outputs["hum_pose"], np.float64).reshape(t, 24, 6))
    d_shape = np.asarray(outputs["hum_shape"], np.float64)
    d_trans = np.asarray(outputs["hum_trans"], np.float64)
    o_trans = np.asarray(outputs["trans"], np.float64)
    if object_rotation == "delta":
        d_rot = np.swapaxes(axis_angle_to_matrix(np.asarray(outputs["rot"], np.float64) * rot_norm), -1, -2)
    else:
        r_abs = rotation_6d_columns_to_matrix(np.asarray(outputs["rot_abs"], np.float64))
    logits = np.asarray(outputs["contact"], np.float64)
    out = []
    for i, f in enumerate(frames):
        e = f.estimate
        pose = e.obj_pose.copy()
        pose[:3, 3] = e.obj_pose[:3, 3] + o_trans[i] * e.mesh_diameter / 2.0
        pose[:3, :3] = d_rot[i] @ e.obj_pose[:3, :3] if object_rotation == "delta" else r_abs[i]
        out.append(RefinedFrame(f.stamp_ns, d_pose[i] @ e.smpl_rotmats, e.betas + d_shape[i], e.transl + d_trans[i],
                                pose, logits[i].copy()))
    return out
