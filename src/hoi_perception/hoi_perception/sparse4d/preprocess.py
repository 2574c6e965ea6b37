"""Pre-processing for N cameras: frames -> img (1,N,3,540,960) float32, projection_mat, image_wh.

Two host implementations with the same interface (``pre(frames) -> {"img", "projection_mat", "image_wh"}``):

* :class:`Sparse4DPreprocessor` (the default, "fast"): when the frame is an integer multiple of the
  network input (1920x1080 -> 960x540 is an exact 2x2 box), the work is done in row strips of
  ``strip_rows`` output rows, so the intermediates stay in cache: ``cv2.resize(INTER_AREA)`` of the
  strip (OpenCV's integer-factor fast path, the rounded box mean ``(a+b+c+d+2)>>2``), one
  ``cv2.mixChannels`` into three uint8 planes (channel swap for bgr8 folded in), and one ``cv2.LUT``
  per channel with a 256-entry float32 table ``(v - mean_c) / std_c`` that writes the normalised
  values straight into the camera's plane of the preallocated NCHW tensor (one gather per pixel, no
  arithmetic, no float intermediate image, no transpose). Other sizes resize the whole frame first
  (same interpolation rule as the reference) and then run the same strip loop. Cameras, and row
  bands of a camera when there are fewer cameras than workers, run on a thread pool (OpenCV
  releases the GIL); ``num_threads`` defaults to the number of cores.
* :class:`ReferencePreprocessor` (the previous implementation, kept as the reference for tests and
  the benchmark): whole-frame ``cv2.resize``, ``cv2.split``, ``cv2.addWeighted`` per channel.

Both produce the same tensor: for integer factors bit-identical uint8 intermediates (INTER_LINEAR
at exactly 0.5 and INTER_AREA both give the rounded 2x2 mean), and the normalisation differs only
by float rounding (< 1e-5). A device-side equivalent is ``preprocess_graph.GraphPreprocessor``.

projection_mat follows the TAO Sparse4D dataset (Omniverse3DDetTrackDataset.
get_data_info: lidar2img = viewpad(K) @ world->camera) with the intrinsics scaled
to the network input as the mmdet ResizeCropFlipImage transform does (plain
scale of fx, cx by W_in/W_calib and fy, cy by H_in/H_calib; test-time crop is 0).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception.geometry.camera import PinholeCamera
from hoi_perception.sparse4d.constants import CHANNEL_ORDER, CHANNEL_ORDERS, IMAGE_MEAN, IMAGE_STD, INPUT_H, INPUT_W
from hoi_perception.sparse4d.conventions import ModelFrame

log = logging.getLogger(__name__)

DEFAULT_STRIP_ROWS = 108  # output rows per strip: 108x960x3 uint8 = 311 kB of scratch, in L2


def projection_matrix(
    camera: PinholeCamera, input_wh: tuple[int, int] = (INPUT_W, INPUT_H), frame: ModelFrame | None = None
) -> NDArray[np.float32]:
    """4x4 model frame -> network-input pixels: diag(sx, sy, 1, 1) @ [K 0; 0 1] @ camera_from_world @ world_from_model.

    The network's anchors live in the model frame (group origin subtracted, conventions.ModelFrame), so
    the projection must add the origin back before the world -> camera transform.
    """
    sx = input_wh[0] / float(camera.width)
    sy = input_wh[1] / float(camera.height)
    k4 = np.eye(4)
    k4[:3, :3] = camera.k
    scale = np.diag([sx, sy, 1.0, 1.0])
    world_from_model = (frame or ModelFrame()).world_from_model()
    return (scale @ k4 @ camera.camera_from_world @ world_from_model).astype(np.float32)


# Resize filters: "pil_bicubic" is what TAO's pipeline does (ResizeCropFlipImage: PIL Image.resize(resize_dims)
# with the default filter, which Pillow documents as BICUBIC for RGB images, with antialiasing when
# shrinking); "area" is OpenCV INTER_AREA (INTER_LINEAR below a 2x shrink), this project's earlier choice.
RESIZE_FILTERS = ("pil_bicubic", "area")
DEFAULT_RESIZE_FILTER = "pil_bicubic"


def pil_resize(frame: NDArray[np.uint8], out_wh: tuple[int, int]) -> NDArray[np.uint8]:
    """uint8 HxWx3 -> resized with Pillow's bicubic filter (TAO's resize; Pillow releases the GIL here)."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(frame))
    return np.asarray(img.resize((int(out_wh[0]), int(out_wh[1])), Image.Resampling.BICUBIC))


def _bicubic(x: NDArray[np.float64], a: float = -0.5) -> NDArray[np.float64]:
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def pil_bicubic_weights(in_size: int, out_size: int) -> NDArray[np.float64]:
    """[out_size, in_size] matrix of Pillow's bicubic resampling along one axis (float, rows sum to 1).

    The rule of Pillow's precompute_coeffs (src/libImaging/Resample.c, facts only): scale = in / out, the
    kernel (cubic, a = -0.5, support 2) is stretched by max(scale, 1) (antialias when shrinking); output i
    is centred at (i + 0.5) * scale; taps from int(centre - support + 0.5) to int(centre + support + 0.5),
    clipped to the image, weight k((x - centre + 0.5) / filterscale), normalised to sum 1. Pillow then
    applies the weights in 22-bit fixed point with a rounded, clipped uint8 result per pass (horizontal
    pass first), which this float matrix reproduces to within one uint8 level.
    """
    scale = in_size / out_size
    fscale = max(scale, 1.0)
    support = 2.0 * fscale
    m = np.zeros((out_size, in_size))
    for i in range(out_size):
        centre = (i + 0.5) * scale
        x0 = max(int(centre - support + 0.5), 0)
        x1 = min(int(centre + support + 0.5), in_size)
        xs = np.arange(x0, x1)
        w = _bicubic((xs - centre + 0.5) / fscale)
        total = w.sum()
        m[i, x0:x1] = w / total if total != 0.0 else w
    return m


def resize_interpolation(in_w: int, out_w: int) -> int:
    """OpenCV interpolation of the generic (non-integer factor) path: area when shrinking by more than 2x."""
    return cv2.INTER_AREA if in_w >= 2 * out_w + 1 else cv2.INTER_LINEAR


def integer_factors(in_hw: tuple[int, int], out_wh: tuple[int, int]) -> tuple[int, int] | None:
    """(fy, fx) when the frame is an exact integer multiple of the output in both axes, else None."""
    (h_in, w_in), (w, h) = in_hw, out_wh
    if h_in % h or w_in % w or h_in < h or w_in < w:
        return None
    return h_in // h, w_in // w


def normalisation_luts(mean: Sequence[float], std: Sequence[float]) -> list[NDArray[np.float32]]:
    """Per network channel, the 256-entry float32 table uint8 v -> (v - mean) / std (computed in float64)."""
    v = np.arange(256, dtype=np.float64)
    return [((v - float(m)) / float(s)).astype(np.float32).reshape(256, 1)
            for m, s in zip(mean, std, strict=True)]


def source_channels(encoding: str, channel_order: str) -> tuple[int, int, int]:
    """Index into the frame's channels for each network input channel.

    ``encoding``: the frame's order ("rgb8" / "bgr8"); ``channel_order``: the order the network is fed
    ("RGB" / "BGR", contract field ``img.conventions.channel_order``; TAO Sparse4D: BGR, see constants).
    """
    if encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"encoding must be rgb8 or bgr8, got {encoding!r}")
    order = str(channel_order).upper()
    if order not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be one of {CHANNEL_ORDERS}, got {channel_order!r}")
    return (0, 1, 2) if encoding[:3].upper() == order else (2, 1, 0)


@dataclass
class _Task:
    cam: int
    frame: NDArray[np.uint8] | None  # None: zero the plane
    r0: int = 0
    r1: int = 0
    factors: tuple[int, int] | None = None


class Sparse4DPreprocessor:
    """Preallocated multi-camera pre-processing (fast path). Not thread-safe: one instance per tracker.

    ``encoding`` is the channel order of the incoming frames ("rgb8" or "bgr8"); ``channel_order``
    the order the network is fed (contract ``img.conventions.channel_order``, default BGR as TAO's
    pipeline produces it: constants.CHANNEL_ORDER); ``mean``/``std`` are per network channel. 4-channel frames
    (rgba8/bgra8) use their first three channels. ``num_threads``: pool workers
    (default: the number of cores; 1 = run in the calling thread). ``strip_rows``:
    output rows per cache-resident strip.
    """

    def __init__(
        self,
        cameras: Sequence[PinholeCamera],
        input_wh: tuple[int, int] = (INPUT_W, INPUT_H),
        mean: Sequence[float] = IMAGE_MEAN,
        std: Sequence[float] = IMAGE_STD,
        encoding: str = "rgb8",
        num_threads: int | None = None,
        strip_rows: int = DEFAULT_STRIP_ROWS,
        channel_order: str = CHANNEL_ORDER,
        frame: ModelFrame | None = None,
        resize_filter: str = DEFAULT_RESIZE_FILTER,
    ) -> None:
        if resize_filter not in RESIZE_FILTERS:
            raise ValueError(f"resize_filter must be one of {RESIZE_FILTERS}, got {resize_filter!r}")
        self.resize_filter = resize_filter
        # Output channel c reads source channel _src_ch[c]; validates encoding and channel_order.
        self._src_ch = source_channels(encoding, channel_order)
        self.channel_order = str(channel_order).upper()
        self.cameras = list(cameras)
        self.input_wh = (int(input_wh[0]), int(input_wh[1]))
        self.encoding = encoding
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        n = len(self.cameras)
        w, h = self.input_wh
        self.img = np.zeros((1, n, 3, h, w), dtype=np.float32)
        self.frame = frame or ModelFrame()
        self.projection_mat = np.stack([projection_matrix(c, self.input_wh, self.frame) for c in self.cameras])[None] if n else (
            np.zeros((1, 0, 4, 4), np.float32))
        self.image_wh = np.tile(np.array([w, h], dtype=np.float32), (1, n, 1))
        self.num_threads = max(1, int(num_threads if num_threads is not None else (os.cpu_count() or 1)))
        self.strip_rows = max(1, int(strip_rows))
        self._pool = ThreadPoolExecutor(max_workers=self.num_threads) if self.num_threads > 1 and n > 0 else None
        self.counters = {"missing_frames": 0, "bad_frames": 0, "aspect_mismatch": 0}
        self._setup()

    # -- subclass hooks ------------------------------------------------------------------------------
    def _setup(self) -> None:
        self._luts = normalisation_luts(self.mean, self.std)
        self._from_to = [self._src_ch[0], 0, self._src_ch[1], 1, self._src_ch[2], 2]
        self._local = threading.local()

    def _plan(self, i: int, frame: NDArray[np.uint8]) -> list[_Task]:
        """Tasks for one valid frame: row bands for integer factors (so few cameras still use all workers)."""
        w, h = self.input_wh
        f = integer_factors(frame.shape[:2], self.input_wh)
        if f is None or (self.resize_filter == "pil_bicubic" and f != (1, 1)):
            return [_Task(i, frame, 0, h, None)]
        n = len(self.cameras)
        bands = max(1, -(-self.num_threads // n)) if self._pool is not None else 1
        step = -(-h // bands)
        return [_Task(i, frame, r0, min(h, r0 + step), f) for r0 in range(0, h, step)]

    def _run(self, t: _Task) -> None:
        plane = self.img[0, t.cam]
        if t.frame is None:
            plane.fill(0.0)
            return
        w, h = self.input_wh
        s = self.strip_rows
        scratch = getattr(self._local, "scratch", None)
        if scratch is None or scratch[0].shape[:2] != (s, w):
            scratch = (np.empty((s, w, 3), np.uint8), [np.empty((s, w), np.uint8) for _ in range(3)])
            self._local.scratch = scratch
        rs_buf, planes = scratch
        frame = t.frame
        if t.factors is None and self.resize_filter == "pil_bicubic":
            # TAO's resize (Pillow bicubic, antialiased): whole frame, then the strip loop.
            full = pil_resize(frame, self.input_wh)
        elif t.factors is None:
            # Generic size: whole-frame resize (same interpolation rule as the reference), then strips.
            full = cv2.resize(frame, self.input_wh, interpolation=resize_interpolation(frame.shape[1], w))
        else:
            full = None
        fy, fx = t.factors or (1, 1)
        for a in range(t.r0, t.r1, s):
            b = min(t.r1, a + s)
            rows = b - a
            if full is not None:
                src = full[a:b]
            elif fy == 1 and fx == 1:
                src = frame[a:b]
            else:
                src = rs_buf[:rows]
                cv2.resize(frame[fy * a:fy * b], (w, rows), dst=src, interpolation=cv2.INTER_AREA)
            ch = [p[:rows] for p in planes]
            cv2.mixChannels([np.ascontiguousarray(src)], ch, self._from_to)
            for c in range(3):
                cv2.LUT(ch[c], self._luts[c], dst=plane[c, a:b])

    # -- public --------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def check_frame(self, i: int, frame: NDArray[np.uint8] | None) -> tuple[NDArray[np.uint8] | None, str | None]:
        """(usable 3-channel frame or None, counter tag or None) for camera ``i``."""
        if frame is None:
            return None, "missing_frames"
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] not in (3, 4):
            return None, "bad_frames"
        if frame.shape[0] < 1 or frame.shape[1] < 1:
            return None, "bad_frames"
        if frame.shape[2] == 4:
            frame = frame[..., :3]
        cam = self.cameras[i]
        tag = None
        if abs(frame.shape[1] * cam.height - frame.shape[0] * cam.width) > max(cam.width, cam.height):
            tag = "aspect_mismatch"
        return frame, tag

    def _count(self, i: int, tag: str | None) -> None:
        if tag is not None:
            self.counters[tag] += 1
            log.debug("camera %s: %s", self.cameras[i].name, tag)

    def __call__(self, frames: Sequence[NDArray[np.uint8] | None]) -> dict[str, NDArray]:
        """Frames in camera order (None = dropped, fed as the mean colour, i.e. 0) ->
        {"img", "projection_mat", "image_wh"} (views of internal buffers, overwritten by the next call)."""
        n = len(self.cameras)
        if len(frames) != n:
            raise ValueError(f"expected {n} frames, got {len(frames)}")
        tasks: list[_Task] = []
        for i, raw in enumerate(frames):
            frame, tag = self.check_frame(i, raw)
            self._count(i, tag)
            tasks.extend(self._plan(i, frame) if frame is not None else [_Task(i, None)])
        if self._pool is not None and len(tasks) > 1:
            for _ in self._pool.map(self._run, tasks):
                pass
        else:
            for t in tasks:
                self._run(t)
        return {"img": self.img, "projection_mat": self.projection_mat, "image_wh": self.image_wh}


class ReferencePreprocessor(Sparse4DPreprocessor):
    """The previous implementation, kept as the reference: per camera a whole-frame cv2.resize into a
    uint8 buffer, cv2.split, and cv2.addWeighted per channel into the float32 plane; one task per camera.
    ``num_threads`` defaults to min(N, cores) as it did."""

    def __init__(
        self,
        cameras: Sequence[PinholeCamera],
        input_wh: tuple[int, int] = (INPUT_W, INPUT_H),
        mean: Sequence[float] = IMAGE_MEAN,
        std: Sequence[float] = IMAGE_STD,
        encoding: str = "rgb8",
        num_threads: int | None = None,
        channel_order: str = CHANNEL_ORDER,
        frame: ModelFrame | None = None,
        resize_filter: str = DEFAULT_RESIZE_FILTER,
    ) -> None:
        if num_threads is None:
            num_threads = min(len(cameras), os.cpu_count() or 1)
        super().__init__(cameras, input_wh, mean, std, encoding, num_threads, channel_order=channel_order,
                         frame=frame, resize_filter=resize_filter)

    def _setup(self) -> None:
        w, h = self.input_wh
        self._resized = [np.empty((h, w, 3), dtype=np.uint8) for _ in self.cameras]
        self._alpha = [1.0 / s for s in self.std]
        self._beta = [-m / s for m, s in zip(self.mean, self.std, strict=True)]

    def _plan(self, i: int, frame: NDArray[np.uint8]) -> list[_Task]:
        return [_Task(i, frame, 0, self.input_wh[1], None)]

    def _run(self, t: _Task) -> None:
        plane = self.img[0, t.cam]
        if t.frame is None:
            plane.fill(0.0)
            return
        rs = self._resized[t.cam]
        if self.resize_filter == "pil_bicubic":
            rs[:] = pil_resize(t.frame, self.input_wh) if t.frame.shape[:2] != rs.shape[:2] else t.frame
        else:
            interp = cv2.INTER_AREA if t.frame.shape[1] >= 2 * self.input_wh[0] + 1 else cv2.INTER_LINEAR
            cv2.resize(t.frame, self.input_wh, dst=rs, interpolation=interp)
        chans = cv2.split(rs)
        for c in range(3):
            src = chans[self._src_ch[c]]
            cv2.addWeighted(src, self._alpha[c], src, 0.0, self._beta[c], dst=plane[c], dtype=cv2.CV_32F)


def preprocess_reference(
    frames: Sequence[NDArray[np.uint8] | None],
    cameras: Sequence[PinholeCamera],
    input_wh: tuple[int, int] = (INPUT_W, INPUT_H),
    encoding: str = "rgb8",
    channel_order: str = CHANNEL_ORDER,
    resize_filter: str = DEFAULT_RESIZE_FILTER,
) -> NDArray[np.float32]:
    """The reference (previous) pre-processing as a function: a fresh (1,N,3,h,w) float32 copy of ``img``."""
    pre = ReferencePreprocessor(cameras, input_wh, encoding=encoding, num_threads=1, channel_order=channel_order,
                                resize_filter=resize_filter)
    try:
        return pre(frames)["img"].copy()
    finally:
        pre.close()
