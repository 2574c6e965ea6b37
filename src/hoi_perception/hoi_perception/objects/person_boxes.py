"""The object detector as a person box source for body pose.

``DetectorPersonBoxSource`` implements the BoxSource protocol of
bodypose/box_sources.py (``name``, ``boxes(rgb, k) -> list[PersonBox]``), so
the body_pose node can take its person boxes from the object detector
instead of HOG (scripts/bench_objects.py measures recall on vtest.avi and
speed side by side; docs/objects.md has the numbers). The boxes carry no
BlazePose keypoints: the landmark stage builds its square ROI from them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from hoi_perception.bodypose.types import PersonBox
from hoi_perception.objects.detector import ObjectDetector, make_object_detector


class DetectorPersonBoxSource:
    """Person boxes from an ObjectDetector (its detections whose HOI class is "person")."""

    def __init__(self, detector: ObjectDetector | str = "ssd_oidv4", min_score: float = 0.3,
                 min_height_px: float = 24.0, **detector_kw: Any) -> None:
        if isinstance(detector, str):
            detector_kw.setdefault("min_score", min_score)
            detector = make_object_detector(detector, **detector_kw)
        self.detector = detector
        self.min_score, self.min_height_px = float(min_score), float(min_height_px)
        self.name = f"detector:{detector.name}"

    def boxes(self, rgb: NDArray[np.uint8], k: NDArray[np.float64] | None = None) -> list[PersonBox]:
        out = []
        for d in self.detector.detect(rgb):
            if d.hoi_class != "person" or d.score < self.min_score or d.box[3] - d.box[1] < self.min_height_px:
                continue
            out.append(PersonBox(*d.box, score=d.score, source=self.name))
        return out
