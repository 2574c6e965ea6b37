"""Camera ingest core: Image (+ depth) + CameraInfo messages -> validated frames.

ROS-free: messages are anything with the sensor_msgs fields (rclpy or
rosbags). The ZED wrapper publishes ``left/image_rect_color`` (bgra8),
``depth/depth_registered`` (32FC1 metres, registered to the left image, so
the left camera_info K applies) and ``left/camera_info``; the depth may be
published at a reduced resolution, hence the integer-ratio resize.

Every rejection raises :class:`IngestError` (an ImageConversionError with a
``reason``) after counting it in :class:`IngestStats`, so a node turns it
into one log line and a counter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hoi_perception.geometry.camera import backproject_depth
from hoi_perception.imaging.encodings import (
    ImageConversionError,
    depth_to_metres_counted,
    image_to_numpy,
    image_to_rgb8,
)
from hoi_perception.sync.stamps import header_ns


class IngestError(ImageConversionError):
    """A frame rejected by validation (missing camera_info, zero stamp, size mismatch...)."""


@dataclass
class IngestStats:
    frames: int = 0  # frames produced
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> frames rejected
    invalid_depth_pixels: int = 0  # NaN / inf / <= 0 depth set to NaN, over all frames
    depth_pixels: int = 0
    depth_resized: int = 0  # frames whose depth was resized to the image size

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def count_rejection(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


@dataclass
class CameraFrame:
    rgb: NDArray[np.uint8]  # (H, W, 3)
    k: NDArray[np.float64]  # 3x3
    distortion: NDArray[np.float64]
    distortion_model: str
    stamp_ns: int
    frame_id: str

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


@dataclass
class RgbdFrame:
    rgb: NDArray[np.uint8]  # (H, W, 3)
    depth: NDArray[np.float32]  # (H, W) metres, NaN = no measurement
    xyz: NDArray[np.float32] | None  # (H, W, 3) in the optical frame, NaN where depth is
    k: NDArray[np.float64]
    stamp_ns: int  # of the colour image
    frame_id: str
    depth_stamp_ns: int
    invalid_depth_pixels: int


@dataclass(frozen=True)
class Intrinsics:
    k: NDArray[np.float64]
    width: int
    height: int
    distortion: NDArray[np.float64]
    distortion_model: str


def intrinsics_from_info(info: Any) -> Intrinsics:
    """CameraInfo-like (k, width, height; d and distortion_model optional) ->
    validated Intrinsics. An absent or uncalibrated (fx = 0) info is an error."""
    if info is None:
        raise IngestError("no camera_info received for this frame", "missing_camera_info")
    k = np.asarray(getattr(info, "k", ()), dtype=np.float64).reshape(-1)
    if k.size != 9:
        raise IngestError(f"camera_info k has {k.size} values, needs 9", "bad_camera_info")
    k = k.reshape(3, 3)
    if not (np.all(np.isfinite(k)) and k[0, 0] > 0 and k[1, 1] > 0):
        raise IngestError(
            f"camera_info is uncalibrated (fx={k[0, 0]}, fy={k[1, 1]})", "bad_camera_info"
        )
    width, height = int(info.width), int(info.height)
    if width <= 0 or height <= 0:
        raise IngestError(f"camera_info has no image size ({width}x{height})", "bad_camera_info")
    d = np.asarray(getattr(info, "d", ()), dtype=np.float64).reshape(-1)
    return Intrinsics(k, width, height, d, str(getattr(info, "distortion_model", "")))


def _check_stamp(stamp_ns: int, what: str) -> None:
    if stamp_ns <= 0:
        raise IngestError(f"{what} has a zero stamp", "zero_stamp")


def _check_info_size(intr: Intrinsics, height: int, width: int) -> None:
    if (intr.width, intr.height) != (width, height):
        raise IngestError(
            f"camera_info size {intr.width}x{intr.height} differs from image size {width}x{height}",
            "size_mismatch",
        )


def match_depth_size(depth: NDArray[np.float32], height: int, width: int) -> NDArray[np.float32]:
    """Nearest-neighbour resize of depth to (height, width) when the sizes
    differ by the same integer factor on both axes (depth never interpolates
    across edges); anything else is an IngestError."""
    hd, wd = depth.shape
    if (hd, wd) == (height, width):
        return depth
    if hd and wd and height % hd == 0 and width % wd == 0 and height // hd == width // wd:
        f = height // hd
        return np.repeat(np.repeat(depth, f, axis=0), f, axis=1)
    if height and width and hd % height == 0 and wd % width == 0 and hd // height == wd // width:
        f = hd // height
        return np.ascontiguousarray(depth[f // 2 :: f, f // 2 :: f])
    raise IngestError(
        f"depth size {wd}x{hd} is not an integer ratio of image size {width}x{height}", "size_mismatch"
    )


class _Counted:
    def __init__(self, stats: IngestStats | None = None) -> None:
        self.stats = stats if stats is not None else IngestStats()

    def _reject(self, exc: ImageConversionError) -> None:
        self.stats.count_rejection(exc.reason)


class RgbdIngest(_Counted):
    """ZED-style RGB + registered depth + camera_info -> RgbdFrame."""

    def __init__(self, stats: IngestStats | None = None, *, compute_xyz: bool = False) -> None:
        """``compute_xyz``: also back-project the whole frame into ``RgbdFrame.xyz`` (about 3x a
        memcpy of the frame at 1080p). Off by default: consumers back-project only the pixels
        they need (objects/segmentation.py inside boxes, bodypose/depth.py at joints), which keeps
        the 1080p ingest near 2x a memcpy (scripts/bench_ingest.py)."""
        super().__init__(stats)
        self.compute_xyz = compute_xyz

    def from_messages(self, image: Any, depth: Any, info: Any) -> RgbdFrame:
        try:
            intr = intrinsics_from_info(info)
            stamp, depth_stamp = header_ns(image), header_ns(depth)
            _check_stamp(stamp, "colour image")
            _check_stamp(depth_stamp, "depth image")
            rgb = image_to_rgb8(image)
            depth_m, invalid = depth_to_metres_counted(image_to_numpy(depth), str(depth.encoding))
            return self._build(rgb, depth_m, intr, stamp, str(image.header.frame_id), depth_stamp, invalid)
        except ImageConversionError as exc:
            self._reject(exc)
            raise

    def from_arrays(
        self,
        rgb: NDArray[np.uint8],
        depth_m: NDArray[np.floating],
        info: Any,
        stamp_ns: int,
        frame_id: str,
        depth_stamp_ns: int | None = None,
    ) -> RgbdFrame:
        """Already-decoded RGB (H, W, 3) uint8 and depth in metres; ``info``
        is CameraInfo-like (an object with k, width, height)."""
        try:
            intr = intrinsics_from_info(info)
            _check_stamp(int(stamp_ns), "colour image")
            rgb = np.asarray(rgb)
            if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
                raise IngestError(f"rgb must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}", "shape_mismatch")
            d = np.array(depth_m, dtype=np.float32)  # a copy we may write NaN into
            if d.ndim != 2:
                raise IngestError(f"depth must be (H, W), got {d.shape}", "shape_mismatch")
            d[~((d > 0) & (d < np.inf))] = np.nan
            ds = int(stamp_ns if depth_stamp_ns is None else depth_stamp_ns)
            return self._build(rgb, d, intr, int(stamp_ns), frame_id, ds)
        except ImageConversionError as exc:
            self._reject(exc)
            raise

    def _build(
        self, rgb: NDArray[np.uint8], depth: NDArray[np.float32], intr: Intrinsics, stamp: int, frame_id: str,
        depth_stamp: int, invalid: int | None = None,
    ) -> RgbdFrame:
        h, w = rgb.shape[:2]
        _check_info_size(intr, h, w)
        if depth.shape != (h, w):
            depth = match_depth_size(depth, h, w)
            self.stats.depth_resized += 1
            invalid = None
        if invalid is None:
            invalid = int(depth.size - np.count_nonzero(depth == depth))
        # depth_to_metres already mapped every invalid value to NaN
        xyz = backproject_depth(depth, intr.k, assume_valid=True) if self.compute_xyz else None
        self.stats.frames += 1
        self.stats.invalid_depth_pixels += invalid
        self.stats.depth_pixels += depth.size
        return RgbdFrame(rgb, depth, xyz, intr.k, stamp, frame_id, depth_stamp, invalid)


class CameraIngest(_Counted):
    """Generic camera: Image (any colour encoding) + CameraInfo -> CameraFrame."""

    def from_messages(self, image: Any, info: Any) -> CameraFrame:
        try:
            intr = intrinsics_from_info(info)
            stamp = header_ns(image)
            _check_stamp(stamp, "image")
            rgb = image_to_rgb8(image)
            _check_info_size(intr, rgb.shape[0], rgb.shape[1])
        except ImageConversionError as exc:
            self._reject(exc)
            raise
        self.stats.frames += 1
        return CameraFrame(rgb, intr.k, intr.distortion, intr.distortion_model, stamp, str(image.header.frame_id))
