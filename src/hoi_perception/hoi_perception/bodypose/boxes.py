"""Person box sources fed from outside: 3D person tracks projected into the
camera, or an external 2D detector (the detectors themselves: hog_detector.py,
blazepose_detector.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hoi_perception.bodypose.types import PersonBox
from hoi_perception.geometry.box3d import box_corners
from hoi_perception.geometry.camera import project_points

log = logging.getLogger(__name__)


class ProjectedTrackBoxSource:
    """3D person tracks (e.g. Sparse4D in ``world``) projected into one camera.

    Tracks are geometry.box3d.Box3D (anything with ``box()`` -> x, y, z, w, l,
    h, yaw, ``class_name``, ``score``, ``track_id``).
    ``set_tracks(tracks, camera_from_world)`` before each ``boxes`` call; the
    resulting PersonBox carries the track id so the HumanTracker reuses it.
    Boxes wholly behind the camera or outside the image are dropped; partly
    outside ones are clipped.
    """

    name = "projected_tracks"

    def __init__(self, classes: tuple[str, ...] = ("person", "Person", "human"), min_visible_px: float = 8.0,
                 z_is_bottom: bool = False) -> None:
        self.classes = classes
        self.min_visible_px = min_visible_px
        self.z_is_bottom = z_is_bottom  # some exports put z at the box bottom, not its centre
        self._tracks: list[Any] = []
        self._cam_from_world = np.eye(4)

    def set_tracks(self, tracks: Iterable[Any], camera_from_world: NDArray[np.float64]) -> None:
        self._tracks = [t for t in tracks if getattr(t, "class_name", "person") in self.classes]
        self._cam_from_world = np.asarray(camera_from_world, dtype=np.float64)

    def boxes(self, rgb: NDArray[np.uint8], k: NDArray[np.float64]) -> list[PersonBox]:
        h_img, w_img = rgb.shape[:2]
        out = []
        for t in self._tracks:
            corners = box_corners(np.asarray(t.box(), dtype=np.float64))[0]
            if self.z_is_bottom:
                corners[:, 2] += 0.5 * t.box()[5]
            pc = corners @ self._cam_from_world[:3, :3].T + self._cam_from_world[:3, 3]
            if np.any(pc[:, 2] <= 0.05):
                continue  # straddles or behind the camera plane: the projection is meaningless
            uv = project_points(k, pc)
            x0, y0 = np.clip(uv.min(0), 0, [w_img - 1, h_img - 1])
            x1, y1 = np.clip(uv.max(0), 0, [w_img - 1, h_img - 1])
            if x1 - x0 < self.min_visible_px or y1 - y0 < self.min_visible_px:
                continue
            tid = getattr(t, "track_id", None)
            out.append(PersonBox(float(x0), float(y0), float(x1), float(y1), score=float(getattr(t, "score", 1.0)),
                                 track_id=int(tid) if tid is not None else None, source=self.name))
        return out


class ExternalBoxSource:
    """2D person detections from an external detector, handed in per frame."""

    name = "external_detector"

    def __init__(self, min_score: float = 0.3) -> None:
        self.min_score = min_score
        self._boxes: list[PersonBox] = []
        self.rejected = 0

    def set_detections(self, detections: Iterable[tuple[float, ...] | PersonBox]) -> None:
        """Each detection: PersonBox or (x0, y0, x1, y1[, score])."""
        out = []
        for d in detections:
            b = d if isinstance(d, PersonBox) else PersonBox(*map(float, d[:4]), score=float(d[4]) if len(d) > 4 else 1.0,
                                                              source=self.name)
            if not b.is_valid() or b.score < self.min_score:
                self.rejected += 1
                log.debug("external box rejected: %s", b)
                continue
            out.append(b)
        self._boxes = out

    def boxes(self, rgb: NDArray[np.uint8], k: NDArray[np.float64]) -> list[PersonBox]:
        h, w = rgb.shape[:2]
        return [PersonBox(max(0.0, b.x0), max(0.0, b.y0), min(w - 1.0, b.x1), min(h - 1.0, b.y1), b.score, b.track_id,
                          b.source, b.keypoints) for b in self._boxes]
