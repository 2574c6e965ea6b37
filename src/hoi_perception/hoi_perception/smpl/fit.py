"""Fit SMPL parameters to the body pose node's 34 3D joints.

Unknowns: global orientation (3), body pose (23 x 3 axis-angle), betas
(10), translation (3). Residuals: confidence-weighted distances between the
model's points and the observed joints in the documented correspondence
(smpl/landmarks.py FIT_CORRESPONDENCE), a pose prior (L2 on the body
axis-angles: the zero pose is the mean), a shape prior (L2 on betas: the
mean shape), and, when warm-started, a temporal term to the previous
frame's parameters. Solved by scipy's trust-region least squares with a
Huber loss on the joint residuals (robust to a wrong joint) and a Jacobian
by forward differences evaluated as one batched forward kinematics.

The first frame is initialised by a rigid (Kabsch) alignment of the rest
torso (hips, shoulders, pelvis, neck) to the observation; later frames start
from the previous frame's solution (warm start) and take fewer iterations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from hoi_perception.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from hoi_perception.smpl.landmarks import FIT_CORRESPONDENCE, landmark_vertex_ids, model_points, skeleton34_targets
from hoi_perception.smpl.model import NUM_BETAS, NUM_JOINTS, SmplModel

N_PARAMS = NUM_JOINTS * 3 + NUM_BETAS + 3
_TORSO = ("pelvis", "left_hip", "right_hip", "neck", "left_shoulder", "right_shoulder")


@dataclass
class SmplParams:
    """SMPL parameters of one frame (camera optical frame)."""

    pose: NDArray[np.float64]      # (72,) axis-angle, joint 0 = global orientation
    betas: NDArray[np.float64]     # (10,)
    transl: NDArray[np.float64]    # (3,)

    def vector(self) -> NDArray[np.float64]:
        return np.concatenate([self.pose, self.betas, self.transl])

    @staticmethod
    def from_vector(x: NDArray[np.float64]) -> SmplParams:
        return SmplParams(x[:72].copy(), x[72:82].copy(), x[82:85].copy())

    def rotmats(self) -> NDArray[np.float64]:
        return axis_angle_to_matrix(self.pose.reshape(NUM_JOINTS, 3))


@dataclass
class FitResult:
    params: SmplParams
    rms_m: float          # weighted RMS joint residual after the fit
    iterations: int
    seconds: float
    warm_started: bool


@dataclass(frozen=True)
class FitConfig:
    pose_prior: float = 0.02      # weight (m per rad) of the L2 pose prior
    shape_prior: float = 0.01     # weight (m per unit beta) of the L2 shape prior
    temporal: float = 0.05        # weight (m per unit) of the pull to the previous frame
    huber_m: float = 0.04         # Huber scale of the joint residuals
    min_confidence: float = 0.2   # joints below this are ignored
    max_nfev_cold: int = 20
    max_nfev_warm: int = 5
    fd_step: float = 1e-4


class SmplJointFitter:
    """Robust least-squares SMPL fit to 34-joint poses, warm-started per track."""

    def __init__(self, model: SmplModel, config: FitConfig | None = None) -> None:
        self.model = model
        self.cfg = config or FitConfig()
        self.vertex_ids = landmark_vertex_ids(model.num_vertices, model.landmarks_body25)
        self._previous: dict[int, SmplParams] = {}

    def reset(self, track_id: int | None = None) -> None:
        if track_id is None:
            self._previous.clear()
        else:
            self._previous.pop(track_id, None)

    def points(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Model points (..., K, 3) for parameter vectors (..., 85)."""
        rot = axis_angle_to_matrix(x[..., :72].reshape(x.shape[:-1] + (NUM_JOINTS, 3)))
        joints, verts = self.model.joints_and_vertices(rot, x[..., 72:82], x[..., 82:85], self.vertex_ids)
        return model_points(joints, verts)

    def initial_guess(self, targets: NDArray[np.float64], weights: NDArray[np.float64]) -> NDArray[np.float64]:
        """Rigid Kabsch alignment of the rest torso to the observed torso."""
        x = np.zeros(N_PARAMS)
        rest = self.points(x)
        names = [src for src, _, _ in FIT_CORRESPONDENCE]
        idx = [names.index(n) for n in _TORSO if weights[names.index(n)] > 0]
        if len(idx) < 3:
            idx = list(np.flatnonzero(weights > 0))
        a, b = rest[idx], targets[idx]
        ca, cb = a.mean(axis=0), b.mean(axis=0)
        u, _, vt = np.linalg.svd((a - ca).T @ (b - cb))
        d = np.sign(np.linalg.det(vt.T @ u.T))
        r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
        j0 = self.model.j_template[0]
        x[:3] = matrix_to_axis_angle(r)
        # joints = R (J - J0) + J0 + transl must map ca -> cb
        x[82:85] = cb - r @ (ca - j0) - j0
        return x

    def fit(self, joints34: NDArray[np.float64], confidence34: NDArray[np.float64], track_id: int = 0,
            warm_start: bool = True) -> FitResult:
        """Fit one frame; the result becomes the warm start of ``track_id``'s next frame."""
        t0 = time.perf_counter()
        cfg = self.cfg
        targets, w = skeleton34_targets(np.asarray(joints34, np.float64), np.asarray(confidence34, np.float64))
        w = np.where((w >= cfg.min_confidence) & np.all(np.isfinite(targets), axis=1), w, 0.0)
        targets = np.nan_to_num(targets)
        if np.count_nonzero(w) < 4:
            raise ValueError(f"only {np.count_nonzero(w)} usable joints (need 4)")
        prev = self._previous.get(track_id) if warm_start else None
        x0 = prev.vector() if prev is not None else self.initial_guess(targets, w)
        sw = np.sqrt(w)[:, None]
        n_res = targets.size
        pose_w, shape_w, temp_w = cfg.pose_prior, cfg.shape_prior, (cfg.temporal if prev is not None else 0.0)

        def residuals_batch(xb: NDArray[np.float64]) -> NDArray[np.float64]:
            pts = self.points(xb)
            r_j = ((pts - targets) * sw).reshape(xb.shape[0], n_res)
            parts = [r_j, pose_w * xb[:, 3:72], shape_w * xb[:, 72:82]]
            if temp_w:
                parts.append(temp_w * (xb - x0))
            return np.concatenate(parts, axis=1)

        def fun(x: NDArray[np.float64]) -> NDArray[np.float64]:
            return residuals_batch(x[None])[0]

        def jac(x: NDArray[np.float64]) -> NDArray[np.float64]:
            h = cfg.fd_step
            xb = np.repeat(x[None], N_PARAMS + 1, axis=0)
            xb[1:] += np.eye(N_PARAMS) * h
            r = residuals_batch(xb)
            return ((r[1:] - r[0]) / h).T

        # Huber on every residual; the priors are small, so only large joint misses are down-weighted
        sol = least_squares(fun, x0, jac=jac, method="trf", loss="huber", f_scale=cfg.huber_m,
                            max_nfev=cfg.max_nfev_warm if prev is not None else cfg.max_nfev_cold)
        params = SmplParams.from_vector(sol.x)
        self._previous[track_id] = params
        pts = self.points(sol.x[None])[0]
        d2 = np.sum((pts - targets) ** 2, axis=1)
        rms = float(np.sqrt(np.sum(w * d2) / max(np.sum(w), 1e-9)))
        return FitResult(params, rms, int(sol.nfev), time.perf_counter() - t0, prev is not None)
