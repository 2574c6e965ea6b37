"""Run a Sparse4DTracker driven by the noisy-ground-truth stand-in over a frame sequence and
collect ground truth and predictions as TrackTables for HOTA. Used by tests and scripts.

Everything produced here comes from the stand-in ("stand-in:noisy-ground-truth").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hoi_perception.evaluation.hota import TrackTable
from hoi_perception.geometry.camera import PinholeCamera
from hoi_perception.sparse4d.constants import canonical_class_name
from hoi_perception.sparse4d.standin import GtBox, Sparse4DStandIn, StandInParams
from hoi_perception.sparse4d.tracker import Sparse4DParams, Sparse4DTracker


def gt_boxes_from_scene(frame_gt: object, cameras: Sequence[str] | None = None, min_visibility: float = 0.0
                        ) -> list[GtBox]:
    """SyntheticScene FrameGroundTruth (boxes: Box3D) -> GtBox list, keeping boxes visible in ``cameras``."""
    out = []
    for b in getattr(frame_gt, "boxes", []) or []:
        name = canonical_class_name(str(getattr(b, "class_name", "")))
        if name is None:
            continue
        vis = getattr(b, "visibility", None)
        if cameras is not None and isinstance(vis, dict) and vis:
            if max((float(vis.get(c, 0.0)) for c in cameras), default=0.0) <= min_visibility:
                continue
        box = np.array([b.x, b.y, b.z, b.w, b.l, b.h, b.yaw], dtype=np.float64)
        vel = np.asarray(getattr(b, "velocity", np.zeros(3)), dtype=np.float64).reshape(-1)[:3]
        out.append(GtBox(name, box, np.pad(vel, (0, 3 - vel.size)), int(getattr(b, "track_id", -1))))
    return out


@dataclass
class StandInRun:
    gt: TrackTable = field(default_factory=TrackTable)
    pred: TrackTable = field(default_factory=TrackTable)
    resets: list[tuple[int, str]] = field(default_factory=list)
    host_ms: list[float] = field(default_factory=list)
    source: str = ""


def run_standin_sequence(
    cameras: Sequence[PinholeCamera],
    frames: Iterable[tuple[int, int, Sequence[GtBox]]],
    standin_params: StandInParams | None = None,
    tracker_params: Sparse4DParams | None = None,
    scene: str = "0",
    image_wh: tuple[int, int] | None = None,
) -> StandInRun:
    """frames: (frame index, stamp_ns, ground-truth boxes). Images are blank: the stand-in ignores pixels."""
    current: list[GtBox] = []
    engine = Sparse4DStandIn(lambda: current, standin_params)
    tracker = Sparse4DTracker(engine, cameras, tracker_params)
    w, h = image_wh if image_wh else (cameras[0].width, cameras[0].height)
    blank = np.zeros((h, w, 3), np.uint8)
    images = [blank] * len(cameras)
    run = StandInRun(source=engine.backend_name)
    try:
        for idx, stamp, gts in frames:
            current[:] = list(gts)
            for g in gts:
                run.gt.add(scene, idx, g.class_name, g.track_id, g.box)
            res = tracker.step(images, stamp)
            if res.reset_reason:
                run.resets.append((idx, res.reset_reason))
            run.host_ms.append(res.timing.host_ms)
            for t in res.tracks:
                run.pred.add(scene, idx, t.class_name, t.track_id, t.box(), t.score)
    finally:
        tracker.close()
    return run
