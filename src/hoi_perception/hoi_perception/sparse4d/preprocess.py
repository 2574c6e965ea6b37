"""Pre-processing for N cameras: frames -> img (1,N,3,540,960) float32, projection_mat, image_wh.

Speed: one cv2.resize into a preallocated uint8 buffer per camera, then one
cv2.split and a cv2.addWeighted per channel that writes (x - mean) / std as
float32 straight into the camera's plane of the preallocated NCHW tensor (no
intermediate float image, no transpose copy). Cameras run on a thread pool
(OpenCV releases the GIL).

projection_mat follows the TAO Sparse4D dataset (Omniverse3DDetTrackDataset.
get_data_info: lidar2img = viewpad(K) @ world->camera) with the intrinsics scaled
to the network input as the mmdet ResizeCropFlipImage transform does (plain
scale of fx, cx by W_in/W_calib and fy, cy by H_in/H_calib; test-time crop is 0).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception.geometry.camera import PinholeCamera
from hoi_perception.sparse4d.constants import IMAGE_MEAN_RGB, IMAGE_STD_RGB, INPUT_H, INPUT_W

log = logging.getLogger(__name__)


def projection_matrix(camera: PinholeCamera, input_wh: tuple[int, int] = (INPUT_W, INPUT_H)) -> NDArray[np.float32]:
    """4x4 world -> network-input pixels: diag(sx, sy, 1, 1) @ [K 0; 0 1] @ camera_from_world."""
    sx = input_wh[0] / float(camera.width)
    sy = input_wh[1] / float(camera.height)
    k4 = np.eye(4)
    k4[:3, :3] = camera.k
    scale = np.diag([sx, sy, 1.0, 1.0])
    return (scale @ k4 @ camera.camera_from_world).astype(np.float32)


class Sparse4DPreprocessor:
    """Preallocated multi-camera pre-processing. Not thread-safe: one instance per tracker.

    ``encoding`` is the channel order of the incoming frames ("rgb8" or "bgr8"); the
    network takes RGB (mmdet to_rgb=True with the ImageNet mean/std).
    """

    def __init__(
        self,
        cameras: Sequence[PinholeCamera],
        input_wh: tuple[int, int] = (INPUT_W, INPUT_H),
        mean_rgb: Sequence[float] = IMAGE_MEAN_RGB,
        std_rgb: Sequence[float] = IMAGE_STD_RGB,
        encoding: str = "rgb8",
        num_threads: int | None = None,
    ) -> None:
        if encoding not in ("rgb8", "bgr8"):
            raise ValueError(f"encoding must be rgb8 or bgr8, got {encoding!r}")
        self.cameras = list(cameras)
        self.input_wh = (int(input_wh[0]), int(input_wh[1]))
        self.encoding = encoding
        n = len(self.cameras)
        w, h = self.input_wh
        self.img = np.zeros((1, n, 3, h, w), dtype=np.float32)
        self._resized = [np.empty((h, w, 3), dtype=np.uint8) for _ in range(n)]
        # Channel c of the output reads source channel _src_ch[c] (RGB out from BGR in).
        self._src_ch = (2, 1, 0) if encoding == "bgr8" else (0, 1, 2)
        self._alpha = [1.0 / float(s) for s in std_rgb]
        self._beta = [-float(m) / float(s) for m, s in zip(mean_rgb, std_rgb, strict=True)]
        self.projection_mat = np.stack([projection_matrix(c, self.input_wh) for c in self.cameras])[None]
        self.image_wh = np.tile(np.array([w, h], dtype=np.float32), (1, n, 1))
        workers = num_threads if num_threads is not None else min(n, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers)) if workers > 1 and n > 1 else None
        self.counters = {"missing_frames": 0, "bad_frames": 0, "aspect_mismatch": 0}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def _one(self, i: int, frame: NDArray[np.uint8] | None) -> str | None:
        plane = self.img[0, i]
        if frame is None:
            # A dropped frame is fed as the mean colour (0 after normalisation).
            plane.fill(0.0)
            return "missing_frames"
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] not in (3, 4):
            plane.fill(0.0)
            return "bad_frames"
        if frame.shape[2] == 4:
            frame = frame[..., :3]
        cam = self.cameras[i]
        tag = None
        if abs(frame.shape[1] * cam.height - frame.shape[0] * cam.width) > max(cam.width, cam.height):
            tag = "aspect_mismatch"
        rs = self._resized[i]
        interp = cv2.INTER_AREA if frame.shape[1] >= 2 * self.input_wh[0] + 1 else cv2.INTER_LINEAR
        cv2.resize(frame, self.input_wh, dst=rs, interpolation=interp)
        chans = cv2.split(rs)
        for c in range(3):
            src = chans[self._src_ch[c]]
            cv2.addWeighted(src, self._alpha[c], src, 0.0, self._beta[c], dst=plane[c], dtype=cv2.CV_32F)
        return tag

    def __call__(self, frames: Sequence[NDArray[np.uint8] | None]) -> dict[str, NDArray]:
        """Frames in camera order -> {"img", "projection_mat", "image_wh"} (views of internal buffers)."""
        n = len(self.cameras)
        if len(frames) != n:
            raise ValueError(f"expected {n} frames, got {len(frames)}")
        if self._pool is not None:
            tags = list(self._pool.map(self._one, range(n), frames))
        else:
            tags = [self._one(i, f) for i, f in enumerate(frames)]
        for i, t in enumerate(tags):
            if t is not None:
                self.counters[t] += 1
                log.debug("camera %s: %s", self.cameras[i].name, t)
        return {"img": self.img, "projection_mat": self.projection_mat, "image_wh": self.image_wh}
