"""Hand contact and grasp events (HoiStateArray) and contact vertices (ContactSetArray).

Ground truth: /ground_truth/hoi (one HoiState per interacting human-object
pair and frame, exact hand labels) and /ground_truth/contacts (body/object
contact vertices while a hand grasps). Predictions: every recorded topic of
those types (the contacts node's, CoCoNet's, InteractVLM's ...).

* Hand contact, per frame with a prediction (nearest stamp within
  ``match_tolerance_s``) and per ground-truth state and hand: predicted
  contact = some predicted state on an object of the same name has that
  hand's ``*_hand_contact`` set. Predicted contacts with objects the ground
  truth has no state for are false positives. Figures: contact precision,
  recall, F1 (both hands pooled) and accuracy per hand. Humans are not
  paired by track id (a tracker's ids differ from the ground truth's); one
  interacting human per object is assumed, as in the synthetic scene.
* Grasp events: onsets (grasp) and ends (release) of each hand's contact
  with each object, from the ground-truth states; predicted events come
  from a recorded event topic when a converter for its type is registered
  in :data:`EVENT_SOURCES` (PLUG-IN for the contacts node's grasp events),
  else from the predicted states' transitions. Each ground-truth event is
  paired with the nearest predicted event of the same hand, kind and object
  within ``grasp_match_window_s``; timing error = predicted - true (ms).
* Contact vertices: per frame and object label, body (and object) vertex
  index sets of equal ``body_model``; precision / recall / F1 pooled over
  frames.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hoi_perception.evaluation.metrics.context import EvalContext, finite_stats, nearest
from hoi_perception.objects.vocabulary import class_key, same_object_class

GT_HOI = "/ground_truth/hoi"
GT_CONTACTS = "/ground_truth/contacts"
HOI_TYPE = "hoi_msgs/msg/HoiStateArray"
CONTACTS_TYPE = "hoi_msgs/msg/ContactSetArray"
HANDS = ("left", "right")


@dataclass(frozen=True)
class GraspEvent:
    stamp_ns: int
    hand: str  # "left" | "right"
    kind: str  # "grasp" | "release"
    object_name: str


def grasp_events_of(stamp_ns: int, msg: Any) -> list[GraspEvent]:
    """The contacts node's hoi_msgs/GraspEventArray (GraspEvent.msg: event START=0 / END=1, hand LEFT=0 /
    RIGHT=1, header.stamp the frame the transition was decided on)."""
    return [GraspEvent(int(e.header.stamp.sec) * 1_000_000_000 + int(e.header.stamp.nanosec),
                       "left" if int(e.hand) == 0 else "right", "grasp" if int(e.event) == 0 else "release",
                       str(e.object_name)) for e in msg.events]


# message type of a grasp-event topic -> converter to GraspEvent list
EVENT_SOURCES: dict[str, Callable[[int, Any], list[GraspEvent]]] = {"hoi_msgs/msg/GraspEventArray": grasp_events_of}


def hand_contacts(msg: Any) -> dict[str, dict[str, bool]]:
    """{object name: {hand: in contact}} of one HoiStateArray (any state of that object)."""
    out: dict[str, dict[str, bool]] = {}
    for st in msg.states:
        d = out.setdefault(str(st.object.object_name), {h: False for h in HANDS})
        d["left"] |= bool(st.left_hand_contact)
        d["right"] |= bool(st.right_hand_contact)
    return out


def as_truth_names(pred: dict[str, dict[str, bool]], gt: dict[str, dict[str, bool]]) -> dict[str, dict[str, bool]]:
    """``pred`` with each object renamed to the ground truth's name of the same class in that frame
    (the node says "box" or "held_object", the bag "Box"); contacts of one truth name are merged."""
    out: dict[str, dict[str, bool]] = {}
    for name, hands in pred.items():
        exact = [g for g in gt if class_key(g) == class_key(name)]
        any_ = exact or [g for g in gt if same_object_class(name, g)]
        key = any_[0] if any_ else name
        d = out.setdefault(key, {h: False for h in HANDS})
        for h in HANDS:
            d[h] |= hands.get(h, False)
    return out


def transitions(seq: list[tuple[int, dict[str, dict[str, bool]]]]) -> list[GraspEvent]:
    """Grasp / release events of a stamp-ordered sequence of hand_contacts()."""
    events: list[GraspEvent] = []
    prev: dict[tuple[str, str], bool] = {}
    for s, frame in seq:
        names = set(frame) | {n for n, _ in prev}
        for name in sorted(names):
            for h in HANDS:
                now = frame.get(name, {}).get(h, False)
                before = prev.get((name, h), False)
                if now != before:
                    events.append(GraspEvent(s, h, "grasp" if now else "release", name))
                prev[(name, h)] = now
    return events


def match_events(gt: list[GraspEvent], pred: list[GraspEvent], window_ns: int) -> tuple[list[float], int, int]:
    """Greedy nearest pairing (same hand, kind, object, within the window): timing errors in ms,
    missed ground-truth events, spurious predicted events."""
    cands = []
    for i, g in enumerate(gt):
        for j, p in enumerate(pred):
            if (g.hand, g.kind) == (p.hand, p.kind) and same_object_class(p.object_name, g.object_name) \
                    and abs(p.stamp_ns - g.stamp_ns) <= window_ns:
                cands.append((abs(p.stamp_ns - g.stamp_ns), i, j))
    used_g, used_p, errors = set(), set(), []
    for _, i, j in sorted(cands):
        if i in used_g or j in used_p:
            continue
        used_g.add(i)
        used_p.add(j)
        errors.append((pred[j].stamp_ns - gt[i].stamp_ns) / 1e6)
    return errors, len(gt) - len(used_g), len(pred) - len(used_p)


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return {"precision": p, "recall": r, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


class ContactsFamily:
    name = "contacts"

    def applies(self, bag_topics: Mapping[str, str], output_topics: Mapping[str, str]) -> bool:
        hoi = GT_HOI in bag_topics and any(t in (HOI_TYPE, *EVENT_SOURCES) for t in output_topics.values())
        verts = GT_CONTACTS in bag_topics and any(t == CONTACTS_TYPE for t in output_topics.values())
        return hoi or verts

    def compute(self, ctx: EvalContext) -> dict[str, Any]:
        out: dict[str, Any] = {"topics": {}, "summary": {}, "series": {}}
        tol = int(float(ctx.option(self.name, "match_tolerance_s", 0.05)) * 1e9)
        window = int(float(ctx.option(self.name, "grasp_match_window_s", 0.5)) * 1e9)
        if GT_HOI in ctx.bag_topics:
            gt_msgs = ctx.messages("bag", GT_HOI)
            gt_stamps = np.array([s for s, _ in gt_msgs], dtype=np.int64)
            gt_seq = [(s, hand_contacts(m)) for s, m in gt_msgs]
            event_topics = [t for t, ty in ctx.output_topics.items() if ty in EVENT_SOURCES]
            for topic in ctx.outputs_of_type(HOI_TYPE):
                res = self._hand_contact(ctx, topic, gt_msgs, gt_stamps, tol)
                pred_seq = [(s, hand_contacts(m)) for s, m in ctx.messages("recording", topic)]
                if event_topics:
                    pred_events = [e for t in event_topics for s, m in ctx.messages("recording", t)
                                   for e in EVENT_SOURCES[ctx.output_topics[t]](s, m)]
                    res["event_source"] = event_topics
                else:
                    pred_events = transitions(pred_seq)
                    res["event_source"] = f"transitions of {topic}"
                # ground-truth events only inside the predicted span: before the first / after the
                # last prediction nothing could have been detected
                span = (pred_seq[0][0] - tol, pred_seq[-1][0] + tol) if pred_seq else (0, -1)
                gt_events = [e for e in transitions(gt_seq) if span[0] <= e.stamp_ns <= span[1]]
                errors, missed, spurious = match_events(gt_events, pred_events, window)
                res["grasp_events"] = {"gt_events": len(gt_events), "pred_events": len(pred_events),
                                       "matched": len(errors), "missed": missed, "spurious": spurious,
                                       "timing_error_ms": finite_stats(errors),
                                       "abs_timing_error_ms": finite_stats([abs(e) for e in errors])}
                out["topics"][topic] = res
                out["summary"].update({f"contact F1 {topic}": res["contact"]["f1"],
                                       f"left hand accuracy {topic}": res["accuracy"]["left"],
                                       f"right hand accuracy {topic}": res["accuracy"]["right"],
                                       f"grasp timing |error| {topic} (ms)":
                                           res["grasp_events"]["abs_timing_error_ms"]["mean"],
                                       f"grasp events matched {topic}": res["grasp_events"]["matched"]})
        if GT_CONTACTS in ctx.bag_topics:
            for topic in ctx.outputs_of_type(CONTACTS_TYPE):
                res = self._vertices(ctx, topic, tol)
                out["topics"][topic] = res
                out["summary"][f"body vertex contact F1 {topic}"] = res["body_vertices"]["f1"]
                out["summary"][f"object vertex contact F1 {topic}"] = res["object_vertices"]["f1"]
        return out

    def _hand_contact(self, ctx: EvalContext, topic: str, gt_msgs: list[tuple[int, Any]], gt_stamps: np.ndarray,
                      tol: int) -> dict[str, Any]:
        counts = {h: {"tp": 0, "fp": 0, "fn": 0, "tn": 0} for h in HANDS}
        frames = unmatched = 0
        t_s, correct = [], []
        for s, msg in ctx.messages("recording", topic):
            j = nearest(gt_stamps, s, tol)
            if j is None:
                unmatched += 1
                continue
            frames += 1
            gt = hand_contacts(gt_msgs[j][1])
            pred = as_truth_names(hand_contacts(msg), gt)
            ok = 0
            n = 0
            for name in set(gt) | set(pred):
                for h in HANDS:
                    g = gt.get(name, {}).get(h, False)
                    p = pred.get(name, {}).get(h, False)
                    if name not in gt and not p:
                        continue  # a predicted non-contact with an object the ground truth lacks: nothing to score
                    key = "tp" if g and p else "fp" if p else "fn" if g else "tn"
                    counts[h][key] += 1
                    ok += int(g == p)
                    n += 1
            if n:
                t_s.append(ctx.t_s(s))
                correct.append(ok / n)
        pooled = prf(sum(c["tp"] for c in counts.values()), sum(c["fp"] for c in counts.values()),
                     sum(c["fn"] for c in counts.values()))
        acc = {}
        for h, c in counts.items():
            total = sum(c.values())
            acc[h] = (c["tp"] + c["tn"]) / total if total else float("nan")
        return {"frames": frames, "pred_unmatched": unmatched, "contact": pooled, "accuracy": acc,
                "per_hand_counts": counts, "per_frame_accuracy": {"t_s": t_s, "value": correct}}

    def _vertices(self, ctx: EvalContext, topic: str, tol: int) -> dict[str, Any]:
        gt_msgs = ctx.messages("bag", GT_CONTACTS)
        gt_stamps = np.array([s for s, _ in gt_msgs], dtype=np.int64)
        c = {"body": [0, 0, 0], "object": [0, 0, 0]}
        frames = unmatched = model_mismatch = 0
        for s, msg in ctx.messages("recording", topic):
            j = nearest(gt_stamps, s, tol)
            if j is None:
                unmatched += 1
                continue
            frames += 1
            gt = {str(cs.object_label): cs for cs in gt_msgs[j][1].contacts}
            pred = {str(cs.object_label): cs for cs in msg.contacts}
            for label in set(gt) | set(pred):
                g, p = gt.get(label), pred.get(label)
                if g is not None and p is not None and str(g.body_model) != str(p.body_model):
                    model_mismatch += 1
                    continue
                for part, attr in (("body", "body_vertex_indices"), ("object", "object_vertex_indices")):
                    gs = set(int(i) for i in getattr(g, attr)) if g is not None else set()
                    ps = set(int(i) for i in getattr(p, attr)) if p is not None else set()
                    c[part][0] += len(gs & ps)
                    c[part][1] += len(ps - gs)
                    c[part][2] += len(gs - ps)
        return {"frames": frames, "pred_unmatched": unmatched, "body_model_mismatch": model_mismatch,
                "body_vertices": prf(*c["body"]), "object_vertices": prf(*c["object"])}


FAMILY = ContactsFamily()
