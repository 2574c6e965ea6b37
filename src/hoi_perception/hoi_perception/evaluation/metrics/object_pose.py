"""Object 6-DoF pose of recorded ObjectPoseArray outputs vs /ground_truth/objects.

Each prediction message takes the ground-truth frame nearest in stamp within
``match_tolerance_s``; poses are moved to the ground truth's frame through
/tf_static. Objects pair by track id when both sides have one (non-zero),
else by object name (nearest position among equal names). Model points for
ADD / ADD-S: the mesh named by ``mesh_resource`` when it is a readable
``file://`` .npy (N x 3) or .obj, else the surface of the object's box
from /ground_truth/tracks (same track id, its size), sampled every 5 cm.
Correct pose: ADD(-S) < ``add_threshold_fraction`` x model diameter. ADD-S
applies to the names in ``symmetric`` (default: box, bin), ADD to the rest;
both are reported for every object.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hoi_perception.evaluation.metrics.context import EvalContext, finite_stats, nearest, pose_matrix
from hoi_perception.objects.vocabulary import same_object_class

GT_TOPIC = "/ground_truth/objects"
GT_TRACKS = "/ground_truth/tracks"
OBJECTS_TYPE = "hoi_msgs/msg/ObjectPoseArray"


def load_mesh_points(uri: str) -> np.ndarray | None:
    if not uri.startswith("file://"):
        return None
    path = Path(uri[len("file://"):])
    try:
        if path.suffix == ".npy":
            return np.load(path).reshape(-1, 3).astype(np.float64)
        if path.suffix == ".obj":
            pts = [[float(x) for x in line.split()[1:4]] for line in path.read_text().splitlines()
                   if line.startswith("v ")]
            return np.array(pts, dtype=np.float64).reshape(-1, 3)
    except (OSError, ValueError):
        return None
    return None


def pair_objects(preds: list[tuple[int, str, np.ndarray]], gts: list[tuple[int, str, np.ndarray]]) -> list[tuple[int, int]]:
    """(pred index, gt index) of (track id, name, position in the ground truth's frame) entries:
    same non-zero track id and name first, then same class by nearest position. Classes compare
    through the vocabulary (the detector says "table", the bag's ground truth "Table"; a
    class-agnostic held_object may be any graspable object: objects/vocabulary.same_object_class);
    an id alone never pairs: a node's own track ids need not be the ground truth's."""
    pairs, used_p, used_g = [], set(), set()
    gid = {(tid, name.lower()): j for j, (tid, name, _) in enumerate(gts) if tid}
    for i, (tid, name, _) in enumerate(preds):
        j = gid.get((tid, name.lower())) if tid else None
        if j is not None and j not in used_g:
            pairs.append((i, j))
            used_p.add(i)
            used_g.add(j)
    cands = sorted((float(np.linalg.norm(p[2] - g[2])), i, j) for i, p in enumerate(preds) if i not in used_p
                   for j, g in enumerate(gts) if j not in used_g and same_object_class(p[1], g[1]))
    for _, i, j in cands:
        if i in used_p or j in used_g:
            continue
        pairs.append((i, j))
        used_p.add(i)
        used_g.add(j)
    return pairs


class ObjectPoseFamily:
    name = "object_pose"

    def applies(self, bag_topics: Mapping[str, str], output_topics: Mapping[str, str]) -> bool:
        return GT_TOPIC in bag_topics and any(t == OBJECTS_TYPE for t in output_topics.values())

    def _models(self, ctx: EvalContext) -> dict[int, np.ndarray]:
        from hoi_perception.evaluation.object_pose import box_model_points

        sizes: dict[int, np.ndarray] = {}
        if GT_TRACKS in ctx.bag_topics:
            for _, msg in ctx.messages("bag", GT_TRACKS)[:1]:
                for o in msg.objects:
                    sizes[int(o.track_id)] = np.array([o.size.x, o.size.y, o.size.z])
        return {tid: box_model_points(s) for tid, s in sizes.items()}

    def compute(self, ctx: EvalContext) -> dict[str, Any]:
        from hoi_perception.evaluation.object_pose import (
            add_m,
            adds_m,
            diameter_m,
            rotation_error_deg,
            translation_error_m,
        )

        tol = int(float(ctx.option(self.name, "match_tolerance_s", 0.05)) * 1e9)
        frac = float(ctx.option(self.name, "add_threshold_fraction", 0.1))
        symmetric = {str(s).lower() for s in ctx.option(self.name, "symmetric", ["box", "bin"])}
        gt_msgs = ctx.messages("bag", GT_TOPIC)
        gt_stamps = np.array([s for s, _ in gt_msgs], dtype=np.int64)
        models = self._models(ctx)
        diameters: dict[int, float] = {}
        tree = ctx.tree()
        out: dict[str, Any] = {"topics": {}, "summary": {}, "series": {}}
        for topic in ctx.outputs_of_type(OBJECTS_TYPE):
            rows: list[dict[str, Any]] = []
            stats = {"pred_messages": 0, "pred_unmatched": 0, "no_transform": 0, "gt_objects": 0, "no_model": 0}
            for s, msg in ctx.messages("recording", topic):
                stats["pred_messages"] += 1
                j = nearest(gt_stamps, s, tol)
                if j is None:
                    stats["pred_unmatched"] += 1
                    continue
                gmsg = gt_msgs[j][1]
                gt_from_pred = tree.lookup(str(gmsg.header.frame_id), str(msg.header.frame_id))
                if gt_from_pred is None:
                    stats["no_transform"] += 1
                    continue
                stats["gt_objects"] += len(gmsg.objects)
                tps = [gt_from_pred @ pose_matrix(p.pose) for p in msg.objects]
                tgs = [pose_matrix(g.pose) for g in gmsg.objects]
                pairs = pair_objects([(int(p.track_id), str(p.object_name), t[:3, 3]) for p, t in zip(msg.objects, tps, strict=True)],
                                     [(int(g.track_id), str(g.object_name), t[:3, 3]) for g, t in zip(gmsg.objects, tgs, strict=True)])
                for i, k in pairs:
                    g = gmsg.objects[k]
                    tp, tg = tps[i], tgs[k]
                    row: dict[str, Any] = {"t_s": ctx.t_s(s), "name": str(g.object_name), "track_id": int(g.track_id),
                                           "translation_error_m": translation_error_m(tp, tg),
                                           "rotation_error_deg": rotation_error_deg(tp, tg)}
                    pts = load_mesh_points(str(g.mesh_resource)) if str(g.mesh_resource) else None
                    if pts is None:
                        pts = models.get(int(g.track_id))
                    if pts is None:
                        stats["no_model"] += 1
                    else:
                        tid = int(g.track_id)
                        if tid not in diameters:
                            diameters[tid] = diameter_m(pts)
                        row["add_m"] = add_m(pts, tp, tg)
                        row["adds_m"] = adds_m(pts, tp, tg)
                        sym = str(g.object_name).lower() in symmetric
                        row["add_or_adds_m"] = row["adds_m"] if sym else row["add_m"]
                        row["correct"] = bool(row["add_or_adds_m"] < frac * diameters[tid])
                    rows.append(row)
            res: dict[str, Any] = {**stats, "matched": len(rows),
                                   "recall": len(rows) / stats["gt_objects"] if stats["gt_objects"] else float("nan")}
            for key in ("translation_error_m", "rotation_error_deg", "add_m", "adds_m", "add_or_adds_m"):
                res[key] = finite_stats([r[key] for r in rows if key in r])
            scored = [r for r in rows if "correct" in r]
            res["add_accuracy"] = sum(r["correct"] for r in scored) / len(scored) if scored else float("nan")
            res["per_object"] = {}
            for name in sorted({r["name"] for r in rows}):
                rs = [r for r in rows if r["name"] == name]
                res["per_object"][name] = {k: finite_stats([r[k] for r in rs if k in r])["mean"]
                                           for k in ("translation_error_m", "rotation_error_deg", "add_or_adds_m")}
            out["topics"][topic] = res
            out["summary"].update({
                f"translation error {topic} (m)": res["translation_error_m"]["mean"],
                f"rotation error {topic} (deg)": res["rotation_error_deg"]["mean"],
                f"ADD {topic} (m)": res["add_m"]["mean"], f"ADD-S {topic} (m)": res["adds_m"]["mean"],
                f"ADD(-S) < {frac:.0%} diameter {topic}": res["add_accuracy"]})
            out["series"][f"translation error {topic}"] = {
                "t_s": [r["t_s"] for r in rows], "value": [r["translation_error_m"] * 1000 for r in rows], "unit": "mm"}
        return out


FAMILY = ObjectPoseFamily()
