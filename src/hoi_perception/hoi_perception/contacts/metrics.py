"""Contact metrics: precision / recall / F1 of contact vertices or points and of per-hand contact
decisions, per frame and per sequence, and grasp-event timing error.

Vertex sets are compared by index (same body/object model), as DECO and
InteractVLM score per-vertex contact on SMPL(-X) (a vertex is a true
positive when it is in contact in both). Point sets without shared indices
(observed surface points) match within a radius. Per sequence there are two
averages: ``micro`` pools true/false positives over all frames; ``macro`` is
the mean of per-frame F1 over frames where ground truth or prediction is
non-empty (DECO/DAMON average per image). Frames where both are empty are
counted, not scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __iadd__(self, other: Counts) -> Counts:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        return self

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def index_counts(predicted: ArrayLike, truth: ArrayLike) -> Counts:
    """TP/FP/FN of two vertex index sets."""
    p = np.unique(np.asarray(predicted, dtype=np.int64).ravel())
    t = np.unique(np.asarray(truth, dtype=np.int64).ravel())
    tp = int(np.intersect1d(p, t, assume_unique=True).size)
    return Counts(tp, int(p.size) - tp, int(t.size) - tp)


def point_counts(predicted: ArrayLike, truth: ArrayLike, radius_m: float) -> Counts:
    """TP/FP/FN of two point sets: a predicted point is correct when a true point lies within ``radius_m``;
    a true point is found when a predicted point lies within ``radius_m`` (precision and recall can use
    different TP counts, so tp here is the recall side and fp counts unmatched predictions)."""
    p = np.asarray(predicted, dtype=np.float64).reshape(-1, 3)
    t = np.asarray(truth, dtype=np.float64).reshape(-1, 3)
    if len(p) == 0 or len(t) == 0:
        return Counts(0, len(p), len(t))
    dp, _ = cKDTree(t).query(p, k=1)
    dt, _ = cKDTree(p).query(t, k=1)
    found = int(np.count_nonzero(dt <= radius_m))
    return Counts(found, int(np.count_nonzero(dp > radius_m)), len(t) - found)


@dataclass
class SetScores:
    """Accumulates one kind of set (e.g. body contact vertices) over a sequence."""

    micro: Counts = field(default_factory=Counts)
    frame_f1: list[float] = field(default_factory=list)
    frame_precision: list[float] = field(default_factory=list)
    frame_recall: list[float] = field(default_factory=list)
    empty_frames: int = 0

    def add(self, c: Counts) -> None:
        self.micro += c
        if c.tp + c.fp + c.fn == 0:
            self.empty_frames += 1
            return
        self.frame_f1.append(c.f1)
        self.frame_precision.append(c.precision)
        self.frame_recall.append(c.recall)

    def summary(self) -> dict[str, float]:
        m = self.micro

        def mean(xs: list[float]) -> float:
            return float(np.mean(xs)) if xs else 0.0

        return {"precision": m.precision, "recall": m.recall, "f1": m.f1, "frame_precision": mean(self.frame_precision),
                "frame_recall": mean(self.frame_recall), "frame_f1": mean(self.frame_f1),
                "scored_frames": len(self.frame_f1), "empty_frames": self.empty_frames}


@dataclass
class DecisionScores:
    """Per-hand binary decisions over frames."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: bool, truth: bool) -> None:
        if predicted and truth:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif truth:
            self.fn += 1
        else:
            self.tn += 1

    def summary(self) -> dict[str, float]:
        c = Counts(self.tp, self.fp, self.fn)
        n = self.tp + self.fp + self.fn + self.tn
        return {"accuracy": (self.tp + self.tn) / n if n else 0.0, "precision": c.precision, "recall": c.recall,
                "f1": c.f1, "frames": n}


@dataclass(frozen=True)
class Event:
    start: bool
    hand: int
    object_id: int
    stamp_ns: int


def events_from_decisions(stamps_ns: list[int], decisions: list[bool], hand: int, object_id: int) -> list[Event]:
    """START/END events of a per-frame decision sequence (stamped with the first frame of the new state)."""
    out = []
    prev = False
    for t, d in zip(stamps_ns, decisions, strict=True):
        if d != prev:
            out.append(Event(bool(d), hand, object_id, int(t)))
            prev = d
    return out


def event_timing(predicted: list[Event], truth: list[Event], tolerance_s: float = 1.0) -> dict[str, float]:
    """Match each true event to the nearest unused predicted event of the same kind, hand and object
    within ``tolerance_s``: mean/max absolute timing error (s), missed and spurious counts."""
    used: set[int] = set()
    errors = []
    missed = 0
    for t in truth:
        best, best_d = None, None
        for i, p in enumerate(predicted):
            if i in used or p.start != t.start or p.hand != t.hand or p.object_id != t.object_id:
                continue
            d = abs(p.stamp_ns - t.stamp_ns) * 1e-9
            if d <= tolerance_s and (best_d is None or d < best_d):
                best, best_d = i, d
        if best is None:
            missed += 1
        else:
            used.add(best)
            errors.append(best_d)
    return {"matched": len(errors), "missed": missed, "spurious": len(predicted) - len(used),
            "mean_abs_error_s": float(np.mean(errors)) if errors else float("nan"),
            "max_abs_error_s": float(np.max(errors)) if errors else float("nan")}


@dataclass
class ContactEvaluation:
    """Everything the demo and the tests report for one sequence."""

    body: SetScores = field(default_factory=SetScores)
    object: SetScores = field(default_factory=SetScores)
    hands: list[DecisionScores] = field(default_factory=lambda: [DecisionScores(), DecisionScores()])
    events: dict[str, float] = field(default_factory=dict)
    frames: int = 0

    def hand_accuracy(self) -> float:
        n = sum(h.summary()["frames"] for h in self.hands)
        return sum(h.tp + h.tn for h in self.hands) / n if n else 0.0

    def summary(self) -> dict[str, object]:
        both = DecisionScores(*(sum(getattr(h, k) for h in self.hands) for k in ("tp", "fp", "fn", "tn")))
        return {"frames": self.frames, "body_vertices": self.body.summary(), "object_vertices": self.object.summary(),
                "left_hand": self.hands[0].summary(), "right_hand": self.hands[1].summary(),
                "hands": both.summary(), "events": self.events}


def format_summary(s: dict[str, object]) -> str:
    b, o, h = s["body_vertices"], s["object_vertices"], s["hands"]
    lines = [f"  body contact vertices:   P {b['precision']:.3f}  R {b['recall']:.3f}  F1 {b['f1']:.3f}  "
             f"(per-frame mean F1 {b['frame_f1']:.3f} over {b['scored_frames']} frames)",
             f"  object contact vertices: P {o['precision']:.3f}  R {o['recall']:.3f}  F1 {o['f1']:.3f}  "
             f"(per-frame mean F1 {o['frame_f1']:.3f} over {o['scored_frames']} frames)",
             f"  per-hand decisions:      accuracy {h['accuracy']:.3f}  P {h['precision']:.3f}  R {h['recall']:.3f}  "
             f"F1 {h['f1']:.3f}  ({h['frames']} hand-frames; left acc {s['left_hand']['accuracy']:.3f}, "
             f"right acc {s['right_hand']['accuracy']:.3f})"]
    e = s.get("events") or {}
    if e:
        lines.append(f"  grasp events:            {e['matched']} matched, {e['missed']} missed, {e['spurious']} spurious; "
                     f"timing error mean {e['mean_abs_error_s']:.3f} s, max {e['max_abs_error_s']:.3f} s")
    return "\n".join(lines)
