"""Person box sources by name, and the one factory that builds a body pose
estimator together with its box source (``make_pose_pipeline``).

``make_box_source(name, **kw)``:

* ``"blazepose"``: the BlazePose detector (face-based; finds people whose face
  is at least ~20 px; its boxes carry the 4 alignment keypoints so the
  landmark stage builds mediapipe's rotated ROI). kw: ``detector`` (a ready
  BlazePoseDetector to share) or ``model_dir``, ``num_threads``, ``min_score``.
* ``"hog"``: HogPersonDetector (OpenCV's HOG people SVM, upright pedestrians
  >= ~96 px at ``upscale`` 1). kw: ``hog`` (dict for its constructor).
* ``"ssd"``: the object detector's person boxes (objects/person_boxes.py
  DetectorPersonBoxSource over SSD MobileNetV2 OIDv4, objects/detector.py).
  kw: ``ssd`` (a ready source to share, or a dict of DetectorPersonBoxSource
  keywords), ``objects_model_dir`` (empty: paths.models_dir("objects")),
  ``num_threads``.
* ``"hog+blazepose"`` / ``"ssd+blazepose"``: the union of a people detector
  and the BlazePose detector, duplicates removed by NMS; on overlap the
  BlazePose box wins (it carries the keypoints for a rotated ROI). kw: those
  of both, ``nms_iou``.
* ``"external"``: ExternalBoxSource, fed with ``set_detections`` per frame.
* ``"projected_tracks"``: ProjectedTrackBoxSource, fed with ``set_tracks``.
* ``"default"``: the backend's default (``DEFAULT_BOX_SOURCE``).

Every source has ``name`` and ``boxes(rgb, k) -> list[PersonBox]``.

Defaults: BodyPose3DNet has no detector of its own (DeepStream runs PeopleNet
in front of it: NVIDIA deepstream_tao_apps apps/tao_others/
deepstream-pose-classification), and the BlazePose detector is face-based and
finds nobody on pedestrian footage (0 of ~6 people per frame on vtest.avi), so
both backends default to the SSD object detector's person boxes, BlazePose
with its own detector beside it for people close enough to show a face. SSD
replaced OpenCV's HOG people detector as the default (issue 12 item 1): on
vtest.avi it finds more people in a fraction of the time (docs/nodes.md has
the side-by-side table); HOG stays an option.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hoi_perception.bodypose.boxes import ExternalBoxSource, ProjectedTrackBoxSource
from hoi_perception.bodypose.types import BoxSource, PersonBox, iou_matrix

BOX_SOURCES = ("blazepose", "ssd", "ssd+blazepose", "hog", "hog+blazepose", "external", "projected_tracks")
# box_source "default" per backend (see the module docstring for why)
DEFAULT_BOX_SOURCE = {"blazepose": "ssd+blazepose", "bodypose3dnet": "ssd"}
BACKENDS = tuple(DEFAULT_BOX_SOURCE)


class UnionBoxSource:
    """Boxes of several sources; a box overlapping (IoU > ``nms_iou``, or lying
    mostly inside) a box of an earlier source, or a better-scored one of its
    own source, is dropped. Order of ``sources`` is priority order."""

    def __init__(self, sources: list[BoxSource], nms_iou: float = 0.4, name: str | None = None) -> None:
        self.sources = list(sources)
        self.nms_iou = float(nms_iou)
        self.name = name or "+".join(s.name for s in self.sources)

    def boxes(self, rgb: NDArray[np.uint8], k: NDArray[np.float64]) -> list[PersonBox]:
        kept: list[PersonBox] = []
        for src in self.sources:
            for b in sorted(src.boxes(rgb, k), key=lambda b: -b.score):
                if kept and _overlaps(b, kept, self.nms_iou):
                    continue
                kept.append(b)
        return kept


def _overlaps(b: PersonBox, kept: list[PersonBox], iou: float) -> bool:
    kb = np.array([x.xyxy for x in kept])
    if iou_matrix(np.array([b.xyxy]), kb).max() > iou:
        return True
    ix = np.clip(np.minimum(b.x1, kb[:, 2]) - np.maximum(b.x0, kb[:, 0]), 0, None)
    iy = np.clip(np.minimum(b.y1, kb[:, 3]) - np.maximum(b.y0, kb[:, 1]), 0, None)
    area = max(b.width * b.height, 1e-9)
    return bool((ix * iy / area).max() > 0.7)


def make_box_source(name: str, **kw: Any) -> BoxSource:
    """Box source by name (see the module docstring)."""
    key = name.strip().lower()
    if key == "blazepose":
        if kw.get("detector") is not None:
            return kw["detector"]
        from hoi_perception.bodypose.blazepose_detector import DETECTOR_FILE, BlazePoseDetector

        if not kw.get("model_dir"):
            raise ValueError("box source 'blazepose' needs a 'detector' or the 'model_dir' holding " + DETECTOR_FILE)
        return BlazePoseDetector(Path(kw["model_dir"]) / DETECTOR_FILE, num_threads=int(kw.get("num_threads", 2)),
                                 **({"min_score": kw["min_score"]} if "min_score" in kw else {}))
    if key == "hog":
        from hoi_perception.bodypose.hog_detector import HogPersonDetector

        return HogPersonDetector(**dict(kw.get("hog") or {}))
    if key == "ssd":
        ssd = kw.get("ssd")
        if ssd is not None and not isinstance(ssd, dict):
            return ssd  # a ready source, shared
        from hoi_perception.objects.person_boxes import DetectorPersonBoxSource

        ssd_kw = dict(ssd or {})
        ssd_kw.setdefault("model_dir", objects_model_dir(kw.get("objects_model_dir")))
        ssd_kw.setdefault("num_threads", int(kw.get("num_threads", 2)))
        return DetectorPersonBoxSource("ssd_oidv4", **ssd_kw)
    if key in ("hog+blazepose", "blazepose+hog", "ssd+blazepose", "blazepose+ssd"):
        people = "hog" if "hog" in key else "ssd"
        blaze = make_box_source("blazepose", **{k: v for k, v in kw.items() if k not in ("hog", "ssd")})
        other = make_box_source(people, **{k: v for k, v in kw.items() if k != "detector"})
        return UnionBoxSource([blaze, other], nms_iou=float(kw.get("nms_iou", 0.4)), name=f"{people}+blazepose")
    if key == "external":
        return ExternalBoxSource(**({"min_score": kw["min_score"]} if "min_score" in kw else {}))
    if key == "projected_tracks":
        return ProjectedTrackBoxSource()
    raise ValueError(f"unknown box source {name!r}; one of default, {', '.join(BOX_SOURCES)}")


@dataclass
class PosePipelineConfig:
    """What the body_pose node's parameters say about the estimator."""

    backend: str = "blazepose"
    box_source: str = "default"
    blazepose_model_dir: str = ""  # empty: paths.models_dir("blazepose") ($HOI_BLAZEPOSE_DIR, $HOI_MODELS_DIR, ...)
    model_path: str = ""  # BodyPose3DNet ONNX / engine
    engine: str = "auto"
    # BodyPose3DNet 3D joints: "pose25d" (DeepStream's lift, the default) or "network" (the pose3d output)
    bodypose3dnet_lift: str = "pose25d"
    max_people: int = 4
    use_depth: bool = True
    num_threads: int = 2
    hog: dict[str, Any] = field(default_factory=dict)  # HogPersonDetector keywords
    objects_model_dir: str = ""  # SSD box source; empty: paths.models_dir("objects")
    ssd: dict[str, Any] = field(default_factory=dict)  # DetectorPersonBoxSource keywords (min_score, min_height_px)


@dataclass
class PosePipeline:
    estimator: Any  # BlazePoseEstimator | BodyPose3DNetEstimator
    box_source: BoxSource | None  # None: the estimator's built-in detector (BlazePose)
    box_source_name: str  # the resolved name ("default" replaced), for logs and reports
    model_dir: Path | None  # the BlazePose folder in use


def resolve_box_source(backend: str, name: str) -> str:
    key = name.strip().lower() or "default"
    if backend not in DEFAULT_BOX_SOURCE:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return DEFAULT_BOX_SOURCE[backend] if key == "default" else key


def blazepose_model_dir(explicit: str | Path | None = None) -> Path:
    """The BlazePose model folder: ``explicit`` (the node parameter, final),
    else blazepose.default_model_dir() ($HOI_BLAZEPOSE_DIR, then ``blazepose``
    under the folders hoi_perception.paths searches)."""
    if explicit:
        from hoi_perception import paths

        return paths.find("models", "", explicit=explicit)  # a wrong folder is an error naming it
    from hoi_perception.bodypose.blazepose import default_model_dir

    return default_model_dir()


def objects_model_dir(explicit: str | Path | None = None) -> Path:
    """The object detector's model folder (SSD box source): ``explicit``, else
    ``objects`` under the folders hoi_perception.paths searches; a missing
    model file is an error naming the folder and the fetch command."""
    from hoi_perception import paths
    from hoi_perception.objects.fetch_models import SSD_FILE

    folder = paths.model_folder("objects", explicit)
    if not (folder / SSD_FILE).is_file():
        raise paths.ResourceNotFound(f"box source 'ssd' needs {SSD_FILE} in {folder}: run `hoi-fetch-models` "
                                     f"(or `make setup`), or point the objects_model_dir parameter at it")
    return folder


def make_pose_pipeline(cfg: PosePipelineConfig, engine: Any = None) -> PosePipeline:
    """The estimator ``cfg.backend`` names and its box source, each built once.

    The BlazePose detector (when the backend or the box source uses it) is
    loaded once from the configured model folder and shared between the
    estimator and the box source. ``engine``: a ready BodyPose3DNet engine
    (tests, benchmarks); otherwise one is created from ``cfg.model_path``.
    """
    name = resolve_box_source(cfg.backend, cfg.box_source)
    needs_detector = cfg.backend == "blazepose" or "blazepose" in name
    model_dir: Path | None = None
    detector = None
    if needs_detector:
        from hoi_perception.bodypose.blazepose_detector import DETECTOR_FILE, BlazePoseDetector

        model_dir = blazepose_model_dir(cfg.blazepose_model_dir)
        if not (model_dir / DETECTOR_FILE).is_file():
            from hoi_perception.bodypose.blazepose import missing_models_message
            from hoi_perception.paths import ResourceNotFound

            raise ResourceNotFound(missing_models_message(model_dir, model_dir / DETECTOR_FILE))
        detector = BlazePoseDetector(model_dir / DETECTOR_FILE, num_threads=cfg.num_threads)
    box_source = make_box_source(name, detector=detector, hog=cfg.hog, ssd=cfg.ssd, num_threads=cfg.num_threads,
                                 objects_model_dir=cfg.objects_model_dir) if name != "blazepose" else detector
    if cfg.backend == "blazepose":
        from hoi_perception.bodypose.blazepose import BlazePoseEstimator

        est = BlazePoseEstimator(model_dir=model_dir, num_threads=cfg.num_threads, max_people=cfg.max_people,
                                 box_source=None if box_source is detector else box_source, use_depth=cfg.use_depth,
                                 detector=detector)
        return PosePipeline(est, est.box_source, name, model_dir)
    from hoi_perception.bodypose.bodypose3dnet import BodyPose3DNetEstimator

    if engine is None:
        from hoi_perception.engine import create_engine, load_contract

        if not cfg.model_path or not Path(cfg.model_path).is_file():
            raise ValueError(f"backend bodypose3dnet needs 'model_path' to name an ONNX model or engine, got "
                             f"{cfg.model_path!r} (engines/README.md says where to get it)")
        engine = create_engine(cfg.model_path, load_contract("bodypose3dnet"), backend=cfg.engine)
    est = BodyPose3DNetEstimator(engine, box_source=box_source, use_depth=cfg.use_depth, lift=cfg.bodypose3dnet_lift)
    return PosePipeline(est, box_source, name, model_dir)


class EmptyStreak:
    """Counts frames in a row without a person; ``update`` is True exactly once
    per streak, when it reaches ``frames`` (the caller logs then)."""

    def __init__(self, frames: int) -> None:
        self.frames = int(frames)
        self.run = 0
        self.reported = 0  # streaks reported so far

    def update(self, people: int) -> bool:
        if people > 0:
            self.run = 0
            return False
        self.run += 1
        if self.frames > 0 and self.run == self.frames:
            self.reported += 1
            return True
        return False
