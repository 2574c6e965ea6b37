"""3D pose error: MPJPE in millimetres over the joints both sides have."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def mpjpe_mm(pred: ArrayLike, gt: ArrayLike, valid: ArrayLike | None = None) -> float:
    """Mean per-joint position error (mm) between (J, 3) poses in metres, in
    the same frame, over ``valid`` joints (and finite ones). NaN if none."""
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    ok = np.isfinite(p).all(axis=1) & np.isfinite(g).all(axis=1)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    if not ok.any():
        return float("nan")
    return float(np.linalg.norm(p[ok] - g[ok], axis=1).mean() * 1000.0)


def root_relative_mpjpe_mm(pred: ArrayLike, gt: ArrayLike, root: int = 0, valid: ArrayLike | None = None) -> float:
    """MPJPE after moving both poses' root joint (pelvis) to the origin: the
    articulation error without the global position error."""
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    return mpjpe_mm(p - p[root], g - g[root], valid)


def match_by_root(pred_roots: NDArray[np.float64], gt_roots: NDArray[np.float64], max_dist_m: float = 1.0) -> list[tuple[int, int]]:
    """Greedy nearest-root pairs (pred index, gt index) within ``max_dist_m``."""
    pairs: list[tuple[int, int]] = []
    if len(pred_roots) == 0 or len(gt_roots) == 0:
        return pairs
    d = np.linalg.norm(pred_roots[:, None, :] - gt_roots[None, :, :], axis=2)
    used_p, used_g = set(), set()
    for flat in np.argsort(d, axis=None):
        i, j = np.unravel_index(flat, d.shape)
        if d[i, j] > max_dist_m:
            break
        if i in used_p or j in used_g:
            continue
        pairs.append((int(i), int(j)))
        used_p.add(i)
        used_g.add(j)
    return pairs


def procrustes_align(pred: ArrayLike, gt: ArrayLike) -> NDArray[np.float64]:
    """``pred`` moved onto ``gt`` by the similarity transform (scale, rotation,
    translation) minimising the squared error (Umeyama 1991; the PA in
    PA-MPJPE). Reflections are excluded. Both (J, 3), all rows finite."""
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    mp, mg = p.mean(axis=0), g.mean(axis=0)
    p0, g0 = p - mp, g - mg
    var_p = float((p0 ** 2).sum())
    if var_p < 1e-18:
        return np.broadcast_to(mg, p.shape).copy()
    u, s, vt = np.linalg.svd(g0.T @ p0)
    d = np.ones(3)
    if np.linalg.det(u @ vt) < 0:
        d[-1] = -1.0
    r = u @ np.diag(d) @ vt
    scale = float((s * d).sum() / var_p)
    return scale * p0 @ r.T + mg


def pa_mpjpe_mm(pred: ArrayLike, gt: ArrayLike, valid: ArrayLike | None = None) -> float:
    """MPJPE (mm) after Procrustes alignment over the valid, finite joints
    (at least 3 needed, else NaN): the articulation error without global
    position, orientation and scale."""
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    ok = np.isfinite(p).all(axis=1) & np.isfinite(g).all(axis=1)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    if ok.sum() < 3:
        return float("nan")
    return mpjpe_mm(procrustes_align(p[ok], g[ok]), g[ok])
