"""6-DoF object pose error: translation, rotation, ADD and ADD-S.

ADD (Hinterstoisser et al., ACCV 2012): mean distance between the model's
points under the predicted and the true pose. ADD-S: mean distance from each
point under the true pose to the closest point under the predicted pose
(symmetric objects). A pose counts as correct when ADD(-S) is below a
fraction (usually 10 %) of the model diameter, the BOP/YCB-Video convention.
Poses are 4x4 ``frame_from_object`` matrices in metres.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def translation_error_m(pred: ArrayLike, gt: ArrayLike) -> float:
    p, g = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    return float(np.linalg.norm(p[:3, 3] - g[:3, 3]))


def rotation_error_deg(pred: ArrayLike, gt: ArrayLike) -> float:
    """Geodesic angle between the two rotations, degrees in [0, 180]."""
    p, g = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    r = p[:3, :3].T @ g[:3, :3]
    c = np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0)
    return float(np.degrees(np.arccos(c)))


def _apply(t: NDArray[np.float64], pts: NDArray[np.float64]) -> NDArray[np.float64]:
    return pts @ t[:3, :3].T + t[:3, 3]


def add_m(points: ArrayLike, pred: ArrayLike, gt: ArrayLike) -> float:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    p, g = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    return float(np.linalg.norm(_apply(p, pts) - _apply(g, pts), axis=1).mean())


def adds_m(points: ArrayLike, pred: ArrayLike, gt: ArrayLike, chunk: int = 2048) -> float:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    a = _apply(np.asarray(gt, dtype=np.float64), pts)
    b = _apply(np.asarray(pred, dtype=np.float64), pts)
    best = np.empty(len(a))
    for i in range(0, len(a), chunk):  # bounded memory for dense models
        d = np.linalg.norm(a[i:i + chunk, None, :] - b[None, :, :], axis=2)
        best[i:i + chunk] = d.min(axis=1)
    return float(best.mean())


def diameter_m(points: ArrayLike) -> float:
    """Largest distance between two model points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(pts) < 2:
        return 0.0
    return float(max(np.linalg.norm(pts[i] - pts[i + 1:], axis=1).max(initial=0.0) for i in range(len(pts) - 1)))


def box_model_points(size: ArrayLike, step_m: float = 0.05) -> NDArray[np.float64]:
    """Points on the surface of a box of extents ``size`` centred at the origin
    (a model for ADD when no mesh is available): a grid of about ``step_m``
    on each face, corners included."""
    half = np.asarray(size, dtype=np.float64) / 2.0
    axes = [np.linspace(-h, h, max(2, int(np.ceil(2 * h / step_m)) + 1)) for h in half]
    pts = []
    for ax in range(3):
        u, v = [a for a in range(3) if a != ax]
        uu, vv = np.meshgrid(axes[u], axes[v], indexing="ij")
        for sgn in (-1.0, 1.0):
            p = np.zeros((uu.size, 3))
            p[:, ax] = sgn * half[ax]
            p[:, u] = uu.ravel()
            p[:, v] = vv.ravel()
            pts.append(p)
    return np.unique(np.round(np.concatenate(pts), 9), axis=0)
