"""BlazePose GHUM (full) on CPU with ai-edge-litert: our own pre/post-processing.

Models: ``pose_detection.tflite`` and ``pose_landmark_full.tflite`` (Apache-2.0),
extracted from the mediapipe 0.10.21 wheel by hoi-fetch-models (bodypose/fetch_models.py).
The mediapipe package is not used at run time. Numbers below were read in
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
  rect_transformation_calculator.cc]. On video the next ROI comes from the
  auxiliary landmarks 33 and 34 the same way [MP modules/pose_landmark/
  pose_landmarks_to_roi.pbtxt].
* landmarks [MP modules/pose_landmark/pose_landmark_by_roi_cpu.pbtxt,
  tensors_to_pose_landmarks_and_segmentation.pbtxt]: input 1x256x256x3 RGB in
  [0, 1] sampled from the rotated ROI (border replicate, the
  ImageToTensorCalculator default); outputs 195 = 39 x (x, y, z, visibility,
  presence) in input pixels with sigmoid on visibility and presence, a pose
  presence score (threshold 0.5), a 256x256 segmentation, a 64x64x39 heatmap
  used to refine x, y (kernel 7, min confidence 0.5 [MP calculators/util/
  refine_landmarks_from_heatmap_calculator.cc]), and 117 = 39 x 3 world
  landmarks in metres around the hip centre, rotated back by the ROI rotation
  [MP calculators/util/world_landmark_projection_calculator.cc]. The first 33
  landmarks are the body, 33-34 auxiliary (ROI), the rest unused.

World landmarks have image-aligned axes (x right, y down, z away from the
camera), so after a translation solved against the 2D landmarks and K they
are camera optical frame coordinates; the network's metric scale is kept
unless depth corrects it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception import paths
from hoi_perception.bodypose.depth import correct_scale_with_depth, place_root_relative
from hoi_perception.bodypose.mapping import map_to_bodypose34
from hoi_perception.bodypose.types import BoxSource, PersonBox, PoseResult, iou_matrix

log = logging.getLogger(__name__)

DETECTOR_FILE = "pose_detection.tflite"
LANDMARK_FILE = "pose_landmark_full.tflite"
# folder under the models folder (bodypose/fetch_models.py FAMILY) and its own override
MODEL_FAMILY = "blazepose"
MODEL_DIR_ENV = "HOI_BLAZEPOSE_DIR"
DET_SIZE = 224
LM_SIZE = 256
NUM_ANCHORS = 2254
NUM_LANDMARKS = 39
NUM_BODY = 33
HEATMAP_KERNEL = 7
ROI_SCALE = 1.25
SCORE_CLIP = 100.0
MIN_DET_SCORE = 0.5
NMS_IOU = 0.3
MIN_PRESENCE = 0.5


def default_model_dir() -> Path:
    """The BlazePose model folder, found through hoi_perception.paths:
    $HOI_BLAZEPOSE_DIR, else ``blazepose/`` under $HOI_MODELS_DIR, the install
    prefixes' ``share/hoi_perception/models`` (the venv's under ``make setup``)
    or the user cache. Where none has it, the folder ``hoi-fetch-models``
    writes to, so the loader's missing-file error names a real place."""
    try:
        return paths.models_dir(MODEL_FAMILY, env=MODEL_DIR_ENV)
    except paths.ResourceNotFound:
        return paths.writable_dir("models") / MODEL_FAMILY


def missing_models_message(model_dir: Path, missing: Path) -> str:
    """One line naming the missing file, every folder searched and the fixes."""
    searched = ", ".join(str(c.path / MODEL_FAMILY) for c in paths.candidates("models"))
    return (f"{missing} missing (BlazePose folder {model_dir}; default search: ${MODEL_DIR_ENV}, {searched}): "
            f"run `hoi-fetch-models` (or `make setup`), or point the blazepose_model_dir parameter, "
            f"${MODEL_DIR_ENV} or $HOI_MODELS_DIR at a folder that holds {DETECTOR_FILE} and {LANDMARK_FILE}")


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


def refine_with_heatmap(xy_norm: NDArray[np.float64], heatmap: NDArray[np.float32],
                        kernel: int = HEATMAP_KERNEL, min_conf: float = 0.5) -> NDArray[np.float64]:
    """[MP] RefineLandmarksFromHeatmapCalculator: sigmoid-weighted mean of heatmap
    cell indices in a kernel x kernel window around each landmark."""
    hm_h, hm_w, n = heatmap.shape
    out = xy_norm.copy()
    off = (kernel - 1) // 2
    for i in range(min(n, len(xy_norm))):
        col, row = int(xy_norm[i, 0] * hm_w), int(xy_norm[i, 1] * hm_h)
        if xy_norm[i, 0] < 0 or xy_norm[i, 1] < 0 or col >= hm_w or row >= hm_h:
            continue
        r0, r1 = max(0, row - off), min(hm_h, row + off + 1)
        c0, c1 = max(0, col - off), min(hm_w, col + off + 1)
        conf = 1.0 / (1.0 + np.exp(-heatmap[r0:r1, c0:c1, i].astype(np.float64)))
        total = conf.sum()
        if conf.max() >= min_conf and total > 0:
            rows, cols = np.mgrid[r0:r1, c0:c1]
            out[i, 0] = (cols * conf).sum() / hm_w / total
            out[i, 1] = (rows * conf).sum() / hm_h / total
    return out


@dataclass
class LandmarkOutput:
    image_xy: NDArray[np.float64]  # (39, 2) image pixels
    visibility: NDArray[np.float64]  # (39,)
    presence: NDArray[np.float64]  # (39,)
    world: NDArray[np.float64]  # (39, 3) metres, hip-centred, image-aligned axes
    pose_score: float
    roi: Roi


def decode_landmarks(raw_lm: NDArray[np.float32], pose_flag: NDArray[np.float32], heatmap: NDArray[np.float32] | None,
                     raw_world: NDArray[np.float32], roi: Roi) -> LandmarkOutput:
    lm = raw_lm.reshape(NUM_LANDMARKS, 5).astype(np.float64)
    xy_norm = lm[:, :2] / LM_SIZE
    if heatmap is not None:
        xy_norm = refine_with_heatmap(xy_norm, heatmap.reshape(heatmap.shape[-3:]))
    vis = 1.0 / (1.0 + np.exp(-lm[:, 3]))
    pres = 1.0 / (1.0 + np.exp(-lm[:, 4]))
    world = raw_world.reshape(NUM_LANDMARKS, 3).astype(np.float64)
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    world = np.column_stack([c * world[:, 0] - s * world[:, 1], s * world[:, 0] + c * world[:, 1], world[:, 2]])
    return LandmarkOutput(image_xy=roi.to_image(xy_norm), visibility=vis, presence=pres, world=world,
                          pose_score=float(np.asarray(pose_flag).reshape(-1)[0]), roi=roi)


def _interpreter(path: Path, num_threads: int):  # noqa: ANN202 - litert type is not exported
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=num_threads)
    it.allocate_tensors()
    return it


class BlazePoseDetector:
    """BlazePose person detector; also a ``BoxSource`` (boxes carry the 4
    alignment keypoints so the landmark stage can build its rotated ROI)."""

    name = "blazepose_detector"

    def __init__(self, model_path: str | Path, num_threads: int = 2, min_score: float = MIN_DET_SCORE) -> None:
        self.interp = _interpreter(Path(model_path), num_threads)
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


class BlazePoseEstimator:
    """PoseEstimator running BlazePose GHUM full on CPU (ai-edge-litert).

    Person ROIs come, in order of preference, from ``boxes`` passed to
    ``estimate``, from ``box_source``, or from the BlazePose detector.
    ``box_source`` is a BoxSource or a name for ``box_sources.make_box_source``
    ("blazepose" = the built-in detector, the default; "hog", "hog+blazepose",
    "external", "projected_tracks"; ``box_source_kw`` go to the factory).
    A box with the detector's alignment keypoints gives mediapipe's rotated
    ROI; any other box the square, upright ROI of ``roi_from_box``. Only
    without a box source (None / "blazepose") do ROIs follow the previous
    frame's landmarks between detector runs (``detect_every`` > 1,
    mediapipe's video mode); with a box source every frame's ROIs come
    from its boxes.
    """

    def __init__(self, model_dir: str | Path | None = None, num_threads: int = 2, max_people: int = 4,
                 detect_every: int = 1, box_source: BoxSource | str | None = None, use_depth: bool = True,
                 min_presence: float = MIN_PRESENCE, refine_heatmap: bool = True,
                 box_source_kw: dict[str, Any] | None = None) -> None:
        model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        for f in (DETECTOR_FILE, LANDMARK_FILE):
            if not (model_dir / f).is_file():
                raise FileNotFoundError(missing_models_message(model_dir, model_dir / f))
        self.detector = BlazePoseDetector(model_dir / DETECTOR_FILE, num_threads)
        self.lm = _interpreter(model_dir / LANDMARK_FILE, num_threads)
        inp = self.lm.get_input_details()[0]
        assert tuple(inp["shape"]) == (1, LM_SIZE, LM_SIZE, 3), inp["shape"]
        self._lm_in = inp["index"]
        outs = {tuple(d["shape"]): d["index"] for d in self.lm.get_output_details()}
        self._lm_out = outs[(1, NUM_LANDMARKS * 5)]
        self._flag_out = outs[(1, 1)]
        self._hm_out = outs[(1, 64, 64, NUM_LANDMARKS)]
        self._world_out = outs[(1, NUM_LANDMARKS * 3)]
        self.max_people = max_people
        self.detect_every = max(1, int(detect_every))
        if isinstance(box_source, str):
            from hoi_perception.bodypose.box_sources import make_box_source

            kw = dict(box_source_kw or {})
            if box_source.strip().lower() == "blazepose":
                box_source = None  # the built-in detector, with landmark-following between runs
            else:
                if "blazepose" in box_source.lower():
                    kw["detector"] = self.detector  # share the interpreter
                box_source = make_box_source(box_source, **kw)
        self.box_source: BoxSource | None = box_source
        self.use_depth = use_depth
        self.min_presence = min_presence
        self.refine_heatmap = refine_heatmap
        self.backend_name = "blazepose_ghum_full:ai-edge-litert-cpu"
        self._frame = 0
        self._tracked: list[tuple[Roi, PersonBox | None]] = []
        self.counters: dict[str, int] = {"frames": 0, "detector_runs": 0, "landmark_runs": 0, "people": 0,
                                         "bad_input": 0, "rejected_presence": 0, "duplicates": 0}

    def landmarks(self, rgb: NDArray[np.uint8], roi: Roi) -> LandmarkOutput:
        crop = cv2.warpAffine(rgb, roi.matrix(LM_SIZE), (LM_SIZE, LM_SIZE),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        self.lm.set_tensor(self._lm_in, (crop.astype(np.float32) * np.float32(1.0 / 255.0))[None])
        self.lm.invoke()
        self.counters["landmark_runs"] += 1
        hm = self.lm.get_tensor(self._hm_out) if self.refine_heatmap else None
        return decode_landmarks(self.lm.get_tensor(self._lm_out), self.lm.get_tensor(self._flag_out), hm,
                                self.lm.get_tensor(self._world_out), roi)

    def _rois(self, rgb: NDArray[np.uint8], k: NDArray[np.float64],
              boxes: list[PersonBox] | None) -> list[tuple[Roi, PersonBox | None]]:
        if boxes is None and self.box_source is not None:
            boxes = self.box_source.boxes(rgb, k)
        if boxes is not None:
            out = []
            for b in boxes:
                if not b.is_valid():
                    continue
                if b.keypoints is not None and len(b.keypoints) >= 2:
                    out.append((roi_from_points(b.keypoints[0], b.keypoints[1]), b))
                else:
                    out.append((roi_from_box(b.xyxy), b))
            return out[:self.max_people]
        if self._tracked and self._frame % self.detect_every != 0:
            return self._tracked
        self.counters["detector_runs"] += 1
        return [(roi_from_points(b.keypoints[0], b.keypoints[1]), b) for b in self.detector.boxes(rgb, k)][:self.max_people]

    def estimate(self, rgb: NDArray[np.uint8], k: NDArray[np.float64], depth: NDArray[np.float32] | None = None,
                 boxes: list[PersonBox] | None = None) -> list[PoseResult]:
        self.counters["frames"] += 1
        if rgb is None or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or np.asarray(k).shape != (3, 3):
            self.counters["bad_input"] += 1
            log.warning("blazepose: bad input image %s / K", getattr(rgb, "shape", None))
            return []
        k = np.asarray(k, dtype=np.float64)
        h, w = rgb.shape[:2]
        cands = []
        for roi, b in self._rois(rgb, k, boxes):
            if roi.size < 8:
                continue
            lo = self.landmarks(rgb, roi)
            if lo.pose_score < self.min_presence:
                self.counters["rejected_presence"] += 1
                continue
            cands.append((lo, b))
        results, tracked = [], []
        # two ROIs on one person give the same landmarks: keep the more confident
        cands.sort(key=lambda c: -c[0].pose_score)
        kept_boxes: list[NDArray[np.float64]] = []
        for lo, b in cands:
            body = lo.image_xy[:NUM_BODY]
            vis = lo.visibility[:NUM_BODY]
            sel = vis >= 0.3 if (vis >= 0.3).sum() >= 4 else np.ones(NUM_BODY, dtype=bool)
            lbox = np.concatenate([body[sel].min(0), body[sel].max(0)])
            if kept_boxes and iou_matrix(lbox[None], np.array(kept_boxes)).max() > 0.6:
                self.counters["duplicates"] += 1
                continue
            kept_boxes.append(lbox)
            results.append(self._to_result(lo, b, lbox, k, depth, (w, h)))
            # next frame's ROI follows the auxiliary landmarks; the box becomes this frame's landmark box
            follow = PersonBox(*(float(v) for v in lbox), score=lo.pose_score, source="blazepose_landmarks",
                               track_id=b.track_id if b is not None else None)
            tracked.append((roi_from_points(lo.image_xy[33], lo.image_xy[34]), follow))
        self._tracked = tracked
        self._frame += 1
        self.counters["people"] += len(results)
        return results

    def _to_result(self, lo: LandmarkOutput, b: PersonBox | None, lbox: NDArray[np.float64],
                   k: NDArray[np.float64], depth: NDArray[np.float32] | None, size: tuple[int, int]) -> PoseResult:
        vis = lo.visibility[:NUM_BODY]
        # visible landmarks anchor the translation; world landmarks are hip-centred metres
        cam33, placed = place_root_relative(lo.world[:NUM_BODY], lo.image_xy[:NUM_BODY], vis * vis, k)
        joints_cam, conf, derived = map_to_bodypose34(cam33, vis)
        joints_2d, _, _ = map_to_bodypose34(lo.image_xy[:NUM_BODY], vis)
        extras: dict[str, object] = {"placed": placed, "presence": lo.pose_score}
        used = False
        if self.use_depth and depth is not None:
            joints_cam, corr = correct_scale_with_depth(joints_cam, joints_2d, conf, depth, size, derived)
            used = corr.used
            extras["depth_scale"] = corr.scale
            extras["depth_reason"] = corr.reason
        # an external/projected box is what the caller knows the person by; otherwise the landmark box
        external = b is not None and b.keypoints is None and b.source != "blazepose_landmarks"
        box = b.xyxy if external else tuple(float(v) for v in lbox)
        return PoseResult(joints_cam=joints_cam, confidence=conf, derived=derived, joints_2d=joints_2d, box=box,
                          score=lo.pose_score, depth_used=used, source=self.backend_name,
                          track_id=b.track_id if b is not None else None, extras=extras)
