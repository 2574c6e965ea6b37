"""Person box sources by name, for the ``box_source`` parameter.

``make_box_source(name, **kw)``:

* ``"blazepose"``: the BlazePose detector (face-based; finds people whose face
  is at least ~20 px; its boxes carry the 4 alignment keypoints so the
  landmark stage builds mediapipe's rotated ROI). kw: ``model_dir``,
  ``num_threads``, ``min_score``.
* ``"hog"``: HogPersonDetector (OpenCV's Dalal-Triggs people SVM, upright
  pedestrians >= ~96 px at ``upscale`` 1). kw: its constructor's.
* ``"hog+blazepose"``: the union of both, duplicates removed by NMS; on
  overlap the BlazePose box wins (it carries the keypoints for a rotated
  ROI). kw: ``hog`` (dict for HogPersonDetector), ``blazepose`` (dict),
  ``nms_iou``; or a ready ``detector`` (BlazePoseDetector) to share.
* ``"external"``: ExternalBoxSource, fed with ``set_detections`` per frame.
* ``"projected_tracks"``: ProjectedTrackBoxSource, fed with ``set_tracks``.

Every source has ``name`` and ``boxes(rgb, k) -> list[PersonBox]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from hoi_perception.bodypose.boxes import ExternalBoxSource, ProjectedTrackBoxSource
from hoi_perception.bodypose.types import BoxSource, PersonBox, iou_matrix

BOX_SOURCES = ("blazepose", "hog", "hog+blazepose", "external", "projected_tracks")


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
        from hoi_perception.bodypose.blazepose import DETECTOR_FILE, BlazePoseDetector, default_model_dir

        model_dir = kw.get("model_dir") or default_model_dir()
        from pathlib import Path

        return BlazePoseDetector(Path(model_dir) / DETECTOR_FILE, num_threads=int(kw.get("num_threads", 2)),
                                 **({"min_score": kw["min_score"]} if "min_score" in kw else {}))
    if key == "hog":
        from hoi_perception.bodypose.hog_detector import HogPersonDetector

        return HogPersonDetector(**kw)
    if key in ("hog+blazepose", "blazepose+hog"):
        blaze_kw = dict(kw.get("blazepose", {}))
        if kw.get("detector") is not None:
            blaze_kw["detector"] = kw["detector"]
        blaze = make_box_source("blazepose", **blaze_kw)
        hog = make_box_source("hog", **dict(kw.get("hog", {})))
        return UnionBoxSource([blaze, hog], nms_iou=float(kw.get("nms_iou", 0.4)), name="hog+blazepose")
    if key == "external":
        return ExternalBoxSource(**kw)
    if key == "projected_tracks":
        return ProjectedTrackBoxSource(**kw)
    raise ValueError(f"unknown box source {name!r}; one of {', '.join(BOX_SOURCES)}")
