"""HOG people detector (Dalal & Triggs, CVPR 2005) as a person box source.

OpenCV's own ``cv2.HOGDescriptor`` with its default people SVM
(``HOGDescriptor.getDefaultPeopleDetector()``, the detector of OpenCV's
``samples/python/peopledetect.py``, which runs on vtest.avi). OpenCV 5 moved
HOG out of the main modules, so the project pins opencv-contrib-python-headless
(same version as the main wheel it replaces); nothing is downloaded.

The descriptor (64x128 window, 16x16 blocks at stride 8, 8x8 cells, 9 unsigned
bins, L2-Hys) and the pyramid search (factor ``scale``, windows every
``win_stride`` pixels, frames reflect-padded by ``pad``) are OpenCV's
(modules/objdetect/src/hog.cpp in OpenCV 4; xobjdetect in opencv_contrib 5).
``detectMultiScale`` is called with ``groupThreshold`` 0, which returns every
raw window with its SVM margin; the windows are merged here by greedy NMS and a
kept box needs ``min_hits`` raw windows (OpenCV's grouping in spirit: isolated
single-window hits are mostly clutter) so boxes keep the best window's margin.

Box tightening: the 64x128 window holds a person about 48x96 px (Dalal &
Triggs train on 96 px tall people with a 16 px margin above and below; the
side margin is 8 px for the average shoulder width, as OpenCV's peopledetect
sample's ~0.8 width shrink), so each hit is shrunk by ``pad_x`` = 8/64 of its
width on each side and ``pad_y`` = 16/128 of its height at top and bottom.
The landmark stage enlarges person boxes again for its ROI.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception.bodypose.types import PersonBox

log = logging.getLogger(__name__)

WIN_W, WIN_H = 64, 128
CELL = 8
DESCRIPTOR_SIZE = 3780  # 7 x 15 blocks x 36
PAD_X = 8.0 / WIN_W  # window margin beside the person, fraction of the window width
PAD_Y = 16.0 / WIN_H  # margin above the head and below the feet
# Frames are enlarged by this first: people down to ~77 px tall fit the 96 px
# person of the window. On vtest.avi at 640x480 (pedestrians ~80 px) BlazePose
# on these boxes gives 3.1 poses per frame at 1.25 against 1.4 at 1.0, at 9
# against 15 fps (scripts/bench_bodypose.py); max_side caps the cost on HD frames.
DEFAULT_UPSCALE = 1.25


def people_hog(max_levels: int = 64) -> cv2.HOGDescriptor:
    """OpenCV's default 64x128 HOG (the values of its default constructor:
    gamma correction on, L2-Hys 0.2, Gaussian window sigma from the block)
    with ``max_levels`` pyramid levels and the default people SVM set."""
    if not hasattr(cv2, "HOGDescriptor"):
        raise ImportError(f"cv2 {cv2.__version__} at {cv2.__file__} has no HOGDescriptor: install "
                          "opencv-contrib-python-headless (make setup does; OpenCV 5 keeps HOG in contrib)")
    default = cv2.HOGDescriptor()
    # nlevels is read-only from Python: only the full constructor sets it
    hog = cv2.HOGDescriptor((WIN_W, WIN_H), (16, 16), (CELL, CELL), (CELL, CELL), 9, default.derivAperture,
                            default.winSigma, default.histogramNormType, default.L2HysThreshold,
                            default.gammaCorrection, int(max_levels), default.signedGradient)
    hog.setSVMDetector(cv2.HOGDescriptor.getDefaultPeopleDetector())
    return hog


def load_people_svm() -> tuple[NDArray[np.float32], float]:
    """OpenCV's default people SVM: 3780 weights (descriptor order) and the bias rho."""
    d = np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32).reshape(-1)
    return d[:-1].copy(), float(d[-1])


def nms(boxes: NDArray[np.float64], scores: NDArray[np.float64], iou: float,
        min_hits: int = 1) -> list[tuple[int, int]]:
    """Greedy NMS; returns (kept index, cluster size) with cluster size >= min_hits.
    A box also joins a cluster when it lies mostly (> 70%) inside the kept one."""
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    out = []
    while order.size:
        i = order[0]
        rest = order[1:]
        ix = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        iy = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = ix * iy
        ov = inter / (area[i] + area[rest] - inter)
        inside = inter / np.maximum(area[rest], 1e-9)
        member = (ov > iou) | (inside > 0.7)
        if 1 + int(member.sum()) >= min_hits:
            out.append((int(i), 1 + int(member.sum())))
        order = rest[~member]
    return out


@dataclass
class HogHit:
    box: tuple[float, float, float, float]  # the 64x128 window in image pixels
    score: float  # SVM margin w . x + rho


class HogPersonDetector:
    """HOG + linear SVM people detector (cv2.HOGDescriptor); a ``BoxSource``
    (name ``"hog"``).

    scale:         pyramid factor between levels (OpenCV default 1.05).
    win_stride:    window step in pixels, a multiple of 8.
    hit_threshold: minimum SVM margin of a raw window (OpenCV ``hitThreshold``).
    nms_iou:       IoU above which raw hits merge into the best one.
    min_hits:      raw windows a kept detection needs.
    upscale:       the frame is first resized by this (people under ~96 px need > 1).
    max_side:      frames whose long side (after ``upscale``) exceeds this are
                   downscaled to it first (speed); boxes come back in frame pixels.
    pad:           border in pixels (at the working resolution), OpenCV ``padding``.
    tighten:       shrink windows to the person inside (PAD_X, PAD_Y).
    min_height:    drop detections shorter than this, frame pixels.
    max_levels:    pyramid levels at most (OpenCV ``nlevels``).

    ``PersonBox.score`` is the logistic of the SVM margin (monotone in it;
    margin 0 is 0.5); ``detect`` returns the raw margins.
    """

    name = "hog"

    def __init__(self, scale: float = 1.05, win_stride: int = 8, hit_threshold: float = 0.0, nms_iou: float = 0.3,
                 min_hits: int = 2, upscale: float = DEFAULT_UPSCALE, max_side: int = 1000, pad: int = 16, tighten: bool = True,
                 min_height: float = 0.0, max_levels: int = 64) -> None:
        if scale <= 1.0:
            raise ValueError("scale must be > 1")
        if win_stride <= 0 or win_stride % CELL:
            raise ValueError("win_stride must be a positive multiple of 8")
        if upscale <= 0 or max_side < WIN_H:
            raise ValueError(f"upscale must be > 0 and max_side >= {WIN_H}")
        self.scale = float(scale)
        self.win_stride = int(win_stride)
        self.hit_threshold = float(hit_threshold)
        self.nms_iou = float(nms_iou)
        self.min_hits = max(1, int(min_hits))
        self.upscale = float(upscale)
        self.max_side = int(max_side)
        self.pad = int(math.ceil(max(0, pad) / CELL) * CELL)
        self.tighten = tighten
        self.min_height = float(min_height)
        self.max_levels = int(max_levels)
        self.hog = people_hog(self.max_levels)
        self.counters: dict[str, int] = {"frames": 0, "raw_hits": 0, "detections": 0, "bad_input": 0}

    def raw_hits(self, rgb: NDArray[np.uint8]) -> list[HogHit]:
        """All windows over the pyramid with margin >= hit_threshold (frame pixels)."""
        h, w = rgb.shape[:2]
        f = self.upscale
        if max(h, w) * f > self.max_side:
            f = self.max_side / max(h, w)
        base = rgb if f == 1.0 else cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))),
                                               interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        if base.shape[0] < WIN_H or base.shape[1] < WIN_W:
            return []
        rects, weights = self.hog.detectMultiScale(base, hitThreshold=self.hit_threshold,
                                                   winStride=(self.win_stride, self.win_stride),
                                                   padding=(self.pad, self.pad), scale=self.scale, groupThreshold=0)
        if len(rects) == 0:
            return []
        r = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / f
        sv = np.asarray(weights, dtype=np.float64).reshape(-1)
        return [HogHit((x, y, x + bw, y + bh), float(s)) for (x, y, bw, bh), s in zip(r, sv, strict=True)]

    def detect(self, rgb: NDArray[np.uint8]) -> list[HogHit]:
        """Merged detections: the best window of each NMS cluster (untightened)."""
        hits = self.raw_hits(rgb)
        self.counters["raw_hits"] += len(hits)
        if not hits:
            return []
        b = np.array([x.box for x in hits])
        sv = np.array([x.score for x in hits])
        return [hits[i] for i, _ in nms(b, sv, self.nms_iou, self.min_hits)]

    def boxes(self, rgb: NDArray[np.uint8], k: NDArray[np.float64] | None = None) -> list[PersonBox]:
        self.counters["frames"] += 1
        if rgb is None or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            self.counters["bad_input"] += 1
            log.warning("hog: bad input image %s", getattr(rgb, "shape", None))
            return []
        h, w = rgb.shape[:2]
        out = []
        for d in self.detect(rgb):
            x0, y0, x1, y1 = d.box
            if self.tighten:
                dx, dy = PAD_X * (x1 - x0), PAD_Y * (y1 - y0)
                x0, y0, x1, y1 = x0 + dx, y0 + dy, x1 - dx, y1 - dy
            x0, y0 = max(0.0, x0), max(0.0, y0)
            x1, y1 = min(w - 1.0, x1), min(h - 1.0, y1)
            if y1 - y0 < max(self.min_height, 2.0) or x1 - x0 < 2.0:
                continue
            score = 1.0 / (1.0 + math.exp(-d.score))
            out.append(PersonBox(x0, y0, x1, y1, score=score, source=self.name))
        self.counters["detections"] += len(out)
        return out
