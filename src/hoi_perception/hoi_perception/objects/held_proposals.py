"""Class-agnostic proposals for objects held in a hand, from depth.

A detector finds only what it was trained on (the Objectron SSD has no
carton, the COCO detectors no tool of a given shape), yet the object a
person holds is the one a teleoperation or data-collection user needs
most. In depth it is easy to see without a class: a compact surface that
touches the hand, is not the person, and ends within reach of the hand
(a table, the floor or a wall next to a free hand continue beyond it).

Per hand (its 21 keypoints, or the body skeleton's wrist and knuckles):
the hand's depth is the median around its pixels; the image window that
covers ``reach_m`` around it is back-projected, people's pixels removed;
the surface within ``touch_m`` of the hand seeds a 3D connected component
(voxel grid, as objects/segmentation.py grows detector boxes). The
component is kept as a held object when it has enough points, stays
within ``reach_m`` of the hand (few points in the outer shell), is more
than a sliver, does not mostly hug the person's outline (body the
skeleton-drawn person mask missed) and is not already covered by a detector box or another hand's proposal. The result is an ObjectDetection of
class ``held_object`` whose 2D box is the component's, so the rest of the
pipeline (segmentation, OBB pose, tracking, contacts) treats it as any
detection.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception.objects.detector import ObjectDetection
from hoi_perception.objects.segmentation import connected_to_seed

HELD_OBJECT_CLASS = "held_object"
HELD_OBJECT_SOURCE = "held-object-depth"


@dataclass(frozen=True)
class HeldObjectConfig:
    reach_m: float = 0.45  # how far from the hand a held object may extend
    touch_m: float = 0.15  # surface this close to the hand centre seeds the object
    voxel_m: float = 0.02
    min_points: int = 40
    max_points: int = 5000  # window pixels looked at (strided)
    max_shell_fraction: float = 0.08  # points beyond 0.9 * reach: a surface that goes on (table, floor, wall)
    min_width_m: float = 0.05  # second-largest extent: slivers are the arm's edge the skeleton mask missed
    hug_m: float = 0.06  # pixels within this of the person mask hug the person's outline ...
    max_hug_fraction: float = 0.75  # ... and a component mostly made of them is body the mask missed
    max_overlap_iou: float = 0.3  # a detector box (or another hand's proposal) already covering it wins
    score: float = 0.5

    def __post_init__(self) -> None:
        if not (0 < self.touch_m < self.reach_m):
            raise ValueError(f"need 0 < touch_m < reach_m, got {self.touch_m}, {self.reach_m}")
        if self.voxel_m <= 0 or self.min_points < 1 or self.max_points < 100:
            raise ValueError("voxel_m > 0, min_points >= 1 and max_points >= 100 are required")


@dataclass
class HandPoints:
    """A hand's 2D points (pixels of the RGB image) and whose hand it is."""

    pixels: NDArray[np.float64]  # (N, 2)
    person_track_id: int
    side: int


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _hand_depth(depth: NDArray[np.float32], pix_d: NDArray[np.float64], radius: int = 3) -> float:
    """Median valid depth in small patches around the hand's points (depth-image pixels)."""
    dh, dw = depth.shape[:2]
    vals = []
    for u, v in pix_d:
        x, y = int(round(u)), int(round(v))
        if 0 <= x < dw and 0 <= y < dh:
            patch = np.asarray(depth[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1],
                               dtype=np.float64)
            vals.append(patch[np.isfinite(patch) & (patch > 0.05)])
    allv = np.concatenate(vals) if vals else np.zeros(0)
    return float(np.median(allv)) if allv.size else float("nan")


def held_object_proposals(depth: NDArray[np.float32], k: NDArray[np.float64], image_size: tuple[int, int],
                          hands: list[HandPoints], person_mask: NDArray[np.bool_] | None,
                          detections: list[ObjectDetection] | None = None,
                          config: HeldObjectConfig | None = None) -> tuple[list[ObjectDetection], dict[str, int]]:
    """Held-object detections (RGB-image pixels) and, per reason, the hands that gave none.

    ``image_size`` is the RGB image's (W, H) that ``k`` and the hand pixels refer to; the depth
    image may be smaller (ZED publishes it downscaled). ``person_mask`` is in RGB pixels."""
    cfg = config or HeldObjectConfig()
    dh, dw = depth.shape[:2]
    w, h = image_size
    sx, sy = dw / float(w), dh / float(h)
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    taken = [d.box for d in detections or []]
    # distance (RGB pixels) to the nearest person pixel, made once and only when a component needs it
    to_person: list[NDArray[np.float32]] = []

    def hugging_fraction(uv: NDArray[np.float64], z: NDArray[np.float64]) -> float:
        if person_mask is None or not person_mask.any():
            return 0.0
        if not to_person:
            to_person.append(cv2.distanceTransform((~person_mask).astype(np.uint8), cv2.DIST_L2, 3))
        dt = to_person[0]
        iu = np.clip(np.round(uv[:, 0]).astype(np.int64), 0, dt.shape[1] - 1)
        iv = np.clip(np.round(uv[:, 1]).astype(np.int64), 0, dt.shape[0] - 1)
        return float(np.mean(dt[iv, iu] * z / fx < cfg.hug_m))

    out: list[ObjectDetection] = []
    why: dict[str, int] = {}

    def reject(reason: str) -> None:
        why[reason] = why.get(reason, 0) + 1

    for hand in hands:
        pix = np.asarray(hand.pixels, dtype=np.float64)
        pix = pix[np.isfinite(pix).all(1)]
        if len(pix) == 0:
            reject("no hand pixels")
            continue
        centre = pix.mean(0)
        if not (0 <= centre[0] < w and 0 <= centre[1] < h):
            reject("hand outside the image")
            continue
        zh = _hand_depth(depth, pix * [sx, sy])
        if not np.isfinite(zh):
            reject("no depth at the hand")
            continue
        hand_c = np.array([(centre[0] - cx) / fx * zh, (centre[1] - cy) / fy * zh, zh])
        half = cfg.reach_m * fx / zh  # RGB pixels
        box = (max(0.0, centre[0] - half), max(0.0, centre[1] - half),
               min(w - 1.0, centre[0] + half), min(h - 1.0, centre[1] + half))
        x0, y0 = int(box[0] * sx), int(box[1] * sy)
        x1, y1 = int(np.ceil(box[2] * sx)), int(np.ceil(box[3] * sy))
        if x1 <= x0 or y1 <= y0:
            reject("hand outside the image")
            continue
        stride = max(1, int(np.ceil(np.sqrt((x1 - x0) * (y1 - y0) / cfg.max_points))))
        rows, cols = np.arange(y0, min(dh, y1 + 1), stride), np.arange(x0, min(dw, x1 + 1), stride)
        z = np.asarray(depth[np.ix_(rows, cols)], dtype=np.float64)
        valid = np.isfinite(z) & (z > 0.05)
        if person_mask is not None:
            pm = person_mask[np.ix_(np.clip((rows / sy).astype(np.int64), 0, person_mask.shape[0] - 1),
                                    np.clip((cols / sx).astype(np.int64), 0, person_mask.shape[1] - 1))]
            valid &= ~pm
        u = (cols[None, :] + 0.5) / sx - 0.5
        v = (rows[:, None] + 0.5) / sy - 0.5
        pts = np.stack([np.broadcast_to((u - cx) / fx * z, z.shape)[valid],
                        np.broadcast_to((v - cy) / fy * z, z.shape)[valid], z[valid]], axis=1)
        pix_uv = np.stack([np.broadcast_to(u, z.shape)[valid], np.broadcast_to(v, z.shape)[valid]], axis=1)
        dist = np.linalg.norm(pts - hand_c, axis=1)
        near = dist < cfg.reach_m * 1.25  # a little past reach, so a surface that goes on is seen to
        pts, pix_uv, dist = pts[near], pix_uv[near], dist[near]
        seed = dist < cfg.touch_m
        if seed.sum() < 3:
            reject("nothing touches the hand")
            continue
        keep = connected_to_seed(pts, seed, cfg.voxel_m)
        comp, comp_uv, comp_d = pts[keep], pix_uv[keep], dist[keep]
        if len(comp) < cfg.min_points:
            reject("too few points")
            continue
        if float(np.mean(comp_d > 0.9 * cfg.reach_m)) > cfg.max_shell_fraction:
            reject("surface goes on beyond reach")
            continue
        centred = comp - comp.mean(0)
        extents = np.sort(np.ptp(centred @ np.linalg.svd(centred, full_matrices=False)[2].T, axis=0))
        if extents[-2] < cfg.min_width_m:
            reject("a sliver, not an object")
            continue
        # near the hand an object always borders the (hand's) mask: judged on the part beyond touch_m
        far = comp_d > cfg.touch_m
        if far.any() and hugging_fraction(comp_uv[far], comp[far, 2]) > cfg.max_hug_fraction:
            reject("hugs the person's outline")
            continue
        lo, hi = comp_uv.min(0), comp_uv.max(0)
        det_box = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        if any(_iou(det_box, b) > cfg.max_overlap_iou for b in taken):
            reject("already detected or proposed")
            continue
        taken.append(det_box)
        out.append(ObjectDetection(det_box, cfg.score, f"held object (person {hand.person_track_id})",
                                   HELD_OBJECT_CLASS, HELD_OBJECT_SOURCE))
    return out, why
