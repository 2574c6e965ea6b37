"""Draw 34-joint skeletons, boxes and track ids on images (OpenCV, in place)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception.skeleton.bodypose34 import BONES, JOINT_NAMES

# Left limbs warm, right limbs cool, centre line white: a left/right swap is
# visible at a glance.
_LEFT = (255, 140, 0)
_RIGHT = (0, 160, 255)
_CENTRE = (235, 235, 235)


def _side(name: str) -> tuple[int, int, int]:
    if name.startswith("left_"):
        return _LEFT
    if name.startswith("right_"):
        return _RIGHT
    return _CENTRE


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, distinct RGB colour per track id (golden-ratio hue walk)."""
    hue = int((track_id * 0.618033988749895 % 1.0) * 179)
    hsv = np.uint8([[[hue, 200, 255]]])
    r, g, b = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
    return int(r), int(g), int(b)


def draw_pose(
    image_rgb: NDArray[np.uint8],
    joints_2d: NDArray[np.floating],
    confidence: NDArray[np.floating] | None = None,
    derived: NDArray[np.bool_] | None = None,
    box: Sequence[float] | None = None,
    track_id: int | None = None,
    label: str = "",
    min_confidence: float = 0.3,
) -> NDArray[np.uint8]:
    """Draw one pose on an RGB image in place and return it.

    Joints under ``min_confidence`` are skipped; derived joints are drawn
    hollow so an observer can tell them from observed ones.
    """
    h, w = image_rgb.shape[:2]
    thick = max(1, round(min(h, w) / 240))
    conf = np.ones(len(joints_2d)) if confidence is None else np.asarray(confidence)
    der = np.zeros(len(joints_2d), bool) if derived is None else np.asarray(derived)
    ok = np.isfinite(joints_2d).all(axis=1) & (conf >= min_confidence)
    pts = np.round(np.nan_to_num(joints_2d)).astype(int)
    for a, b in BONES:
        if ok[a] and ok[b]:
            cv2.line(image_rgb, tuple(pts[a]), tuple(pts[b]), _side(JOINT_NAMES[b]), thick, cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        cv2.circle(image_rgb, tuple(pts[j]), thick + 1, _side(JOINT_NAMES[j]), 1 if der[j] else -1, cv2.LINE_AA)
    if box is not None:
        colour = track_colour(track_id) if track_id is not None else (255, 255, 0)
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(image_rgb, (x0, y0), (x1, y1), colour, thick, cv2.LINE_AA)
        text = " ".join(t for t in (f"#{track_id}" if track_id is not None else "", label) if t)
        if text:
            cv2.putText(image_rgb, text, (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, colour,
                        thick, cv2.LINE_AA)
    return image_rgb


def draw_banner(image_rgb: NDArray[np.uint8], text: str, warn: bool = False) -> NDArray[np.uint8]:
    """A one-line banner at the top (e.g. 'STAND-IN' or the backend name)."""
    colour = (255, 80, 80) if warn else (255, 255, 255)
    cv2.rectangle(image_rgb, (0, 0), (image_rgb.shape[1], 18), (0, 0, 0), -1)
    cv2.putText(image_rgb, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, colour, 1, cv2.LINE_AA)
    return image_rgb
