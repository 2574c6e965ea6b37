"""3D body pose of recorded HumanPose3DArray outputs vs /ground_truth/humans.

Predictions (camera frame) are moved to the ground truth's frame through the
bag's /tf_static; each prediction message takes the ground-truth frame
nearest in stamp within ``match_tolerance_s``; people pair by nearest root
(pelvis) within ``max_root_distance_m`` (evaluation/pose.match_by_root).
Joints scored: not derived and confidence > ``min_joint_confidence``.
Figures (mm, mean over matched people): MPJPE (world frame), root-relative
MPJPE, PA-MPJPE (after the similarity Procrustes alignment), pelvis error,
detection recall (matched / ground-truth people in scored frames).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hoi_perception.evaluation.metrics.context import EvalContext, finite_stats, nearest

GT_TOPIC = "/ground_truth/humans"
HUMANS_TYPE = "hoi_msgs/msg/HumanPose3DArray"


def joints_of(h: Any) -> np.ndarray:
    return np.array([[p.x, p.y, p.z] for p in h.joints], dtype=np.float64).reshape(-1, 3)


class BodyPoseFamily:
    name = "body_pose"

    def applies(self, bag_topics: Mapping[str, str], output_topics: Mapping[str, str]) -> bool:
        return GT_TOPIC in bag_topics and any(t == HUMANS_TYPE for t in output_topics.values())

    def compute(self, ctx: EvalContext) -> dict[str, Any]:
        from hoi_perception.evaluation.pose import match_by_root, mpjpe_mm, pa_mpjpe_mm, root_relative_mpjpe_mm

        tol = int(float(ctx.option(self.name, "match_tolerance_s", 0.05)) * 1e9)
        min_conf = float(ctx.option(self.name, "min_joint_confidence", 0.5))
        max_root = float(ctx.option(self.name, "max_root_distance_m", 1.0))
        gt_msgs = ctx.messages("bag", GT_TOPIC)
        gt_stamps = np.array([s for s, _ in gt_msgs], dtype=np.int64)
        tree = ctx.tree()
        out: dict[str, Any] = {"topics": {}, "summary": {}, "series": {}}
        for topic in ctx.outputs_of_type(HUMANS_TYPE):
            rows: list[dict[str, float]] = []
            frames = no_tf = unmatched = gt_people = 0
            for s, msg in ctx.messages("recording", topic):
                frames += 1
                j = nearest(gt_stamps, s, tol)
                if j is None:
                    unmatched += 1
                    continue
                gt_msg = gt_msgs[j][1]
                gt_from_cam = tree.lookup(str(gt_msg.header.frame_id), str(msg.header.frame_id))
                if gt_from_cam is None:
                    no_tf += 1
                    continue
                gts = [joints_of(h) for h in gt_msg.humans]
                gt_people += len(gts)
                preds = [joints_of(h) @ gt_from_cam[:3, :3].T + gt_from_cam[:3, 3] for h in msg.humans]
                if not preds or not gts:
                    continue
                pairs = match_by_root(np.array([p[0] for p in preds]), np.array([g[0] for g in gts]), max_root)
                for i, k in pairs:
                    h = msg.humans[i]
                    n = min(len(preds[i]), len(gts[k]))
                    valid = np.ones(n, dtype=bool)
                    if len(h.joint_derived) >= n:
                        valid &= ~np.asarray(h.joint_derived[:n], dtype=bool)
                    if len(h.joint_confidence) >= n:
                        valid &= np.asarray(h.joint_confidence[:n], dtype=np.float64) > min_conf
                    p, g = preds[i][:n], gts[k][:n]
                    rows.append({"t_s": ctx.t_s(s), "mpjpe_mm": mpjpe_mm(p, g, valid),
                                 "root_relative_mpjpe_mm": root_relative_mpjpe_mm(p, g, valid=valid),
                                 "pa_mpjpe_mm": pa_mpjpe_mm(p, g, valid),
                                 "pelvis_error_mm": float(np.linalg.norm(p[0] - g[0]) * 1000.0),
                                 "joints": int(valid.sum())})
            res: dict[str, Any] = {"pred_messages": frames, "pred_unmatched": unmatched, "no_transform": no_tf,
                                   "matched_people": len(rows), "gt_people": gt_people,
                                   "recall": len(rows) / gt_people if gt_people else float("nan")}
            for key in ("mpjpe_mm", "root_relative_mpjpe_mm", "pa_mpjpe_mm", "pelvis_error_mm"):
                res[key] = finite_stats([r[key] for r in rows])
                out["summary"][f"{key.replace('_mm', '')} {topic} (mm)"] = res[key]["mean"]
            out["summary"][f"recall {topic}"] = res["recall"]
            out["series"][f"MPJPE {topic}"] = {"t_s": [r["t_s"] for r in rows], "value": [r["mpjpe_mm"] for r in rows],
                                               "unit": "mm"}
            out["series"][f"pelvis error {topic}"] = {"t_s": [r["t_s"] for r in rows],
                                                      "value": [r["pelvis_error_mm"] for r in rows], "unit": "mm"}
            out["topics"][topic] = res
        return out


FAMILY = BodyPoseFamily()
