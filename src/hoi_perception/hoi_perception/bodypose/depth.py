"""Metric placement of a monocular skeleton, and its correction with depth.

A monocular pose is known up to a scale along the camera rays: scaling all
camera-frame joints by ``s`` about the optical centre leaves every projection
unchanged. Without depth the scale comes from the network (BodyPose3DNet:
mean limb lengths; BlazePose: its metric world landmarks). With a registered
depth image (ZED ``depth/depth_registered``) we measure it: at each confident
visible joint the surface depth plus a per-joint offset (the joint centre lies
behind the skin) divided by the predicted joint depth is one estimate of
``s``; the median of those, refined on its inliers, is robust to joints
occluded by an object or falling on the background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hoi_perception.skeleton.bodypose34 import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS


def _surface_offsets() -> NDArray[np.float64]:
    # Approximate depth of each joint centre behind the visible skin, metres:
    # roughly half the thickness of the body part at that joint (adult
    # anthropometry); face points are on the skin. A heuristic, not measured.
    off = np.full(NUM_JOINTS, 0.03)
    for name in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"):
        off[JOINT_INDEX[name]] = 0.0
    for name in ("pelvis", "torso", "left_hip", "right_hip"):
        off[JOINT_INDEX[name]] = 0.08
    for name in ("neck", "left_shoulder", "right_shoulder", "left_knee", "right_knee"):
        off[JOINT_INDEX[name]] = 0.05
    for name in JOINT_NAMES:
        if name.endswith(("_tip", "_knuckle", "_toe", "_heel")):
            off[JOINT_INDEX[name]] = 0.01
    return off


SURFACE_OFFSET_M: NDArray[np.float64] = _surface_offsets()


@dataclass
class DepthCorrection:
    used: bool
    scale: float
    num_joints: int
    reason: str


def sample_depth(depth: NDArray[np.float32], uv: NDArray[np.float64], image_size: tuple[int, int],
                 window: int = 2) -> NDArray[np.float64]:
    """Median valid depth in a (2*window+1)^2 patch around each pixel uv (N, 2).

    ``image_size`` (W, H) is the size of the image uv refers to; the depth
    image may have another resolution (ZED can publish depth downscaled).
    Returns NaN where no valid depth.
    """
    dh, dw = depth.shape[:2]
    w, h = image_size
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    with np.errstate(invalid="ignore"):
        cu = np.round((uv[:, 0] + 0.5) * (dw / float(w)) - 0.5)
        cv = np.round((uv[:, 1] + 0.5) * (dh / float(h)) - 0.5)
    inside = np.isfinite(cu) & np.isfinite(cv) & (cu >= 0) & (cv >= 0) & (cu < dw) & (cv < dh)
    out = np.full(len(uv), np.nan)
    if not inside.any():
        return out
    # all patches at once: (n, (2w+1)^2) gathered with clipped indices, invalid -> NaN
    off = np.arange(-window, window + 1)
    rows = np.clip(cv[inside, None, None].astype(np.int64) + off[None, :, None], 0, dh - 1)
    cols = np.clip(cu[inside, None, None].astype(np.int64) + off[None, None, :], 0, dw - 1)
    vals = np.asarray(depth[rows, cols], dtype=np.float64).reshape(int(inside.sum()), -1)
    vals[~(np.isfinite(vals) & (vals > 0))] = np.nan
    has = np.isfinite(vals).any(axis=1)
    med = np.full(len(vals), np.nan)
    if has.any():
        med[has] = np.nanmedian(vals[has], axis=1)
    out[inside] = med
    return out


def correct_scale_with_depth(
    joints_cam: NDArray[np.float64],
    joints_2d: NDArray[np.float64],
    confidence: NDArray[np.float64],
    depth: NDArray[np.float32] | None,
    image_size: tuple[int, int],
    derived: NDArray[np.bool_] | None = None,
    min_confidence: float = 0.5,
    min_joints: int = 4,
    inlier_rel: float = 0.08,
    scale_bounds: tuple[float, float] = (0.5, 2.0),
) -> tuple[NDArray[np.float64], DepthCorrection]:
    """Rescale a camera-frame skeleton (34, 3) so its depth agrees with ``depth``.

    Returns the corrected joints (unchanged when depth is unusable) and what
    happened. Derived joints and joints under ``min_confidence`` are not
    sampled. The correction scales about the optical centre, so 2D
    projections are preserved exactly.
    """
    joints_cam = np.asarray(joints_cam, dtype=np.float64)
    if depth is None:
        return joints_cam, DepthCorrection(False, 1.0, 0, "no depth image")
    ok = np.asarray(confidence) >= min_confidence
    if derived is not None:
        ok &= ~np.asarray(derived, dtype=bool)
    ok &= joints_cam[:, 2] > 0.05
    if ok.sum() < min_joints:
        return joints_cam, DepthCorrection(False, 1.0, int(ok.sum()), "too few confident joints")
    idx = np.flatnonzero(ok)
    d = sample_depth(depth, joints_2d[idx], image_size)
    good = np.isfinite(d)
    idx, d = idx[good], d[good]
    if idx.size < min_joints:
        return joints_cam, DepthCorrection(False, 1.0, int(idx.size), "too few joints with valid depth")
    ratios = (d + SURFACE_OFFSET_M[idx]) / joints_cam[idx, 2]
    s = float(np.median(ratios))
    # one refinement on the inliers: drops joints whose depth hit an occluder
    inl = np.abs(ratios - s) <= inlier_rel * s
    if inl.sum() < min_joints:
        return joints_cam, DepthCorrection(False, 1.0, int(inl.sum()), "depth disagrees between joints")
    s = float(np.median(ratios[inl]))
    if not (scale_bounds[0] <= s <= scale_bounds[1]):
        return joints_cam, DepthCorrection(False, 1.0, int(inl.sum()), f"implausible depth scale {s:.2f}")
    return joints_cam * s, DepthCorrection(True, s, int(inl.sum()), "ok")


def place_root_relative(
    rel: NDArray[np.float64],
    joints_2d: NDArray[np.float64],
    weights: NDArray[np.float64],
    k: NDArray[np.float64],
    min_depth: float = 0.2,
) -> tuple[NDArray[np.float64], bool]:
    """Translate a metric root-relative skeleton (J, 3), axes aligned with the
    camera, so it projects onto ``joints_2d`` (J, 2): weighted linear least
    squares in t of  (X+tx) - x_n (Z+tz) = 0,  (Y+ty) - y_n (Z+tz) = 0.

    Returns camera-frame joints and whether the solve was well posed.
    """
    k = np.asarray(k, dtype=np.float64)
    xn = (joints_2d[:, 0] - k[0, 2] - k[0, 1] * (joints_2d[:, 1] - k[1, 2]) / k[1, 1]) / k[0, 0]
    yn = (joints_2d[:, 1] - k[1, 2]) / k[1, 1]
    w = np.sqrt(np.clip(np.asarray(weights, dtype=np.float64), 0.0, None))
    ok = np.isfinite(xn) & np.isfinite(yn) & np.all(np.isfinite(rel), axis=1) & (w > 0)
    if ok.sum() < 3:
        return rel + np.array([0.0, 0.0, 3.0]), False
    xn, yn, w, r = xn[ok], yn[ok], w[ok], rel[ok]
    n = len(xn)
    a = np.zeros((2 * n, 3))
    b = np.zeros(2 * n)
    a[:n, 0], a[:n, 2], b[:n] = 1.0, -xn, xn * r[:, 2] - r[:, 0]
    a[n:, 1], a[n:, 2], b[n:] = 1.0, -yn, yn * r[:, 2] - r[:, 1]
    a *= np.concatenate([w, w])[:, None]
    b *= np.concatenate([w, w])
    t, *_ = np.linalg.lstsq(a, b, rcond=None)
    if not np.all(np.isfinite(t)) or t[2] < min_depth:
        return rel + np.array([0.0, 0.0, max(min_depth, 3.0)]), False
    return rel + t, True
