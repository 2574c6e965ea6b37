"""HOTA / DetA / AssA / LocA per class of recorded 3D tracks vs /ground_truth/tracks.

Frame pairing and ground-truth filtering are the track_evaluator node's
(nodes/track_evaluator.py): ground-truth messages in stamp order are frames;
each prediction message takes the ground-truth frame nearest in stamp within
``match_tolerance_s``; only frames with a prediction are scored
(``only_frames_with_predictions``); ground truth keeps the card's classes and
objects some camera sees. The metric is evaluation/hota.py's
:func:`evaluate_hota_leaderboard` (TrackEval, 3D IoU): the AI City MTMC
leaderboard's number (``leaderboard.final``: class mean per scene over the
scene x class pairs with both ground truth and predictions, scenes weighted by
ground-truth rows) beside the per-class table pooled over scenes
(``per_class`` / ``average``, which also scores a class the tracker never
reports as 0)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hoi_perception.evaluation.metrics.context import EvalContext, nearest

GT_TOPIC = "/ground_truth/tracks"
TRACKS_TYPE = "hoi_msgs/msg/TrackedObject3DArray"


def box_of(o: Any) -> np.ndarray:
    """[x y z w l h yaw] of a TrackedObject3D (yaw of the quaternion about +z)."""
    q = o.pose.orientation
    yaw = float(np.arctan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z)))
    p, s = o.pose.position, o.size
    return np.array([p.x, p.y, p.z, s.x, s.y, s.z, yaw], dtype=np.float64)


def score(gt: Any, pred: Any, similarity: str) -> dict[str, Any]:
    """The per-class pooled report (``per_class``, ``average``) with the leaderboard protocol's
    report under ``leaderboard``."""
    from hoi_perception.evaluation.hota import evaluate_hota_leaderboard

    board = evaluate_hota_leaderboard(gt, pred, similarity=similarity, with_per_class=True)
    assert board.per_class is not None
    board_dict = board.to_dict()
    board_dict.pop("per_class_pooled", None)
    return {**board.per_class.to_dict(), "leaderboard": board_dict}


class TrackingFamily:
    name = "tracking"

    def applies(self, bag_topics: Mapping[str, str], output_topics: Mapping[str, str]) -> bool:
        return GT_TOPIC in bag_topics and any(t == TRACKS_TYPE for t in output_topics.values())

    def compute(self, ctx: EvalContext) -> dict[str, Any]:
        from hoi_perception.evaluation.hota import TrackTable
        from hoi_perception.sparse4d import canonical_class_name

        tol = int(float(ctx.option(self.name, "match_tolerance_s", 0.025)) * 1e9)
        similarity = str(ctx.option(self.name, "similarity", "iou_3d"))
        require_visible = bool(ctx.option(self.name, "require_visible", True))
        gt_msgs = ctx.messages("bag", GT_TOPIC)
        gt_stamps = np.array([s for s, _ in gt_msgs], dtype=np.int64)
        out: dict[str, Any] = {"topics": {}}
        for topic in ctx.outputs_of_type(TRACKS_TYPE):
            gt, pred = TrackTable(), TrackTable()
            predicted: set[int] = set()
            stats = {"pred_messages": 0, "pred_unmatched": 0, "gt_frames": 0, "gt_frames_without_prediction": 0}
            sources: set[str] = set()
            for s, msg in ctx.messages("recording", topic):
                stats["pred_messages"] += 1
                sources.add(str(msg.source))
                j = nearest(gt_stamps, s, tol)
                if j is None:
                    stats["pred_unmatched"] += 1
                    continue
                predicted.add(j)
                for o in msg.objects:
                    c = canonical_class_name(str(o.class_label))
                    if c is not None:
                        pred.add("0", j, c, int(o.track_id), box_of(o), float(o.score))
            for j, (_, msg) in enumerate(gt_msgs):
                if j not in predicted:
                    stats["gt_frames_without_prediction"] += 1
                    continue
                stats["gt_frames"] += 1
                for o in msg.objects:
                    c = canonical_class_name(str(o.class_label))
                    if c is None or (require_visible and not list(o.visible_cameras)):
                        continue
                    gt.add("0", j, c, int(o.track_id), box_of(o))
            if len(gt) == 0:
                out["topics"][topic] = {"error": "no ground-truth object in the predicted frames", **stats}
                continue
            rep = score(gt, pred, similarity)
            out["topics"][topic] = {**rep, **stats, "sources": sorted(sources)}
        scored = {t: r for t, r in out["topics"].items() if "average" in r}
        out["summary"] = {}
        for t, r in scored.items():
            for k in ("HOTA", "DetA", "AssA", "LocA"):
                out["summary"][f"{k} {t}"] = r["average"].get(k, float("nan"))
            out["summary"][f"HOTA leaderboard {t}"] = r["leaderboard"]["final"].get("HOTA", float("nan"))
        return out


FAMILY = TrackingFamily()
