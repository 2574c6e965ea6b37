"""2D object detection behind one interface: ``ObjectDetector.detect(rgb)``.

Two real pretrained detectors (fetched at set-up by objects/fetch_models.py):

* ``ssd_oidv4`` - SSD MobileNetV2 trained on Open Images V4 (24 classes), the
  detector stage of MediaPipe Objectron (Apache-2.0), on ai-edge-litert (CPU).
  Pre/post-processing constants, from google/mediapipe
  mediapipe/modules/objectron/object_detection_oid_v4_cpu.pbtxt and
  calculators/tflite/ssd_anchors_calculator.cc, checked against the tensor
  shapes (1x300x300x3 in, 1x1917x4 + 1x1917x24 out): input stretched to
  300x300, RGB in [-1, 1]; anchors num_layers 6, min/max scale 0.2/0.95,
  strides 16..512, aspect ratios 1, 2, 0.5, 3, 1/3 plus the interpolated
  scale, 3 anchors in the lowest layer (reduce_boxes_in_lowest_layer)
  = 19*19*3 + (10*10 + 5*5 + 3*3 + 2*2 + 1) * 6 = 1917; boxes (ty, tx, th, tw)
  with scales 10, 10, 5, 5 (the TF object detection box coder); class 0 is
  background; scores sigmoid.
* ``yolov3_tiny`` - YOLOv3-tiny (COCO 80 classes), converted to ONNX at
  set-up, run through the engine layer (engine/): ONNX Runtime on CPU here,
  TensorRT or the CUDA EP with ``backend="auto"`` on a GPU. This is the
  engine-layer path: any detector exported to this contract
  (contracts/yolov3_tiny.yaml) runs the same way.

Every detection carries the detector's label and its HOI vocabulary name.
docs/objects.md has the measured comparison that picked the CPU default.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception import paths
from hoi_perception.objects.vocabulary import to_hoi

log = logging.getLogger(__name__)

DETECTORS = ("ssd_oidv4", "yolov3_tiny")
DEFAULT_DETECTOR = "ssd_oidv4"


@dataclass
class ObjectDetection:
    """One 2D detection in image pixels (x0, y0, x1, y1)."""

    box: tuple[float, float, float, float]
    score: float
    label: str  # the detector's class name
    hoi_class: str | None  # vocabulary name (objects/vocabulary.py), None if outside it
    source: str

    @property
    def center(self) -> tuple[float, float]:
        return (0.5 * (self.box[0] + self.box[2]), 0.5 * (self.box[1] + self.box[3]))


@runtime_checkable
class ObjectDetector(Protocol):
    name: str
    labels: list[str]

    def detect(self, rgb: NDArray[np.uint8]) -> list[ObjectDetection]:
        """rgb (H, W, 3) uint8 RGB -> detections in pixels, best first."""
        ...


def nms(boxes: NDArray[np.float64], scores: NDArray[np.float64], classes: NDArray[np.int64],
        iou: float, max_out: int) -> NDArray[np.int64]:
    """Per-class hard NMS (boxes of different classes never suppress each other)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    # offsetting each class far apart makes one pass per-class
    off = boxes + (classes.astype(np.float64) * (boxes.max() + 1.0))[:, None]
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    area = (off[:, 2] - off[:, 0]) * (off[:, 3] - off[:, 1])
    while order.size and len(keep) < max_out:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        ix = np.clip(np.minimum(off[i, 2], off[rest, 2]) - np.maximum(off[i, 0], off[rest, 0]), 0, None)
        iy = np.clip(np.minimum(off[i, 3], off[rest, 3]) - np.maximum(off[i, 1], off[rest, 1]), 0, None)
        inter = ix * iy
        ov = inter / np.maximum(area[i] + area[rest] - inter, 1e-12)
        order = rest[ov <= iou]
    return np.array(keep, dtype=np.int64)


def _valid_rgb(rgb: object) -> bool:
    return isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8 \
        and rgb.shape[0] >= 8 and rgb.shape[1] >= 8


# ---------------------------------------------------------------- SSD (OIDv4)

SSD_SIZE = 300
SSD_NUM_ANCHORS = 1917
SSD_NUM_CLASSES = 24
SSD_BOX_SCALE = (10.0, 10.0, 5.0, 5.0)  # y, x, h, w


def ssd_anchors(size: int = SSD_SIZE, num_layers: int = 6, min_scale: float = 0.2, max_scale: float = 0.95,
                strides: tuple[int, ...] = (16, 32, 64, 128, 256, 512),
                aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 0.3333)) -> NDArray[np.float64]:
    """(1917, 4) anchors (cy, cx, h, w) normalised, as MediaPipe's SsdAnchorsCalculator
    with reduce_boxes_in_lowest_layer and interpolated_scale_aspect_ratio 1."""
    def scale_at(i: int) -> float:
        return (min_scale + max_scale) / 2 if num_layers == 1 else min_scale + (max_scale - min_scale) * i / (num_layers - 1)

    out = []
    layer = 0
    while layer < num_layers:
        ratios: list[float] = []
        scales: list[float] = []
        last = layer
        while last < num_layers and strides[last] == strides[layer]:
            s = scale_at(last)
            if last == 0:
                ratios += [1.0, 2.0, 0.5]
                scales += [0.1, s, s]
            else:
                ratios += list(aspect_ratios)
                scales += [s] * len(aspect_ratios)
                s_next = 1.0 if last == num_layers - 1 else scale_at(last + 1)
                ratios.append(1.0)
                scales.append(math.sqrt(s * s_next))
            last += 1
        fm = math.ceil(size / strides[layer])
        hw = [(sc / math.sqrt(r), sc * math.sqrt(r)) for sc, r in zip(scales, ratios, strict=True)]
        for y in range(fm):
            for x in range(fm):
                for h, w in hw:
                    out.append(((y + 0.5) / fm, (x + 0.5) / fm, h, w))
        layer = last
    a = np.array(out, dtype=np.float64)
    assert a.shape == (SSD_NUM_ANCHORS, 4), a.shape
    return a


def decode_ssd(raw_boxes: NDArray[np.float32], raw_scores: NDArray[np.float32], anchors: NDArray[np.float64],
               image_wh: tuple[int, int], min_score: float) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                                     NDArray[np.int64]]:
    """Boxes (N, 4) xyxy pixels, scores, class ids (background excluded), above min_score."""
    scores = 1.0 / (1.0 + np.exp(-raw_scores.reshape(SSD_NUM_ANCHORS, SSD_NUM_CLASSES)[:, 1:].astype(np.float64)))
    cls = scores.argmax(1)
    best = scores[np.arange(len(cls)), cls]
    keep = np.flatnonzero(best >= min_score)
    rb = raw_boxes.reshape(SSD_NUM_ANCHORS, 4)[keep].astype(np.float64)
    a = anchors[keep]
    sy, sx, sh, sw = SSD_BOX_SCALE
    cy = rb[:, 0] / sy * a[:, 2] + a[:, 0]
    cx = rb[:, 1] / sx * a[:, 3] + a[:, 1]
    h = np.exp(rb[:, 2] / sh) * a[:, 2]
    w = np.exp(rb[:, 3] / sw) * a[:, 3]
    iw, ih = image_wh
    boxes = np.stack([(cx - w / 2) * iw, (cy - h / 2) * ih, (cx + w / 2) * iw, (cy + h / 2) * ih], axis=1)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, iw - 1)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, ih - 1)
    return boxes, best[keep], cls[keep] + 1


class SsdOidv4Detector:
    """SSD MobileNetV2 Open Images V4 (MediaPipe Objectron's detector) on ai-edge-litert."""

    name = "ssd_mobilenetv2_oidv4:ai-edge-litert-cpu"

    def __init__(self, model_dir: str | Path | None = None, num_threads: int = 2, min_score: float = 0.4,
                 nms_iou: float = 0.45, max_detections: int = 30, keep_unmapped: bool = False) -> None:
        from ai_edge_litert.interpreter import Interpreter

        from hoi_perception.objects.fetch_models import SSD_FILE, SSD_LABELS

        folder = paths.model_folder("objects", model_dir)
        self.interp = Interpreter(model_path=str(folder / SSD_FILE), num_threads=num_threads)
        self.interp.allocate_tensors()
        inp = self.interp.get_input_details()[0]
        if tuple(inp["shape"]) != (1, SSD_SIZE, SSD_SIZE, 3):
            raise ValueError(f"{SSD_FILE}: input shape {inp['shape']} is not 1x300x300x3")
        self._in = inp["index"]
        outs = {tuple(d["shape"]): d["index"] for d in self.interp.get_output_details()}
        self._boxes = outs[(1, SSD_NUM_ANCHORS, 4)]
        self._scores = outs[(1, SSD_NUM_ANCHORS, SSD_NUM_CLASSES)]
        self.labels = [s.strip() for s in (folder / SSD_LABELS).read_text().splitlines()]
        self.anchors = ssd_anchors()
        self.min_score, self.nms_iou, self.max_detections = min_score, nms_iou, max_detections
        self.keep_unmapped = keep_unmapped

    def detect(self, rgb: NDArray[np.uint8]) -> list[ObjectDetection]:
        if not _valid_rgb(rgb):
            raise ValueError(f"detector input must be HxWx3 uint8 RGB, got {getattr(rgb, 'shape', None)}")
        h, w = rgb.shape[:2]
        x = cv2.resize(rgb, (SSD_SIZE, SSD_SIZE), interpolation=cv2.INTER_LINEAR)
        self.interp.set_tensor(self._in, (x.astype(np.float32) * np.float32(2 / 255) - np.float32(1))[None])
        self.interp.invoke()
        boxes, scores, cls = decode_ssd(self.interp.get_tensor(self._boxes), self.interp.get_tensor(self._scores),
                                        self.anchors, (w, h), self.min_score)
        return _to_detections(boxes, scores, cls, self.labels, self.nms_iou, self.max_detections, self.name,
                              self.keep_unmapped)


# ---------------------------------------------------------------- YOLOv3-tiny

YOLO_SIZE = 416
# anchors (pixels at 416) per head in output order. The cfg's second [yolo]
# says mask = 0,1,2, but these weights were trained with 1,2,3 (the
# AlexeyAB/darknet cfg/yolov3-tiny.cfg fix); with 0,1,2 every box from the
# fine head came out about half size on vtest.avi, with 1,2,3 they fit.
YOLO_ANCHORS = (((81.0, 82.0), (135.0, 169.0), (344.0, 319.0)), ((23.0, 27.0), (37.0, 58.0), (81.0, 82.0)))


def letterbox_yolo(rgb: NDArray[np.uint8], size: int = YOLO_SIZE) -> tuple[NDArray[np.float32], float, int, int]:
    """Keep-aspect resize into size x size with 0.5 grey border, NCHW float in [0, 1]."""
    h, w = rgb.shape[:2]
    s = min(size / w, size / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    canvas = np.full((size, size, 3), 128, dtype=np.uint8)
    ox, oy = (size - nw) // 2, (size - nh) // 2
    canvas[oy:oy + nh, ox:ox + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    t = canvas.transpose(2, 0, 1)[None].astype(np.float32) * np.float32(1 / 255)
    return np.ascontiguousarray(t), s, ox, oy


def decode_yolo(maps: list[NDArray[np.float32]], anchors: tuple, scale: float, ox: int, oy: int,
                image_wh: tuple[int, int], min_score: float,
                size: int = YOLO_SIZE) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    all_boxes, all_scores, all_cls = [], [], []
    for m, anc in zip(maps, anchors, strict=True):
        _, ch, gh, gw = m.shape
        nc = ch // len(anc) - 5
        p = m.reshape(len(anc), 5 + nc, gh, gw).astype(np.float64)
        sig = 1.0 / (1.0 + np.exp(-p[:, [0, 1, 4]]))
        obj = sig[:, 2]
        cls_p = 1.0 / (1.0 + np.exp(-p[:, 5:]))
        cls = cls_p.argmax(1)
        conf = obj * np.take_along_axis(cls_p, cls[:, None], 1)[:, 0]
        a_i, gy, gx = np.nonzero(conf >= min_score)
        if a_i.size == 0:
            continue
        aw = np.array([a[0] for a in anc])[a_i]
        ah = np.array([a[1] for a in anc])[a_i]
        cx = (gx + sig[a_i, 0, gy, gx]) / gw * size
        cy = (gy + sig[a_i, 1, gy, gx]) / gh * size
        bw = np.exp(p[a_i, 2, gy, gx]) * aw
        bh = np.exp(p[a_i, 3, gy, gx]) * ah
        b = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        b[:, [0, 2]] = (b[:, [0, 2]] - ox) / scale
        b[:, [1, 3]] = (b[:, [1, 3]] - oy) / scale
        all_boxes.append(b)
        all_scores.append(conf[a_i, gy, gx])
        all_cls.append(cls[a_i, gy, gx])
    if not all_boxes:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64)
    boxes = np.concatenate(all_boxes)
    iw, ih = image_wh
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, iw - 1)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, ih - 1)
    return boxes, np.concatenate(all_scores), np.concatenate(all_cls).astype(np.int64)


class YoloV3TinyDetector:
    """YOLOv3-tiny (COCO) through the engine layer (ONNX Runtime CPU by default)."""

    def __init__(self, model_dir: str | Path | None = None, backend: str = "onnxruntime:cpu",
                 min_score: float = 0.3, nms_iou: float = 0.45, max_detections: int = 30,
                 keep_unmapped: bool = False, model_file: str | None = None) -> None:
        from hoi_perception.engine import create_engine
        from hoi_perception.objects.fetch_models import YOLO_ONNX

        folder = paths.model_folder("objects", model_dir)
        self.engine = create_engine(folder / (model_file or YOLO_ONNX), "yolov3_tiny", backend=backend)
        self.labels = [s.strip() for s in (folder / "coco.names").read_text().splitlines() if s.strip()]
        self.name = f"yolov3_tiny_coco:{getattr(self.engine, 'backend_name', backend)}"
        self.min_score, self.nms_iou, self.max_detections = min_score, nms_iou, max_detections
        self.keep_unmapped = keep_unmapped

    def detect(self, rgb: NDArray[np.uint8]) -> list[ObjectDetection]:
        if not _valid_rgb(rgb):
            raise ValueError(f"detector input must be HxWx3 uint8 RGB, got {getattr(rgb, 'shape', None)}")
        h, w = rgb.shape[:2]
        t, s, ox, oy = letterbox_yolo(rgb)
        out = self.engine.run({"images": t})
        boxes, scores, cls = decode_yolo([out["yolo0"], out["yolo1"]], YOLO_ANCHORS, s, ox, oy, (w, h),
                                         self.min_score)
        return _to_detections(boxes, scores, cls, self.labels, self.nms_iou, self.max_detections, self.name,
                              self.keep_unmapped)


def _to_detections(boxes: NDArray[np.float64], scores: NDArray[np.float64], cls: NDArray[np.int64],
                   labels: list[str], nms_iou: float, max_out: int, source: str,
                   keep_unmapped: bool) -> list[ObjectDetection]:
    keep = nms(boxes, scores, cls, nms_iou, max_out)
    out = []
    for i in keep:
        label = labels[int(cls[i])] if int(cls[i]) < len(labels) else str(int(cls[i]))
        hoi = to_hoi(label)
        b = boxes[i]
        if (hoi is None and not keep_unmapped) or b[2] - b[0] < 2 or b[3] - b[1] < 2:
            continue
        out.append(ObjectDetection(box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])), score=float(scores[i]),
                                   label=label, hoi_class=hoi, source=source))
    return out


def make_object_detector(name: str = DEFAULT_DETECTOR, **kw: object) -> ObjectDetector:
    """Detector by name: "ssd_oidv4" (CPU default) or "yolov3_tiny" (engine layer)."""
    key = name.strip().lower()
    if key == "ssd_oidv4":
        kw.pop("backend", None)
        return SsdOidv4Detector(**kw)  # type: ignore[arg-type]
    if key == "yolov3_tiny":
        kw.pop("num_threads", None)
        return YoloV3TinyDetector(**kw)  # type: ignore[arg-type]
    raise ValueError(f"unknown object detector {name!r}; one of {', '.join(DETECTORS)}")
