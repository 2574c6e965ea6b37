"""3D HOTA (DetA, AssA, LocA) with TrackEval, plus CLEAR id switches, under two protocols.

TrackEval computes the metrics (trackeval.metrics.HOTA / CLEAR eval_sequence on
per-timestep ids and a similarity matrix); this module only supplies the 3D
similarity and the bookkeeping.

* ``evaluate_hota`` (protocol "per_class_pooled"): the way NVIDIA's Sparse4D evaluation reports
  per-class numbers (spatialai_data_utils eval/tracking/hota per_class_hota: each class on its own,
  all scenes pooled with TrackEval combine_sequences, class average = unweighted mean over classes
  with ground truth; the card's "Average" row).
* ``evaluate_hota_leaderboard`` (protocol "aicity_leaderboard"): the AI City MTMC validation server's
  rule as NVIDIA's spatialai_data_utils AICity MTMC evaluation API reproduces it
  (run_aicity_mtmc_evaluation, its docstring's "Evaluation protocol" and _weighted_average): frames
  truncated to [0, 9000) per scene; only (scene, class) pairs with both GT and prediction rows are
  evaluated, each as one TrackEval sequence; a scene's numbers are the unweighted mean over its
  evaluated classes; the final number is the mean of the scenes weighted by their GT rows (after
  truncation), scenes without a value dropped rather than counted as 0.

Box convention (both protocols, and the MTMC ground truth): [x, y, z, w, l, h, yaw] with w along the
object's local x axis, which points along the heading (cos yaw, sin yaw); l along local y. TAO's
Omniverse3DDetTrackDataset.box3d_to_corners scales the unit corners by [W, L, H] and then rotates
about z by yaw (nvidia_tao_pytorch/cv/sparse4d/dataloader/dataset.py), and its output_to_nusc_box
hands [L, W, H] to nuScenes' Box, whose length axis is x: both put w along the heading.
``similarity.iou_3d`` builds boxes the same way (sparse4d.conventions.box_corners_ov).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hoi_perception.evaluation.similarity import center_distance_similarity, iou_3d

HOTA_FIELDS = ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr")


@dataclass
class TrackTable:
    """Rows of 3D boxes: scene, frame, class, object id, [x y z w l h yaw], score."""

    scene: list[str] = field(default_factory=list)
    frame: list[int] = field(default_factory=list)
    class_name: list[str] = field(default_factory=list)
    obj_id: list[int] = field(default_factory=list)
    boxes: list[NDArray[np.float64]] = field(default_factory=list)
    score: list[float] = field(default_factory=list)

    def add(self, scene: str, frame: int, class_name: str, obj_id: int, box: Sequence[float], score: float = 1.0) -> None:
        self.scene.append(str(scene))
        self.frame.append(int(frame))
        self.class_name.append(str(class_name))
        self.obj_id.append(int(obj_id))
        self.boxes.append(np.asarray(box, dtype=np.float64)[:7])
        self.score.append(float(score))

    def __len__(self) -> int:
        return len(self.frame)

    def classes(self) -> list[str]:
        return sorted(set(self.class_name))

    def scenes(self) -> list[str]:
        return sorted(set(self.scene))

    def select(self, scene: str, class_name: str) -> dict[int, tuple[NDArray[np.int64], NDArray[np.float64]]]:
        """{frame: (ids, boxes)} of one scene and class."""
        out: dict[int, tuple[list[int], list[NDArray[np.float64]]]] = {}
        for s, f, c, i, b in zip(self.scene, self.frame, self.class_name, self.obj_id, self.boxes, strict=True):
            if s == scene and c == class_name:
                ids, bs = out.setdefault(f, ([], []))
                ids.append(i)
                bs.append(b)
        return {f: (np.array(ids, dtype=np.int64), np.array(bs).reshape(-1, 7)) for f, (ids, bs) in out.items()}


@dataclass
class ClassResult:
    class_name: str
    hota: dict[str, float]  # HOTA_FIELDS, mean over the alpha thresholds, in [0, 1]
    idsw: int
    mota: float
    num_gt_dets: int
    num_tracker_dets: int
    num_gt_ids: int
    num_tracker_ids: int


@dataclass
class HotaReport:
    per_class: dict[str, ClassResult]
    average: dict[str, float]
    similarity: str
    scenes: list[str]
    protocol: str = "per_class_pooled"

    def to_dict(self) -> dict:
        return {
            "protocol": self.protocol,
            "similarity": self.similarity,
            "scenes": self.scenes,
            "per_class": {
                c: {**{k: round(v * 100, 3) for k, v in r.hota.items()}, "IDSW": r.idsw, "MOTA": round(r.mota * 100, 3),
                    "gt_dets": r.num_gt_dets, "tracker_dets": r.num_tracker_dets, "gt_ids": r.num_gt_ids,
                    "tracker_ids": r.num_tracker_ids}
                for c, r in self.per_class.items()
            },
            "average": {k: round(v * 100, 3) for k, v in self.average.items()},
        }

    def table(self, title: str = "") -> str:
        lines = []
        if title:
            lines.append(title)
        head = f"{'class':<26}" + "".join(f"{f:>8}" for f in ("HOTA", "DetA", "AssA", "LocA")) + f"{'IDSW':>7}{'GT':>8}"
        lines.append(head)
        lines.append("-" * len(head))
        for c, r in self.per_class.items():
            vals = "".join(f"{r.hota[f] * 100:8.2f}" for f in ("HOTA", "DetA", "AssA", "LocA"))
            lines.append(f"{c:<26}{vals}{r.idsw:7d}{r.num_gt_dets:8d}")
        if self.average:
            vals = "".join(f"{self.average[f] * 100:8.2f}" for f in ("HOTA", "DetA", "AssA", "LocA"))
            lines.append(f"{'Average':<26}{vals}")
        lines.append(f"similarity: {self.similarity}; protocol: {self.protocol}")
        return "\n".join(lines)


def _sequence_data(
    gt: dict[int, tuple[NDArray[np.int64], NDArray[np.float64]]],
    tr: dict[int, tuple[NDArray[np.int64], NDArray[np.float64]]],
    similarity: str,
    zero_distance_m: float,
) -> dict:
    frames = sorted(set(gt) | set(tr))
    if not frames:
        frames = [0]
    t0, t1 = min(frames), max(frames)
    gid_map = {v: k for k, v in enumerate(sorted({int(i) for ids, _ in gt.values() for i in ids}))}
    tid_map = {v: k for k, v in enumerate(sorted({int(i) for ids, _ in tr.values() for i in ids}))}
    empty_ids = np.zeros(0, dtype=int)
    empty_boxes = np.zeros((0, 7))
    data: dict = {"gt_ids": [], "tracker_ids": [], "similarity_scores": []}
    n_gt = n_tr = 0
    for f in range(t0, t1 + 1):
        g_ids, g_b = gt.get(f, (empty_ids, empty_boxes))
        t_ids, t_b = tr.get(f, (empty_ids, empty_boxes))
        if similarity == "iou_3d":
            sim = iou_3d(g_b, t_b)
        else:
            sim = center_distance_similarity(g_b, t_b, zero_distance_m)
        data["gt_ids"].append(np.array([gid_map[int(i)] for i in g_ids], dtype=int))
        data["tracker_ids"].append(np.array([tid_map[int(i)] for i in t_ids], dtype=int))
        data["similarity_scores"].append(sim)
        n_gt += len(g_ids)
        n_tr += len(t_ids)
    data.update(num_timesteps=t1 - t0 + 1, num_gt_dets=n_gt, num_tracker_dets=n_tr,
                num_gt_ids=len(gid_map), num_tracker_ids=len(tid_map))
    return data


PROTOCOLS = ("aicity_leaderboard", "per_class_pooled")
LEADERBOARD_NUM_FRAMES = 9000  # AI City MTMC validation server's truncation (frames 0..8999 per scene)


def _trackeval_metrics() -> tuple:
    from trackeval.metrics import CLEAR, HOTA

    with contextlib.redirect_stdout(io.StringIO()):  # TrackEval prints its config
        return HOTA({"PRINT_CONFIG": False}), CLEAR({"PRINT_CONFIG": False, "THRESHOLD": 0.5})


def _truncate(table: TrackTable, frame_start: int, frame_stop: int) -> TrackTable:
    out = TrackTable()
    for s, f, c, i, b, sc in zip(table.scene, table.frame, table.class_name, table.obj_id, table.boxes, table.score,
                                 strict=True):
        if frame_start <= f < frame_stop:
            out.add(s, f, c, i, b, sc)
    return out


@dataclass
class LeaderboardReport:
    """AI City leaderboard protocol: per (scene, class), per scene, GT-row weights and the final number."""

    per_scene_per_class: dict[str, dict[str, dict[str, float] | None]]
    per_scene: dict[str, dict[str, float]]
    scene_gt_rows: dict[str, int]
    final: dict[str, float]
    similarity: str
    num_frames: int
    per_class: HotaReport | None = None
    protocol: str = "aicity_leaderboard"

    def to_dict(self) -> dict:
        def pct(d: dict[str, float]) -> dict[str, float]:
            return {k: round(v * 100, 3) for k, v in d.items()}

        out = {
            "protocol": self.protocol,
            "similarity": self.similarity,
            "num_frames": self.num_frames,
            "final": pct(self.final),
            "per_scene": {s: pct(v) for s, v in self.per_scene.items()},
            "scene_gt_rows": dict(self.scene_gt_rows),
            "per_scene_per_class": {s: {c: (None if v is None else pct(v)) for c, v in cl.items()}
                                    for s, cl in self.per_scene_per_class.items()},
        }
        if self.per_class is not None:
            out["per_class_pooled"] = self.per_class.to_dict()
        return out

    def table(self, title: str = "") -> str:
        fields = ("HOTA", "DetA", "AssA", "LocA")
        lines = [title] if title else []
        lines.append(f"protocol: AI City leaderboard (scene x class pairs with GT and predictions, class mean per "
                     f"scene, scenes weighted by GT rows; frames < {self.num_frames})")
        head = f"{'scene':<10}{'class':<26}" + "".join(f"{f:>8}" for f in fields)
        lines.append(head)
        lines.append("-" * len(head))
        for s, cl in self.per_scene_per_class.items():
            for c, v in cl.items():
                vals = "".join(f"{v[f] * 100:8.2f}" for f in fields) if v is not None else "  (not evaluated: one side empty)"
                lines.append(f"{s:<10}{c:<26}{vals}")
            if s in self.per_scene:
                vals = "".join(f"{self.per_scene[s][f] * 100:8.2f}" for f in fields)
                lines.append(f"{s:<10}{'scene mean (' + str(self.scene_gt_rows.get(s, 0)) + ' GT rows)':<26}{vals}")
        vals = "".join(f"{self.final.get(f, 0.0) * 100:8.2f}" for f in fields)
        lines.append(f"{'Final':<36}{vals}")
        lines.append(f"similarity: {self.similarity}")
        if self.per_class is not None:
            lines.append("")
            lines.append(self.per_class.table("per-class table (protocol: per_class_pooled, all scenes pooled, "
                                              "unweighted class mean)"))
        return "\n".join(lines)


def evaluate_hota_leaderboard(
    gt: TrackTable,
    pred: TrackTable,
    classes: Iterable[str] | None = None,
    similarity: str = "iou_3d",
    zero_distance_m: float = 2.0,
    num_frames: int = LEADERBOARD_NUM_FRAMES,
    frame_start: int = 0,
    with_per_class: bool = True,
) -> LeaderboardReport:
    """HOTA as the AI City MTMC leaderboard computes it (module docstring); optionally the pooled per-class table.

    ``classes`` limits the evaluated classes (default: all). GT rows of classes outside ``classes`` still
    count in the scene weights only if ``classes`` is None, as the server weights by all GT rows.
    """
    if similarity not in ("iou_3d", "center_distance"):
        raise ValueError("similarity must be 'iou_3d' or 'center_distance'")
    if not 0 <= frame_start < num_frames:
        raise ValueError(f"need 0 <= frame_start < num_frames, got {frame_start}, {num_frames}")
    hota_m, _ = _trackeval_metrics()
    gt_t, pred_t = _truncate(gt, frame_start, num_frames), _truncate(pred, frame_start, num_frames)
    wanted = set(classes) if classes is not None else None
    scene_rows: dict[str, int] = {}
    for s, c in zip(gt_t.scene, gt_t.class_name, strict=True):
        if wanted is None or c in wanted:
            scene_rows[s] = scene_rows.get(s, 0) + 1
    per_sc: dict[str, dict[str, dict[str, float] | None]] = {}
    per_scene: dict[str, dict[str, float]] = {}
    for scene in sorted(set(gt_t.scene) | set(pred_t.scene)):
        gt_cls = {c for s, c in zip(gt_t.scene, gt_t.class_name, strict=True) if s == scene}
        pr_cls = {c for s, c in zip(pred_t.scene, pred_t.class_name, strict=True) if s == scene}
        results: dict[str, dict[str, float] | None] = {}
        for cls in sorted(gt_cls | pr_cls):
            if wanted is not None and cls not in wanted:
                continue
            if cls not in gt_cls or cls not in pr_cls:
                results[cls] = None  # the server skips pairs missing either side
                continue
            data = _sequence_data(gt_t.select(scene, cls), pred_t.select(scene, cls), similarity, zero_distance_m)
            h = hota_m.eval_sequence(data)
            results[cls] = {f: float(np.mean(h[f])) for f in HOTA_FIELDS}
        per_sc[scene] = results
        valid = [v for v in results.values() if v is not None]
        if valid:
            per_scene[scene] = {f: float(np.mean([v[f] for v in valid])) for f in HOTA_FIELDS}
    common = [s for s in per_scene if scene_rows.get(s, 0) > 0]
    total = sum(scene_rows[s] for s in common)
    final = {f: (sum(scene_rows[s] * per_scene[s][f] for s in common) / total if total else 0.0) for f in HOTA_FIELDS}
    per_class = evaluate_hota(gt_t, pred_t, classes, similarity, zero_distance_m) if with_per_class else None
    return LeaderboardReport(per_sc, per_scene, scene_rows, final, similarity, num_frames, per_class)


def evaluate_hota(
    gt: TrackTable,
    pred: TrackTable,
    classes: Iterable[str] | None = None,
    similarity: str = "iou_3d",
    zero_distance_m: float = 2.0,
) -> HotaReport:
    """Per-class HOTA over all scenes (TrackEval combine_sequences) and the class average.

    ``classes``: evaluated classes (default: every class with ground truth). A class
    without ground truth is skipped from the average (NVIDIA's per-class HOTA does the same).
    """
    if similarity not in ("iou_3d", "center_distance"):
        raise ValueError("similarity must be 'iou_3d' or 'center_distance'")
    hota_m, clear_m = _trackeval_metrics()
    cls_list = list(classes) if classes is not None else gt.classes()
    scenes = sorted(set(gt.scenes()) | set(pred.scenes()))
    per_class: dict[str, ClassResult] = {}
    for cls in cls_list:
        h_res, c_res = {}, {}
        n = {"gt": 0, "tr": 0, "gid": 0, "tid": 0}
        for scene in scenes:
            data = _sequence_data(gt.select(scene, cls), pred.select(scene, cls), similarity, zero_distance_m)
            if data["num_gt_dets"] == 0 and data["num_tracker_dets"] == 0:
                continue
            h_res[scene] = hota_m.eval_sequence(data)
            c_res[scene] = clear_m.eval_sequence(data)
            n["gt"] += data["num_gt_dets"]
            n["tr"] += data["num_tracker_dets"]
            n["gid"] += data["num_gt_ids"]
            n["tid"] += data["num_tracker_ids"]
        if n["gt"] == 0:
            continue
        h = hota_m.combine_sequences(h_res)
        c = clear_m.combine_sequences(c_res)
        per_class[cls] = ClassResult(
            cls, {f: float(np.mean(h[f])) for f in HOTA_FIELDS}, int(c["IDSW"]), float(c["MOTA"]),
            n["gt"], n["tr"], n["gid"], n["tid"],
        )
    average = {}
    if per_class:
        average = {f: float(np.mean([r.hota[f] for r in per_class.values()])) for f in HOTA_FIELDS}
    return HotaReport(per_class, average, similarity, scenes)
