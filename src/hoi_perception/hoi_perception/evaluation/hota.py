"""Per-class 3D HOTA (DetA, AssA, LocA) with TrackEval, plus CLEAR id switches.

TrackEval computes the metrics (trackeval.metrics.HOTA / CLEAR eval_sequence on
per-timestep ids and a similarity matrix); this module only supplies the 3D
similarity and the per-class bookkeeping, the way NVIDIA's Sparse4D evaluation
does (spatialai_data_utils eval/tracking/hota per_class_hota: each class is
evaluated on its own, GT and predictions filtered to that class, then the
class average is the unweighted mean over classes that have ground truth; the
card's "Average" row).
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

    def to_dict(self) -> dict:
        return {
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
        lines.append(f"similarity: {self.similarity}")
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
    from trackeval.metrics import CLEAR, HOTA

    if similarity not in ("iou_3d", "center_distance"):
        raise ValueError("similarity must be 'iou_3d' or 'center_distance'")
    with contextlib.redirect_stdout(io.StringIO()):  # TrackEval prints its config
        hota_m, clear_m = HOTA({"PRINT_CONFIG": False}), CLEAR({"PRINT_CONFIG": False, "THRESHOLD": 0.5})
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
