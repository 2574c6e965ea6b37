"""track_evaluator's pairing without ROS (evaluation/track_pairing.py)."""

from __future__ import annotations

import numpy as np
from hoi_perception.evaluation.track_pairing import TrackFrame, TrackStream, pair_tracks

MS = 1_000_000
BOX = np.array([0.0, 0.0, 0.9, 0.5, 0.5, 1.8, 0.0])


def _frame(t_ms: int, ids: list[int]) -> TrackFrame:
    return TrackFrame(t_ms * MS, [("Person", i, BOX + [i, 0, 0, 0, 0, 0, 0], 0.9) for i in ids])


def test_pairing_nearest_within_tolerance_per_pass() -> None:
    gt, pred = TrackStream(100 * MS), TrackStream(100 * MS)
    for t in (0, 100, 200, 300):
        gt.add(_frame(t, [1, 2]), "ground_truth")
    for t in (0, 90, 108, 160):  # 108 pairs with 100, 160 with nothing (tolerance 25 ms)
        pred.add(_frame(t, [7]), "tracker")
    # second pass (bag loop)
    gt.add(_frame(0, [1]))
    pred.add(_frame(5, [7]))
    assert len(gt.passes) == 2 and len(pred.passes) == 2 and gt.sources == {"ground_truth"}
    g, p, stats = pair_tracks(gt, pred, 25 * MS)
    assert stats["passes"] == 2 and stats["pred_unmatched"] == 1 and stats["pred_frames"] == 4
    # 200 and 300 have no prediction: left out
    assert stats["gt_frames_without_prediction"] == 2 and stats["gt_frames"] == 3
    assert len(g) == 2 + 2 + 1 and len(p) == 4
    _, _, all_frames = pair_tracks(gt, pred, 25 * MS, only_frames_with_predictions=False)
    assert all_frames["gt_frames"] == 5 and all_frames["gt_frames_without_prediction"] == 0
