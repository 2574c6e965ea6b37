"""Track evaluator node: ground truth vs predicted tracks -> 3D HOTA per class at shutdown.

Subscribes to ``gt_topic`` (default ``/ground_truth/tracks``) and ``pred_topic``
(default ``/hoi/tracks``), both hoi_msgs/TrackedObject3DArray, keeps every
message, and at shutdown pairs each prediction message with the ground-truth
frame nearest in stamp (within ``match_tolerance_s``), runs
:func:`hoi_perception.evaluation.evaluate_hota` (3D IoU, per class, TrackEval)
and prints the table. With ``output_dir`` set it also writes ``hota.json`` and the
AI City track 1 submission ``track1.txt`` of the predictions.

Frames: ground-truth messages in stamp order are frames 0, 1, ...; a stamp going
back by more than ``loop_threshold_s`` (a bag loop) starts a new pass, evaluated
as its own scene (scene id = pass index). With ``only_frames_with_predictions``
(default) ground-truth frames for which no prediction message arrived (the
tracker was not running yet, or the set never formed) are left out and counted;
a prediction message with no objects still counts its frame.

Ground truth kept: classes of the Sparse4D card only; with ``require_visible``
only objects whose ``visible_cameras`` is non-empty (and, when ``cameras`` is
set, includes one of them): an object no camera sees cannot be tracked.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rclpy.node import Node

from hoi_msgs.msg import TrackedObject3DArray
from hoi_perception.evaluation.hota import HotaReport, TrackTable, evaluate_hota
from hoi_perception.ros.conversions import track_from_msg
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.qos import reliable_qos
from hoi_perception.ros.time import ns_from_stamp
from hoi_perception.sparse4d import canonical_class_name


@dataclass
class _Frame:
    stamp_ns: int
    rows: list[tuple[str, int, np.ndarray, float]]  # class, id, box, score


@dataclass
class _Stream:
    """Messages of one topic split into passes at backward jumps."""

    loop_threshold_ns: int
    passes: list[list[_Frame]] = field(default_factory=lambda: [[]])
    last_ns: int | None = None
    count: int = 0
    sources: set[str] = field(default_factory=set)

    def add(self, frame: _Frame) -> None:
        if self.last_ns is not None and frame.stamp_ns < self.last_ns - self.loop_threshold_ns:
            self.passes.append([])
        self.last_ns = frame.stamp_ns
        self.passes[-1].append(frame)
        self.count += 1


class TrackEvaluator(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("track_evaluator", **kwargs)
        dp = self.declare_parameter
        self.gt_topic = str(dp("gt_topic", "/ground_truth/tracks").value)
        self.pred_topic = str(dp("pred_topic", "/hoi/tracks").value)
        self.tolerance_ns = int(float(dp("match_tolerance_s", 0.025).value) * 1e9)
        loop_ns = int(float(dp("loop_threshold_s", 1.0).value) * 1e9)
        self.require_visible = bool(dp("require_visible", True).value)
        self.cameras = [str(c) for c in dp("cameras", [""]).value if str(c)]
        self.only_predicted = bool(dp("only_frames_with_predictions", True).value)
        self.similarity = str(dp("similarity", "iou_3d").value)
        self.output_dir = str(dp("output_dir", "").value)
        self.title = str(dp("title", "").value)
        if self.tolerance_ns <= 0 or loop_ns <= 0:
            raise ValueError("match_tolerance_s and loop_threshold_s must be > 0")
        if self.similarity not in ("iou_3d", "center_distance"):
            raise ValueError(f"similarity must be iou_3d or center_distance, got {self.similarity!r}")
        self.gt = _Stream(loop_ns)
        self.pred = _Stream(loop_ns)
        self.counters = {"gt_objects_skipped": 0, "pred_unknown_class": 0}
        qos = reliable_qos(100)
        self.create_subscription(TrackedObject3DArray, self.gt_topic, self.on_gt, qos)
        self.create_subscription(TrackedObject3DArray, self.pred_topic, self.on_pred, qos)
        self.get_logger().info(f"evaluating {self.pred_topic} against {self.gt_topic}; HOTA at shutdown")

    def _keep_gt(self, o: Any) -> bool:
        if not self.require_visible:
            return True
        vis = list(o.visible_cameras)
        if not vis:
            return False
        return not self.cameras or any(c in self.cameras for c in vis)

    def on_gt(self, msg: TrackedObject3DArray) -> None:
        rows = []
        for o in msg.objects:
            name = canonical_class_name(str(o.class_label))
            if name is None or not self._keep_gt(o):
                self.counters["gt_objects_skipped"] += 1
                continue
            rows.append((name, int(o.track_id), track_from_msg(o).box(), 1.0))
        self.gt.sources.add(str(msg.source))
        self.gt.add(_Frame(ns_from_stamp(msg.header.stamp), rows))

    def on_pred(self, msg: TrackedObject3DArray) -> None:
        rows = []
        for o in msg.objects:
            name = canonical_class_name(str(o.class_label))
            if name is None:
                self.counters["pred_unknown_class"] += 1
                continue
            rows.append((name, int(o.track_id), track_from_msg(o).box(), float(o.score)))
        self.pred.sources.add(str(msg.source))
        self.pred.add(_Frame(ns_from_stamp(msg.header.stamp), rows))

    # ---------------------------------------------------------------- evaluation

    def tables(self) -> tuple[TrackTable, TrackTable, dict[str, int]]:
        gt, pred = TrackTable(), TrackTable()
        stats = {"gt_frames": 0, "pred_frames": 0, "pred_unmatched": 0, "gt_frames_without_prediction": 0,
                 "passes": 0}
        for k, gt_frames in enumerate(self.gt.passes):
            if not gt_frames:
                continue
            stats["passes"] += 1
            scene = str(k)
            stamps = np.array([f.stamp_ns for f in gt_frames], dtype=np.int64)
            preds = self.pred.passes[k] if k < len(self.pred.passes) else []
            predicted: set[int] = set()
            for pf in preds:
                j = int(np.argmin(np.abs(stamps - pf.stamp_ns)))
                if abs(int(stamps[j]) - pf.stamp_ns) > self.tolerance_ns:
                    stats["pred_unmatched"] += 1
                    continue
                predicted.add(j)
                stats["pred_frames"] += 1
                for c, i, b, s in pf.rows:
                    pred.add(scene, j, c, i, b, s)
            for j, f in enumerate(gt_frames):
                if self.only_predicted and j not in predicted:
                    stats["gt_frames_without_prediction"] += 1
                    continue
                stats["gt_frames"] += 1
                for c, i, b, _ in f.rows:
                    gt.add(scene, j, c, i, b)
        return gt, pred, stats

    def evaluate(self) -> tuple[HotaReport | None, dict[str, Any]]:
        gt, pred, stats = self.tables()
        stats.update(self.counters)
        stats["gt_messages"], stats["pred_messages"] = self.gt.count, self.pred.count
        stats["pred_sources"] = sorted(self.pred.sources)
        if len(gt) == 0:
            return None, stats
        report = evaluate_hota(gt, pred, similarity=self.similarity)
        if self.output_dir:
            self._write(report, pred, stats)
        return report, stats

    def _write(self, report: HotaReport, pred: TrackTable, stats: dict[str, Any]) -> None:
        from hoi_perception.mtmc import table_to_aic_rows, write_aic_submission
        from hoi_perception.render.plots import hota_bar_chart

        out = Path(self.output_dir).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        (out / "hota.json").write_text(json.dumps({**report.to_dict(), "pairing": stats}, indent=2))
        n = write_aic_submission(out / "track1.txt", table_to_aic_rows(pred))
        source = ", ".join(sorted(self.pred.sources)) or "tracker"
        if source.startswith("stand-in:"):
            source += " (STAND-IN, not a network)"
        chart = hota_bar_chart(report.to_dict(), out / "hota.png",
                               title=f"3D HOTA per class, predictions from {source}")
        stats["written"] = f"{out / 'hota.json'}, {out / 'track1.txt'} ({n} lines), {chart}"

    def close(self) -> None:
        pass


def format_evaluation(report: HotaReport | None, stats: dict[str, Any], title: str = "") -> str:
    sources = ", ".join(stats.get("pred_sources", [])) or "none"
    head = title or "3D HOTA per class"
    lines = [f"track_evaluator: {head} (predictions from {sources})"]
    if any(s.startswith("stand-in:") for s in stats.get("pred_sources", [])):
        lines.append("  NOTE: the predictions come from the noisy-ground-truth STAND-IN, not a Sparse4D network")
    lines.append(f"  {stats['pred_frames']} prediction frames paired with ground truth over {stats['passes']} pass(es); "
                 f"{stats['pred_unmatched']} prediction messages without ground truth, "
                 f"{stats['gt_frames_without_prediction']} ground-truth frames without a prediction (left out)")
    if report is None:
        lines.append("  no ground truth to evaluate (nothing received on the ground-truth topic in predicted frames)")
    else:
        lines.append(report.table())
    if stats.get("written"):
        lines.append(f"  wrote {stats['written']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    def report(node: TrackEvaluator) -> str:
        rep, stats = node.evaluate()
        return format_evaluation(rep, stats, node.title)

    return run_node(TrackEvaluator, "track_evaluator", report, argv)


if __name__ == "__main__":
    sys.exit(main())
