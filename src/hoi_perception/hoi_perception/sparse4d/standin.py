"""Sparse4DStandIn: an Engine that returns noisy ground truth in the contract's output layout.

STAND-IN, not a model: backend_name is "stand-in:noisy-ground-truth" and every
track derived from it carries that source. It exists so that the host-side
tracking (instance bank, ids, decay, resets, group fusion) can be tested end to
end without the TAO weights.

It behaves like the real network towards the bank: it sees no ground-truth ids.
Its instance features encode only the class and a "still alive" counter; the
temporal queries it receives (input_cached_anchor / input_cached_feature, used
only when prev_exists and interval_mask are set) are matched to this frame's
noisy detections by centre distance and class, and a matched detection is
emitted under that temporal query's index (instance_ids = query index, the
host-side contract of instance_bank.py). Unmatched detections take fresh query
indices; temporal queries without a detection are emitted with a low score so
the bank's confidence decay keeps them for a while (dropouts). Identity
therefore persists only through the bank's cached state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from hoi_perception.engine.base import Engine
from hoi_perception.engine.contract import Contract, load_contract
from hoi_perception.sparse4d import constants as C
from hoi_perception.sparse4d.conventions import ModelFrame, decode_anchors, wrap_angle

BACKEND_NAME = "stand-in:noisy-ground-truth"


@dataclass
class GtBox:
    """A ground-truth object as the stand-in needs it (OV world box)."""

    class_name: str  # card class name
    box: NDArray[np.float64]  # x, y, z, w, l, h, yaw
    velocity: NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))
    # Ground-truth id for evaluation only; the stand-in never reads it.
    track_id: int = -1


@dataclass
class StandInParams:
    pos_sigma_m: float = 0.05
    size_rel_sigma: float = 0.03
    yaw_sigma_rad: float = 0.05
    vel_sigma_mps: float = 0.1
    dropout_prob: float = 0.05
    false_positives_per_frame: float = 0.0
    match_gate_m: float = 1.0
    lost_score: float = 0.1
    max_lost_frames: int = 30
    background_score: float = 0.01
    num_outputs: int = C.NUM_TEMP_INSTANCES
    num_anchor: int = C.NUM_ANCHOR
    num_temp_instances: int = C.NUM_TEMP_INSTANCES
    embed_dims: int = C.EMBED_DIMS
    class_names: tuple[str, ...] = C.CLASS_NAMES
    origin_xy: tuple[float, float] = (0.0, 0.0)
    seed: int = 0


class Sparse4DStandIn(Engine):
    """Engine stand-in: ``run(inputs)`` -> Sparse4D outputs built from ``gt_provider()``.

    ``run`` (from Engine) validates inputs and outputs against the sparse4d contract.
    """

    backend_name = BACKEND_NAME

    def __init__(
        self,
        gt_provider: Callable[[], Sequence[GtBox]],
        params: StandInParams | None = None,
        contract: Contract | None = None,
    ) -> None:
        super().__init__(contract if contract is not None else load_contract("sparse4d"))
        self.gt_provider = gt_provider
        self.params = params or StandInParams()
        self.rng = np.random.default_rng(self.params.seed)
        ncls = len(self.params.class_names)
        self._active_dim = ncls
        self._lost_dim = ncls + 1
        if self.params.embed_dims < ncls + 2:
            raise ValueError("embed_dims too small for the stand-in's feature layout")
        self.calls = 0

    def _detections(self) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float32]]:
        p, rng = self.params, self.rng
        labels, boxes, confs = [], [], []
        for g in self.gt_provider():
            if g.class_name not in p.class_names or rng.random() < p.dropout_prob:
                continue
            b = np.zeros(C.BOX_DIM)
            b[0:3] = g.box[0:3] + rng.normal(0.0, p.pos_sigma_m, 3)
            b[3:6] = g.box[3:6] * np.exp(rng.normal(0.0, p.size_rel_sigma, 3))
            b[6] = wrap_angle(g.box[6] + rng.normal(0.0, p.yaw_sigma_rad))
            b[7:10] = np.asarray(g.velocity, dtype=np.float64) + rng.normal(0.0, p.vel_sigma_mps, 3)
            labels.append(p.class_names.index(g.class_name))
            boxes.append(b)
            confs.append(rng.uniform(0.6, 0.95))
        for _ in range(rng.poisson(p.false_positives_per_frame)):
            b = np.array([*rng.uniform(-10, 10, 2), 0.9, 0.5, 0.5, 1.8, rng.uniform(-np.pi, np.pi), 0, 0, 0])
            labels.append(0)
            boxes.append(b)
            confs.append(rng.uniform(0.2, 0.35))
        return (np.array(labels, dtype=np.int64), np.array(boxes).reshape(-1, C.BOX_DIM),
                np.array(confs, dtype=np.float32))

    def _run_host(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        p = self.params
        self.calls += 1
        ncls = len(p.class_names)
        labels, boxes_ov, confs = self._detections()
        # Like the network, the stand-in works in the model frame (conventions.ModelFrame) throughout.
        boxes = ModelFrame(p.origin_xy).boxes_from_ov(boxes_ov)
        nd = len(labels)

        prev = float(np.asarray(inputs["prev_exists"]).reshape(-1)[0]) > 0.5 and float(
            np.asarray(inputs["interval_mask"]).reshape(-1)[0]) > 0.5
        feats_in = np.asarray(inputs["input_cached_feature"], dtype=np.float32).reshape(-1, p.embed_dims)
        anchors_in = np.asarray(inputs["input_cached_anchor"], dtype=np.float32).reshape(-1, C.ANCHOR_DIM)
        n_temp = min(p.num_temp_instances, feats_in.shape[0])
        active = np.zeros(n_temp, dtype=bool)
        if prev:
            active = feats_in[:n_temp, self._active_dim] > 0.5
        slots = np.flatnonzero(active)
        slot_cls = feats_in[slots, :ncls].argmax(axis=1) if slots.size else np.zeros(0, dtype=np.int64)
        slot_boxes = decode_anchors(anchors_in[slots]) if slots.size else np.zeros((0, C.BOX_DIM))

        det_slot = np.full(nd, -1, dtype=np.int64)
        if nd and slots.size:
            d = np.linalg.norm(boxes[:, None, :2] - slot_boxes[None, :, :2], axis=2)
            d[labels[:, None] != slot_cls[None, :]] = 1e6
            d[d > p.match_gate_m] = 1e6
            r, c = linear_sum_assignment(d)
            ok = d[r, c] < 1e6
            det_slot[r[ok]] = slots[c[ok]]

        rows_q, rows_box, rows_lab, rows_conf, rows_feat = [], [], [], [], []
        free_new = list(range(p.num_temp_instances, p.num_anchor))
        for i in range(nd):
            if det_slot[i] >= 0:
                q = int(det_slot[i])
            elif free_new:
                q = free_new.pop(0)
            else:
                continue
            f = np.zeros(p.embed_dims, dtype=np.float32)
            f[labels[i]] = 1.0
            f[self._active_dim] = 1.0
            rows_q.append(q)
            rows_box.append(boxes[i])
            rows_lab.append(labels[i])
            rows_conf.append(confs[i])
            rows_feat.append(f)
        matched = set(int(s) for s in det_slot if s >= 0)
        for j, s in enumerate(slots):
            if int(s) in matched:
                continue
            lost = feats_in[s, self._lost_dim] + 1.0
            f = np.zeros(p.embed_dims, dtype=np.float32)
            f[slot_cls[j]] = 1.0
            f[self._active_dim] = 1.0 if lost <= p.max_lost_frames else 0.0
            f[self._lost_dim] = lost
            rows_q.append(int(s))
            rows_box.append(slot_boxes[j])
            rows_lab.append(int(slot_cls[j]))
            rows_conf.append(p.lost_score if lost <= p.max_lost_frames else 0.0)
            rows_feat.append(f)

        m = p.num_outputs
        used = set(rows_q)
        # Background rows take unused fresh queries first so they never alias a temporal slot.
        spare_order = list(range(p.num_temp_instances, p.num_anchor)) + list(range(p.num_temp_instances))
        spare = (q for q in spare_order if q not in used)
        boxes_out = np.zeros((m, C.BOX_DIM), dtype=np.float32)
        boxes_out[:, 3:6] = 0.1  # background rows: tiny boxes far below the floor
        boxes_out[:, 2] = -100.0
        labels_out = np.zeros(m, dtype=np.int64)
        cls_out = np.full(m, p.background_score, dtype=np.float32)
        q_out = np.zeros(m, dtype=np.int64)
        feats_out = np.zeros((m, p.embed_dims), dtype=np.float32)
        n = min(len(rows_q), m)
        order = np.argsort(-np.array(rows_conf, dtype=np.float32), kind="stable")[:n] if n else np.zeros(0, int)
        for k, r in enumerate(order):
            boxes_out[k] = rows_box[r]
            labels_out[k] = rows_lab[r]
            cls_out[k] = rows_conf[r]
            q_out[k] = rows_q[r]
            feats_out[k] = rows_feat[r]
        for k in range(n, m):
            q_out[k] = next(spare, p.num_anchor - 1)
        quality = np.where(cls_out > p.background_score, self.rng.uniform(0.85, 1.0, m), 1.0).astype(np.float32)
        return {
            "boxes_3d": boxes_out[None],
            "scores_3d": (cls_out * quality)[None],
            "labels_3d": labels_out[None],
            "cls_scores": cls_out[None],
            "instance_ids": q_out[None],
            "instance_feats": feats_out[None],
        }
