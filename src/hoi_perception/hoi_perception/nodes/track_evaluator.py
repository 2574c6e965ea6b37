"""Track evaluator node: ground truth vs predicted tracks -> 3D HOTA per class at shutdown.

Subscribes to ``gt_topic`` (default ``/ground_truth/tracks``) and ``pred_topic``
(default ``/hoi/tracks``), both hoi_msgs/TrackedObject3DArray, keeps every
message, and at shutdown pairs each prediction message with the ground-truth
frame nearest in stamp (within ``match_tolerance_s``), runs
:func:`hoi_perception.evaluation.evaluate_hota` (3D IoU, per class, TrackEval)
and prints the table (pairing: evaluation/track_pairing.py). With ``output_dir``
set it also writes ``hota.json`` and the AI City track 1 submission
``track1.txt`` of the predictions; with ``report_path`` the same as JSON.

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
from pathlib import Path
from typing import Any

from rclpy.node import Node

from hoi_msgs.msg import TrackedObject3DArray
from hoi_perception.evaluation.hota import HotaReport, TrackTable, evaluate_hota
from hoi_perception.evaluation.track_pairing import TrackFrame, TrackStream, pair_tracks
from hoi_perception.ros.conversions import track_from_msg
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.parameters import Param, declare_parameters
from hoi_perception.ros.qos import reliable_qos
from hoi_perception.ros.time import ns_from_stamp
from hoi_perception.sparse4d import canonical_class_name

PARAMETERS = (
    Param("gt_topic", "/ground_truth/tracks", "ground-truth hoi_msgs/TrackedObject3DArray"),
    Param("pred_topic", "/hoi/tracks", "predicted hoi_msgs/TrackedObject3DArray"),
    Param("match_tolerance_s", 0.025, "a prediction pairs with the ground-truth frame nearest its stamp within "
          "this, seconds (prediction stamps are a camera's, ground truth the nominal frame time)", 1e-6, 10.0),
    Param("loop_threshold_s", 1.0, "a stamp going back by more than this starts a new pass (bag loop), seconds",
          1e-6, 3600.0),
    Param("require_visible", True, "only ground-truth objects some camera sees (visible_cameras not empty)"),
    Param("cameras", [""], "with require_visible: only objects one of these cameras sees (empty: any)"),
    Param("only_frames_with_predictions", True, "leave out ground-truth frames no prediction paired with"),
    Param("similarity", "iou_3d", "TrackEval similarity: 3D IoU (AI City official) or centre distance",
          choices=("iou_3d", "center_distance")),
    Param("output_dir", "", "write hota.json, track1.txt (AI City submission) and hota.png here at shutdown"),
    Param("title", "", "title of the printed table"),
    Param("report_path", "", "write the evaluation (HOTA per class and pairing counts) as JSON here at shutdown"),
)


class TrackEvaluator(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("track_evaluator", **kwargs)
        v = declare_parameters(self, PARAMETERS)
        self.gt_topic = str(v["gt_topic"])
        self.pred_topic = str(v["pred_topic"])
        self.tolerance_ns = int(float(v["match_tolerance_s"]) * 1e9)
        loop_ns = int(float(v["loop_threshold_s"]) * 1e9)
        self.require_visible = bool(v["require_visible"])
        self.cameras = [str(c) for c in v["cameras"] if str(c)]
        self.only_predicted = bool(v["only_frames_with_predictions"])
        self.similarity = str(v["similarity"])
        self.output_dir = str(v["output_dir"])
        self.title = str(v["title"])
        self.report_path = str(v["report_path"])
        self.gt = TrackStream(loop_ns)
        self.pred = TrackStream(loop_ns)
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
        self.gt.add(TrackFrame(ns_from_stamp(msg.header.stamp), rows), str(msg.source))

    def on_pred(self, msg: TrackedObject3DArray) -> None:
        rows = []
        for o in msg.objects:
            name = canonical_class_name(str(o.class_label))
            if name is None:
                self.counters["pred_unknown_class"] += 1
                continue
            rows.append((name, int(o.track_id), track_from_msg(o).box(), float(o.score)))
        self.pred.add(TrackFrame(ns_from_stamp(msg.header.stamp), rows), str(msg.source))

    # ---------------------------------------------------------------- evaluation

    def evaluate(self) -> tuple[HotaReport | None, dict[str, Any]]:
        gt, pred, stats = pair_tracks(self.gt, self.pred, self.tolerance_ns, self.only_predicted)
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
        self._result = self.evaluate()

    def result(self) -> tuple[HotaReport | None, dict[str, Any]]:
        """The evaluation, computed once (at close) for both reports."""
        if getattr(self, "_result", None) is None:
            self._result = self.evaluate()
        return self._result

    def json_report(self) -> dict[str, Any]:
        rep, stats = self.result()
        return {"hota": rep.to_dict() if rep is not None else None, "pairing": stats}


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
        rep, stats = node.result()
        return format_evaluation(rep, stats, node.title)

    return run_node(TrackEvaluator, "track_evaluator", report, argv, json_report=TrackEvaluator.json_report)


if __name__ == "__main__":
    sys.exit(main())
