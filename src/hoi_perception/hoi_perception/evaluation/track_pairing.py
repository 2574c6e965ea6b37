"""Ground truth vs predicted track messages -> TrackEval tables, without ROS
(the track_evaluator node's logic).

Messages of one topic are kept in arrival order and split into passes where
the stamp goes back by more than ``loop_threshold_ns`` (a bag loop); pass k of
the predictions is evaluated against pass k of the ground truth as scene k.
Each prediction message is paired with the ground-truth frame nearest its
stamp within the tolerance (sync/nearest.nearest_index); with
``only_frames_with_predictions`` ground-truth frames no prediction paired with
are left out (the tracker was not running yet) and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hoi_perception.evaluation.hota import TrackTable
from hoi_perception.sync.nearest import nearest_index


@dataclass
class TrackFrame:
    stamp_ns: int
    rows: list[tuple[str, int, NDArray[np.float64], float]]  # class, id, box (x, y, z, w, l, h, yaw), score


@dataclass
class TrackStream:
    """Messages of one topic split into passes at backward jumps."""

    loop_threshold_ns: int
    passes: list[list[TrackFrame]] = field(default_factory=lambda: [[]])
    last_ns: int | None = None
    count: int = 0
    sources: set[str] = field(default_factory=set)

    def add(self, frame: TrackFrame, source: str = "") -> None:
        if self.last_ns is not None and frame.stamp_ns < self.last_ns - self.loop_threshold_ns:
            self.passes.append([])
        self.last_ns = frame.stamp_ns
        self.passes[-1].append(frame)
        self.count += 1
        if source:
            self.sources.add(source)


def pair_tracks(gt: TrackStream, pred: TrackStream, tolerance_ns: int,
                only_frames_with_predictions: bool = True) -> tuple[TrackTable, TrackTable, dict[str, Any]]:
    """TrackEval tables (frame index = ground-truth frame of the pass) and pairing counts."""
    gt_table, pred_table = TrackTable(), TrackTable()
    stats = {"gt_frames": 0, "pred_frames": 0, "pred_unmatched": 0, "gt_frames_without_prediction": 0, "passes": 0}
    for k, gt_frames in enumerate(gt.passes):
        if not gt_frames:
            continue
        stats["passes"] += 1
        scene = str(k)
        order = sorted(range(len(gt_frames)), key=lambda i: gt_frames[i].stamp_ns)
        stamps = [gt_frames[i].stamp_ns for i in order]
        predicted: set[int] = set()
        for pf in pred.passes[k] if k < len(pred.passes) else []:
            i = nearest_index(stamps, pf.stamp_ns, tolerance_ns)
            if i is None:
                stats["pred_unmatched"] += 1
                continue
            j = order[i]
            predicted.add(j)
            stats["pred_frames"] += 1
            for c, tid, box, score in pf.rows:
                pred_table.add(scene, j, c, tid, box, score)
        for j, f in enumerate(gt_frames):
            if only_frames_with_predictions and j not in predicted:
                stats["gt_frames_without_prediction"] += 1
                continue
            stats["gt_frames"] += 1
            for c, tid, box, _ in f.rows:
                gt_table.add(scene, j, c, tid, box)
    return gt_table, pred_table, stats
