"""An object's 3D points from RGB-D inside its 2D box, people excluded.

Only the box's pixels are back-projected (never the full frame): with a
pixel stride chosen so at most ``max_points`` are looked at. The object is
the surface at the depth of the box's centre region, grown as one connected
3D component on a voxel grid, so the floor, table top or wall seen around
the object inside the box fall away where they are not connected to it.
People's pixels (a mask drawn from their skeletons and hands) are removed
first: a hand holding a box is at the box's depth and would otherwise be
part of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage


@dataclass
class ObjectPoints:
    points: NDArray[np.float64]  # (N, 3) metres, camera optical frame
    pixels: NDArray[np.int64]  # (N, 2) u, v of each point
    num_in_box: int  # valid-depth pixels looked at
    num_person: int  # of those, removed as person
    reason: str  # "ok" or why it failed


def box_pixels(box: tuple[float, float, float, float], shape: tuple[int, int],
               max_points: int) -> tuple[NDArray[np.int64], NDArray[np.int64], int]:
    """Pixel grid (rows, cols) inside the box with a stride keeping <= max_points."""
    h, w = shape
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(w - 1, int(np.ceil(box[2]))), min(h - 1, int(np.ceil(box[3])))
    if x1 <= x0 or y1 <= y0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 1
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    stride = max(1, int(np.ceil(np.sqrt(area / max(1, max_points)))))
    return np.arange(y0, y1 + 1, stride), np.arange(x0, x1 + 1, stride), stride


def segment_object(depth: NDArray[np.float32], k: NDArray[np.float64], box: tuple[float, float, float, float],
                   person_mask: NDArray[np.bool_] | None = None, image_size: tuple[int, int] | None = None,
                   max_points: int = 6000, voxel: float = 0.02, centre_fraction: float = 0.4,
                   max_extent: float = 2.5, min_points: int = 20,
                   up: NDArray[np.float64] | None = None) -> ObjectPoints:
    """Points of the object in ``box`` (pixels of the RGB image of size ``image_size`` (W, H);
    the depth image may be smaller, ZED publishes it downscaled). ``k`` is the RGB intrinsics.

    With ``up`` (gravity-opposite unit vector in the camera frame) the lowest
    dense horizontal layer in the box (the floor under a table, the table
    under a cup) is removed before the object is grown: it is what the
    object stands on, seen between its legs or in front of it."""
    dh, dw = depth.shape[:2]
    w, h = image_size if image_size is not None else (dw, dh)
    sx, sy = dw / float(w), dh / float(h)
    dbox = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
    rows, cols, _ = box_pixels(dbox, (dh, dw), max_points)
    empty = ObjectPoints(np.zeros((0, 3)), np.zeros((0, 2), np.int64), 0, 0, "")
    if rows.size == 0 or cols.size == 0:
        empty.reason = "box outside the image"
        return empty
    z = np.asarray(depth[np.ix_(rows, cols)], dtype=np.float64)
    valid = np.isfinite(z) & (z > 0.05)
    n_valid = int(valid.sum())
    n_person = 0
    if person_mask is not None:
        pm = person_mask[np.ix_(np.clip((rows / sy).astype(np.int64), 0, person_mask.shape[0] - 1),
                                np.clip((cols / sx).astype(np.int64), 0, person_mask.shape[1] - 1))]
        n_person = int((valid & pm).sum())
        valid &= ~pm
    if valid.sum() < min_points:
        return ObjectPoints(np.zeros((0, 3)), np.zeros((0, 2), np.int64), n_valid, n_person,
                            "too few valid depth pixels in the box")
    u = (cols[None, :] + 0.5) / sx - 0.5
    v = (rows[:, None] + 0.5) / sy - 0.5
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    x = (u - cx) / fx * z
    y = (v - cy) / fy * z
    if up is not None:
        hgt = np.where(valid, x * up[0] + y * up[1] + z * up[2], np.nan)
        support = _support_layer(hgt[valid])
        if support is not None:
            valid &= ~(np.abs(hgt - support) < 0.03)
            if valid.sum() < min_points:
                return ObjectPoints(np.zeros((0, 3)), np.zeros((0, 2), np.int64), n_valid, n_person,
                                    "only the supporting surface in the box")
    # seed depth: median of the box's centre region (the detector centres boxes on objects)
    rr, cc = np.meshgrid(np.arange(len(rows)), np.arange(len(cols)), indexing="ij")
    cf = (1.0 - centre_fraction) / 2
    centre = (rr >= cf * len(rows)) & (rr <= (1 - cf) * len(rows)) & (cc >= cf * len(cols)) & (cc <= (1 - cf) * len(cols))
    seed_z = z[valid & centre]
    if seed_z.size < 3:
        seed_z = z[valid]
    z0 = float(np.median(seed_z))
    near = valid & (np.abs(z - z0) < max_extent / 2)
    pts = np.stack([np.broadcast_to(x, z.shape)[near], np.broadcast_to(y, z.shape)[near], z[near]], axis=1)
    pix = np.stack([np.broadcast_to(cols[None, :], z.shape)[near], np.broadcast_to(rows[:, None], z.shape)[near]], 1)
    seed_mask = (np.abs(z - z0) < 3 * voxel)[near] & centre[near]
    keep = connected_to_seed(pts, seed_mask, voxel)
    pts, pix = pts[keep], pix[keep]
    if len(pts) < min_points:
        return ObjectPoints(pts, pix, n_valid, n_person, "object component too small")
    return ObjectPoints(pts, pix, n_valid, n_person, "ok")


def _support_layer(heights: NDArray[np.float64], bin_m: float = 0.02, min_fraction: float = 0.12) -> float | None:
    """Height of the lowest horizontal layer holding >= min_fraction of the points, if it is
    the lowest thing in the box (nothing much below it)."""
    if heights.size < 20:
        return None
    lo = float(np.percentile(heights, 1))
    hist, edges = np.histogram(heights, bins=np.arange(lo - bin_m, heights.max() + 2 * bin_m, bin_m))
    dense = np.flatnonzero(hist >= min_fraction * heights.size)
    if dense.size == 0 or dense[0] > 3:  # the dense layer must be at the bottom
        return None
    i = int(dense[0])
    return float(0.5 * (edges[i] + edges[i + 1]))


def connected_to_seed(pts: NDArray[np.float64], seed: NDArray[np.bool_], voxel: float) -> NDArray[np.bool_]:
    """Points whose voxel is 26-connected to a voxel holding a seed point.

    The grid spacing grows with distance so a sparse far object (depth
    pixels spread apart) still connects: at least ~2 pixel footprints."""
    if len(pts) == 0 or not seed.any():
        return np.zeros(len(pts), dtype=bool)
    idx = np.floor((pts - pts.min(0)) / voxel).astype(np.int64)
    dims = idx.max(0) + 1
    if np.prod(dims) > 8_000_000:  # pathological spread: fall back to the depth gate alone
        return np.ones(len(pts), dtype=bool)
    grid = np.zeros(dims, dtype=bool)
    grid[idx[:, 0], idx[:, 1], idx[:, 2]] = True
    labels, _ = ndimage.label(grid, structure=np.ones((3, 3, 3), dtype=bool))
    lab = labels[idx[:, 0], idx[:, 1], idx[:, 2]]
    seed_labels = np.unique(lab[seed])
    seed_labels = seed_labels[seed_labels > 0]
    if seed_labels.size == 0:
        return np.zeros(len(pts), dtype=bool)
    # the biggest component touching the seed (a stray seed voxel must not win)
    counts = np.bincount(lab, minlength=int(lab.max()) + 1)
    best = seed_labels[np.argmax(counts[seed_labels])]
    return lab == best


def person_mask_from_joints(shape: tuple[int, int], skeletons: list[tuple[NDArray[np.float64], NDArray[np.float64]]],
                            hands: list[NDArray[np.float64]] | None = None, min_confidence: float = 0.3,
                            limb_fraction: float = 0.35) -> NDArray[np.bool_]:
    """A person mask drawn from 2D skeletons (34-joint joints_2d, confidence) and hand keypoints.

    Limbs are drawn as thick lines, ``limb_fraction`` of the shoulder width
    (a stand-in for a real segmentation mask that works from the body pose
    message alone); hands are their keypoints' convex hull, dilated."""
    from hoi_perception.skeleton.bodypose34 import BONES, JOINT_INDEX

    h, w = shape
    mask = np.zeros((h, w), dtype=np.uint8)
    for j2d, conf in skeletons:
        j2d = np.asarray(j2d, dtype=np.float64)
        conf = np.asarray(conf, dtype=np.float64)
        sw = np.hypot(*(j2d[JOINT_INDEX["left_shoulder"]] - j2d[JOINT_INDEX["right_shoulder"]]))
        if not np.isfinite(sw) or sw < 4:
            ok = np.isfinite(j2d).all(1) & (conf >= min_confidence)
            sw = 0.25 * float(np.ptp(j2d[ok, 1])) if ok.sum() >= 2 else 10.0
        thick = int(min(max(3, limb_fraction * sw), 255))  # cv2 refuses > 32767; wild joints must not crash
        for a, b in BONES:
            if conf[a] >= min_confidence and conf[b] >= min_confidence and np.isfinite(j2d[[a, b]]).all():
                cv2.line(mask, tuple(int(round(v)) for v in j2d[a]), tuple(int(round(v)) for v in j2d[b]), 1, thick)
        torso = [JOINT_INDEX[n] for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")]
        if (conf[torso] >= min_confidence).all() and np.isfinite(j2d[torso]).all():
            cv2.fillConvexPoly(mask, np.round(j2d[torso]).astype(np.int32), 1)
    for kp in hands or []:
        kp = np.asarray(kp, dtype=np.float64)
        if np.isfinite(kp).all() and len(kp) >= 3:
            hull = cv2.convexHull(np.round(kp).astype(np.int32))
            cv2.fillConvexPoly(mask, hull, 1)
            span = float(np.ptp(kp, axis=0).max())
            r = max(2, int(0.15 * span))
            for p in kp:
                cv2.circle(mask, (int(round(p[0])), int(round(p[1]))), r, 1, -1)
    return mask.astype(bool)
