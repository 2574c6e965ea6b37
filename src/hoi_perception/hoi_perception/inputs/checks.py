"""Checks every node applies to its inputs before doing work on them.

Each check raises :class:`InputRejected` with a short ``reason`` (the counter
key reported on /diagnostics) and a message naming what was wrong, so a node
can count, log once and go on with the next message. Nothing here allocates
in proportion to the input: a 100k x 100k image header is rejected from its
numbers alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

# A 4096 x 4096 frame is above every camera the stack targets (ZED X: 1920 x
# 1200; ZED 2i: 2208 x 1242 per eye); larger headers are a fault or an attack.
DEFAULT_MAX_PIXELS = 4096 * 4096
# Focal lengths under a pixel make projections meaningless (and divide by ~0).
MIN_FOCAL_PX = 1.0


class InputRejected(ValueError):
    """An input message that must not be processed; ``reason`` is a counter key."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_frame_id(frame_id: str, topic: str = "") -> None:
    """An empty frame_id would publish results and TF with parent frame ''."""
    if not frame_id or not frame_id.strip():
        where = f" on {topic}" if topic else ""
        raise InputRejected(f"message{where} has an empty header.frame_id", "empty_frame_id")


def check_image_size(width: int, height: int, max_pixels: int = DEFAULT_MAX_PIXELS, topic: str = "") -> None:
    """Reject empty and oversized images from the header alone (before any copy)."""
    where = f" on {topic}" if topic else ""
    if width <= 0 or height <= 0:
        raise InputRejected(f"empty image {width}x{height}{where}", "empty_image")
    if max_pixels > 0 and width * height > max_pixels:
        raise InputRejected(
            f"image {width}x{height}{where} exceeds the limit of {max_pixels} pixels (parameter max_image_pixels)",
            "image_too_large",
        )


def check_image_header(msg: object, max_pixels: int = DEFAULT_MAX_PIXELS, topic: str = "") -> None:
    """frame_id and size checks of a sensor_msgs/Image (or anything with the same fields)."""
    check_frame_id(str(getattr(getattr(msg, "header", None), "frame_id", "")), topic)
    check_image_size(int(getattr(msg, "width", 0)), int(getattr(msg, "height", 0)), max_pixels, topic)


@dataclass(frozen=True)
class Intrinsics:
    """Validated pinhole intrinsics of one camera."""

    k: np.ndarray  # (3, 3) float64
    width: int
    height: int


def check_intrinsics(k: ArrayLike, width: int, height: int, camera: str = "") -> Intrinsics:
    """Validate a 3x3 K (camera_info.k): finite, fx/fy >= 1 px, principal point
    finite and not absurdly far outside the image (more than one image size)."""
    name = f" of {camera}" if camera else ""
    arr = np.asarray(k, dtype=np.float64)
    if arr.size != 9:
        raise InputRejected(f"intrinsics{name} have {arr.size} values, need 9", "bad_intrinsics")
    arr = arr.reshape(3, 3)
    if not np.all(np.isfinite(arr)):
        raise InputRejected(f"intrinsics{name} contain NaN or inf: {arr.ravel().tolist()}", "bad_intrinsics")
    fx, fy, cx, cy = arr[0, 0], arr[1, 1], arr[0, 2], arr[1, 2]
    if fx < MIN_FOCAL_PX or fy < MIN_FOCAL_PX:
        raise InputRejected(f"focal length{name} fx={fx:g}, fy={fy:g} px is not positive/usable", "bad_intrinsics")
    if width <= 0 or height <= 0:
        raise InputRejected(f"camera_info{name} has image size {width}x{height}", "bad_intrinsics")
    if not (-width <= cx <= 2 * width and -height <= cy <= 2 * height):
        raise InputRejected(f"principal point{name} ({cx:g}, {cy:g}) is far outside the {width}x{height} image",
                            "bad_intrinsics")
    return Intrinsics(arr, int(width), int(height))


def check_rotation(q_xyzw: Sequence[float], what: str = "rotation", tolerance: float = 1e-2) -> np.ndarray:
    """A finite quaternion of (close to) unit norm, returned normalised."""
    q = np.asarray(q_xyzw, dtype=np.float64)
    if q.shape != (4,) or not np.all(np.isfinite(q)):
        raise InputRejected(f"{what} is not a finite quaternion: {q.tolist()}", "bad_rotation")
    n = float(np.linalg.norm(q))
    if abs(n - 1.0) > tolerance:
        raise InputRejected(f"{what} quaternion has norm {n:.4f}, not 1", "bad_rotation")
    return q / n


def check_translation(t_xyz: Sequence[float], what: str = "translation") -> np.ndarray:
    t = np.asarray(t_xyz, dtype=np.float64)
    if t.shape != (3,) or not np.all(np.isfinite(t)):
        raise InputRejected(f"{what} is not a finite 3-vector: {t.tolist()}", "bad_translation")
    return t


class TimeJumpDetector:
    """Notices when a stream's stamps jump backwards (bag loop, clock reset).

    ``update(stamp_ns)`` returns True once per jump larger than
    ``tolerance_s`` back from the newest stamp seen; the caller resets its
    rate limiters and trackers and logs one line. A small backwards step
    (reordering within tolerance) is not a jump.
    """

    def __init__(self, tolerance_s: float = 1.0) -> None:
        if not math.isfinite(tolerance_s) or tolerance_s < 0:
            raise ValueError(f"tolerance_s must be >= 0, got {tolerance_s}")
        self.tolerance_ns = int(tolerance_s * 1e9)
        self.newest_ns: int | None = None
        self.jumps = 0

    def update(self, stamp_ns: int) -> bool:
        if self.newest_ns is not None and stamp_ns < self.newest_ns - self.tolerance_ns:
            self.jumps += 1
            self.newest_ns = stamp_ns
            return True
        if self.newest_ns is None or stamp_ns > self.newest_ns:
            self.newest_ns = stamp_ns
        return False
