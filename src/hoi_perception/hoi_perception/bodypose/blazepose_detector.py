"""BlazePose person detector (``pose_detection.tflite``) on CPU with ai-edge-litert,
and the pose ROI geometry it shares with the landmark stage (blazepose.py).

Its own module so box sources (box_sources.py) and the estimator can share
one detector instance without importing each other. Numbers were read in
github google-ai-edge/mediapipe (commit 85c0cdc7), cited as [MP] with the
file under mediapipe/, and checked against the tflite tensor shapes:

* detector [MP modules/pose_detection/pose_detection_cpu.pbtxt]: input 1x224x224x3
  RGB in [-1, 1], aspect kept by zero letterboxing; SSD anchors num_layers=5,
  strides 8,16,32,32,32, aspect_ratios 1.0, fixed_anchor_size, anchor offset
  0.5 (interpolated_scale_aspect_ratio default 1.0 [MP calculators/tflite/
  ssd_anchors_calculator.proto] gives 2 anchors per cell: 28*28*2 + 14*14*2 +
  7*7*6 = 2254); outputs 1x2254x12 and 1x2254x1; 12 = box (x, y, w, h,
  reverse_output_order) + 4 keypoints (x, y), scaled by 224 relative to the
  anchor centre [MP calculators/tensor/tensors_to_detections_calculator.cc
  DecodeBoxes]; score sigmoid(clip(raw, +-100)) >= 0.5; weighted NMS with IoU
  0.3 [MP calculators/util/non_max_suppression_calculator.cc]; letterbox removed.
* ROI [MP modules/pose_landmark/pose_detection_to_roi.pbtxt]: centre = keypoint 0
  (hip centre), size = 2 |kp1 - kp0|, rotation = 90 deg - atan2(-(y1 - y0), x1 - x0)
  [MP calculators/util/detections_to_rects_calculator.cc ComputeRotation],
  then scale 1.25 and square on the long side [MP calculators/util/
  rect_transformation_calculator.cc].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception.bodypose.types import PersonBox, iou_matrix

DETECTOR_FILE = "pose_detection.tflite"
DET_SIZE = 224
LM_SIZE = 256  # the landmark model's input side (Roi.matrix maps into it)
NUM_ANCHORS = 2254
ROI_SCALE = 1.25
SCORE_CLIP = 100.0
MIN_DET_SCORE = 0.5
NMS_IOU = 0.3


def ssd_anchors() -> NDArray[np.float32]:
    """Anchor centres (2254, 2) in [0, 1] of the 224x224 detector input;
    fixed_anchor_size makes every anchor 1x1, so only centres matter."""
    strides = [8, 16, 32, 32, 32]
    out = []
    layer = 0
    while layer < len(strides):
        # layers with the same stride share one grid; each layer adds 2
        # anchors per cell (aspect 1.0 + interpolated scale)
        last = layer
        n_per_cell = 0
        while last < len(strides) and strides[last] == strides[layer]:
            n_per_cell += 2
            last += 1
        fm = math.ceil(DET_SIZE / strides[layer])
        ys, xs = np.meshgrid((np.arange(fm) + 0.5) / fm, (np.arange(fm) + 0.5) / fm, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(centres, n_per_cell, axis=0))
        layer = last
    anchors = np.concatenate(out).astype(np.float32)
    assert anchors.shape == (NUM_ANCHORS, 2)
    return anchors


@dataclass
class Letterbox:
    scale: float  # input pixels per image pixel
    pad: tuple[float, float, float, float]  # left, top, right, bottom as fractions of the input


def letterbox(rgb: NDArray[np.uint8], size: int = DET_SIZE) -> tuple[NDArray[np.float32], Letterbox]:
    """Keep-aspect resize into size x size, centred, zero border, to [-1, 1]."""
    h, w = rgb.shape[:2]
    s = size / max(w, h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    ox, oy = (size - nw) // 2, (size - nh) // 2
    canvas[oy:oy + nh, ox:ox + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    t = canvas.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
    pad = (ox / size, oy / size, (size - nw - ox) / size, (size - nh - oy) / size)
    return t[None], Letterbox(scale=s, pad=pad)


@dataclass
class Detection:
    """Detector output in image pixels (pixel centres at integers)."""

    box: NDArray[np.float64]  # x0, y0, x1, y1 (the detector's box: around the face/head)
    keypoints: NDArray[np.float64]  # (4, 2): hip centre, body scale point, shoulder centre, upper-body scale
    score: float


def decode_detections(raw_boxes: NDArray[np.float32], raw_scores: NDArray[np.float32],
                      anchors: NDArray[np.float32], lb: Letterbox, image_size: tuple[int, int],
                      min_score: float = MIN_DET_SCORE, nms_iou: float = NMS_IOU) -> list[Detection]:
    raw_boxes = raw_boxes.reshape(NUM_ANCHORS, 12)
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(NUM_ANCHORS).astype(np.float64), -SCORE_CLIP, SCORE_CLIP)))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return []
    rb = raw_boxes[keep].astype(np.float64)
    anc = anchors[keep].astype(np.float64)
    cxy = rb[:, 0:2] / DET_SIZE + anc
    wh = rb[:, 2:4] / DET_SIZE
    boxes = np.concatenate([cxy - wh / 2, cxy + wh / 2], axis=1)  # normalised xyxy in the letterboxed input
    kps = rb[:, 4:12].reshape(-1, 4, 2) / DET_SIZE + anc[:, None, :]
    sc = scores[keep]
    # weighted NMS: every cluster member contributes score-weighted box and keypoints
    order = np.argsort(-sc, kind="stable")
    remaining = order
    dets_norm = []
    while remaining.size:
        top = remaining[0]
        ious = iou_matrix(boxes[top][None], boxes[remaining])[0]
        members = remaining[ious > nms_iou]
        if members.size == 0:  # degenerate box: still emit it alone
            members = remaining[:1]
        wts = sc[members][:, None]
        box = (boxes[members] * wts).sum(0) / wts.sum()
        kp = (kps[members] * wts[:, :, None]).sum(0) / wts.sum()
        dets_norm.append((box, kp, float(sc[top])))
        remaining = remaining[~np.isin(remaining, members)]
    w, h = image_size
    left, top_, right, bottom = lb.pad
    out = []
    for box, kp, score in dets_norm:
        # letterbox removal, then normalised -> continuous pixels -> pixel-centre coordinates
        def unpad(xy: NDArray[np.float64]) -> NDArray[np.float64]:
            x = (xy[..., 0] - left) / (1.0 - left - right) * w - 0.5
            y = (xy[..., 1] - top_) / (1.0 - top_ - bottom) * h - 0.5
            return np.stack([x, y], axis=-1)
        b = unpad(box.reshape(2, 2)).reshape(4)
        out.append(Detection(box=b, keypoints=unpad(kp), score=score))
    return out


@dataclass
class Roi:
    """Rotated square region in image pixels (centre in pixel-centre coordinates)."""

    cx: float
    cy: float
    size: float
    rotation: float  # radians, as mediapipe NormalizedRect.rotation

    def matrix(self, out_size: int = LM_SIZE) -> NDArray[np.float64]:
        """2x3 map from tensor pixel (u, v) to image pixel."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        r = np.array([[c, -s], [s, c]]) * self.size
        off = np.array([self.cx, self.cy]) + r @ np.array([0.5 / out_size - 0.5, 0.5 / out_size - 0.5])
        return np.column_stack([r / out_size, off])

    def to_image(self, xy_norm: NDArray[np.float64]) -> NDArray[np.float64]:
        """ROI-normalised (..., 2) in [0, 1] -> image pixels."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        d = (np.asarray(xy_norm, dtype=np.float64) - 0.5) * self.size
        return np.stack([self.cx + c * d[..., 0] - s * d[..., 1], self.cy + s * d[..., 0] + c * d[..., 1]], axis=-1)


def _normalize_radians(a: float) -> float:
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))


def roi_from_points(centre: NDArray[np.float64], scale_point: NDArray[np.float64]) -> Roi:
    """[MP] AlignmentPointsRectsCalculator + RectTransformationCalculator(1.25, square_long)."""
    dx, dy = float(scale_point[0] - centre[0]), float(scale_point[1] - centre[1])
    size = 2.0 * math.hypot(dx, dy) * ROI_SCALE
    rotation = _normalize_radians(math.pi / 2 - math.atan2(-dy, dx))
    return Roi(float(centre[0]), float(centre[1]), size, rotation)


def roi_from_box(box: tuple[float, float, float, float], scale: float = ROI_SCALE) -> Roi:
    """Square, rotation-free ROI around a person box (HOG, external detectors,
    projected tracks), enlarged as mediapipe's pose ROI: the detector's ROI is
    the circle around the whole body (diameter ~ the long side of a tight
    upright person box) scaled by 1.25 [MP pose_detection_to_roi.pbtxt], so
    here side = 1.25 x the long side, centred on the box, rotation 0."""
    x0, y0, x1, y1 = box
    return Roi(0.5 * (x0 + x1), 0.5 * (y0 + y1), max(x1 - x0, y1 - y0) * scale, 0.0)


def litert_interpreter(path: Path, num_threads: int):  # noqa: ANN202 - litert type is not exported
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=num_threads)
    it.allocate_tensors()
    return it


class BlazePoseDetector:
    """BlazePose person detector; also a ``BoxSource`` (boxes carry the 4
    alignment keypoints so the landmark stage can build its rotated ROI)."""

    name = "blazepose_detector"

    def __init__(self, model_path: str | Path, num_threads: int = 2, min_score: float = MIN_DET_SCORE) -> None:
        self.interp = litert_interpreter(Path(model_path), num_threads)
        inp = self.interp.get_input_details()[0]
        assert tuple(inp["shape"]) == (1, DET_SIZE, DET_SIZE, 3), inp["shape"]
        outs = {tuple(d["shape"]): d["index"] for d in self.interp.get_output_details()}
        self._in = inp["index"]
        self._boxes = outs[(1, NUM_ANCHORS, 12)]
        self._scores = outs[(1, NUM_ANCHORS, 1)]
        self.anchors = ssd_anchors()
        self.min_score = min_score

    def detect(self, rgb: NDArray[np.uint8]) -> list[Detection]:
        t, lb = letterbox(rgb)
        self.interp.set_tensor(self._in, t)
        self.interp.invoke()
        h, w = rgb.shape[:2]
        return decode_detections(self.interp.get_tensor(self._boxes), self.interp.get_tensor(self._scores),
                                 self.anchors, lb, (w, h), self.min_score)

    def boxes(self, rgb: NDArray[np.uint8], k: NDArray[np.float64] | None = None) -> list[PersonBox]:
        h, w = rgb.shape[:2]
        out = []
        for d in self.detect(rgb):
            roi = roi_from_points(d.keypoints[0], d.keypoints[1])
            # person box: the body circle (radius |kp1 - kp0|), narrower across
            r = roi.size / (2 * ROI_SCALE)
            cx, cy = d.keypoints[0]
            x0, x1 = max(0.0, cx - 0.6 * r), min(w - 1.0, cx + 0.6 * r)
            y0, y1 = max(0.0, cy - r), min(h - 1.0, cy + r)
            out.append(PersonBox(x0, y0, x1, y1, score=d.score, source=self.name, keypoints=d.keypoints.copy()))
        return out
