"""BlazePose GHUM (full) on CPU with ai-edge-litert: our own pre/post-processing.

Models: ``pose_detection.tflite`` and ``pose_landmark_full.tflite`` (Apache-2.0),
extracted from the mediapipe 0.10.21 wheel by hoi-fetch-models (bodypose/fetch_models.py).
The mediapipe package is not used at run time. Numbers below were read in
github google-ai-edge/mediapipe (commit 85c0cdc7), cited as [MP] with the
file under mediapipe/, and checked against the tflite tensor shapes:

* detector and ROI from a detection: blazepose_detector.py. On video the
  next ROI comes from the auxiliary landmarks 33 and 34 the same way as from
  the detector's keypoints [MP modules/pose_landmark/pose_landmarks_to_roi.pbtxt].
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

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception import paths
from hoi_perception.bodypose.blazepose_detector import (
    DETECTOR_FILE,
    LM_SIZE,
    BlazePoseDetector,
    Roi,
    litert_interpreter,
    roi_from_box,
    roi_from_points,
)
from hoi_perception.bodypose.depth import correct_scale_with_depth, place_root_relative
from hoi_perception.bodypose.mapping import map_to_bodypose34
from hoi_perception.bodypose.types import BoxSource, PersonBox, PoseResult, iou_matrix

log = logging.getLogger(__name__)

LANDMARK_FILE = "pose_landmark_full.tflite"
# folder under the models folder (bodypose/fetch_models.py FAMILY) and its own override
MODEL_FAMILY = "blazepose"
MODEL_DIR_ENV = "HOI_BLAZEPOSE_DIR"
NUM_LANDMARKS = 39
NUM_BODY = 33
HEATMAP_KERNEL = 7
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



class BlazePoseEstimator:
    """PoseEstimator running BlazePose GHUM full on CPU (ai-edge-litert).

    Person ROIs come, in order of preference, from ``boxes`` passed to
    ``estimate``, from ``box_source``, or from the BlazePose detector
    (``detector``, built from ``model_dir`` when not given; box_sources.
    make_pose_pipeline builds one detector and hands it to both this and a
    box source that needs it). A box with the detector's alignment keypoints
    gives mediapipe's rotated ROI; any other box the square, upright ROI of
    ``roi_from_box``. Only without a box source do ROIs follow the previous
    frame's landmarks between detector runs (``detect_every`` > 1,
    mediapipe's video mode); with a box source every frame's ROIs come
    from its boxes.
    """

    def __init__(self, model_dir: str | Path | None = None, num_threads: int = 2, max_people: int = 4,
                 detect_every: int = 1, box_source: BoxSource | None = None, use_depth: bool = True,
                 min_presence: float = MIN_PRESENCE, refine_heatmap: bool = True,
                 detector: BlazePoseDetector | None = None) -> None:
        model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        self.model_dir = model_dir  # named in the node's start-up line
        for f in (LANDMARK_FILE,) if detector is not None else (DETECTOR_FILE, LANDMARK_FILE):
            if not (model_dir / f).is_file():
                raise FileNotFoundError(missing_models_message(model_dir, model_dir / f))
        if isinstance(box_source, str):
            raise TypeError("box_source is a BoxSource; build one by name with box_sources.make_pose_pipeline")
        self.detector = detector if detector is not None else BlazePoseDetector(model_dir / DETECTOR_FILE, num_threads)
        self.lm = litert_interpreter(model_dir / LANDMARK_FILE, num_threads)
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
        # the detector as box source is the built-in path (with landmark following)
        self.box_source: BoxSource | None = None if box_source is self.detector else box_source
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
