"""Sparse4D instance bank in host code.

NVIDIA's deployment keeps the bank outside the engine (DeepStream
ds-sparse4d/postprocess/instance_bank.h: get / update / cache / get_instance_id
around the TensorRT engine). This is the same bookkeeping on numpy, following
github:HorizonRobotics/Sparse4D projects/mmdet3d_plugin/models/instance_bank.py:

* get():  time interval from the stamps; cached anchors are propagated to the
  current time by their velocity (anchor_projection subtracts vel * (-dt), i.e.
  centre += v * dt; static cameras so the ego transform is identity); a zero
  interval falls back to default_time_interval; |dt| <= max_time_interval gives
  the mask.
* cache(): confidence = max(previous * confidence_decay, current) for temporal
  instances; the top num_temp_instances by confidence are kept (features and
  anchors).
* get_instance_id(): temporal instances keep their id; new instances whose
  confidence passes a threshold get fresh ids from a running counter.

Correspondence between the engine's output rows and the bank's slots: the
host-side contract of this project is that ``instance_ids`` of the engine output
carries the *query index* of each output row: q < num_temp_instances is the
temporal query fed from input_cached_*[q]; q >= num_temp_instances is a fresh
anchor. Values outside [0, num_anchor) are treated as fresh and counted
(docs/sparse4d_conventions.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hoi_perception.sparse4d import constants as C
from hoi_perception.sparse4d.conventions import encode_anchors, ov_to_bev_boxes

log = logging.getLogger(__name__)


@dataclass
class InstanceBankParams:
    num_anchor: int = C.NUM_ANCHOR
    num_temp_instances: int = C.NUM_TEMP_INSTANCES
    embed_dims: int = C.EMBED_DIMS
    confidence_decay: float = C.CONFIDENCE_DECAY
    default_time_interval_s: float = C.DEFAULT_TIME_INTERVAL_S
    max_time_interval_s: float = C.MAX_TIME_INTERVAL_S
    # Gap (s) after which the bank resets instead of feeding stale instances back.
    reset_gap_s: float = C.MAX_TIME_INTERVAL_S
    # Minimum cls score for a new instance to get a track id (TAO tracking_threshold).
    new_track_threshold: float = C.TRACKING_THRESHOLD
    # BEV group origin subtracted when boxes are encoded back into anchors.
    origin_xy: tuple[float, float] = (0.0, 0.0)
    # "query_index": instance_ids are query indices and ids are assigned here (default);
    # "engine": the engine already assigns track ids (an engine with the bank built in).
    id_source: str = "query_index"


@dataclass
class BankUpdate:
    """Per output row: track id (-1: none) and whether it came from a temporal slot."""

    track_ids: NDArray[np.int64]
    temporal: NDArray[np.bool_]
    new_ids: int = 0


@dataclass
class HostInstanceBank:
    params: InstanceBankParams = field(default_factory=InstanceBankParams)

    def __post_init__(self) -> None:
        p = self.params
        self.cached_feature = np.zeros((1, p.num_temp_instances, p.embed_dims), dtype=np.float32)
        self.cached_anchor = np.zeros((1, p.num_temp_instances, C.ANCHOR_DIM), dtype=np.float32)
        self.cached_confidence = np.zeros(p.num_temp_instances, dtype=np.float32)
        self.cached_track_id = np.full(p.num_temp_instances, -1, dtype=np.int64)
        self.has_state = False
        self.last_stamp_ns: int | None = None
        self.next_track_id = 1  # AI City object ids are positive
        self.counters = {
            "resets_time_backwards": 0,
            "resets_gap": 0,
            "resets_manual": 0,
            "duplicate_stamps": 0,
            "bad_query_index": 0,
            "duplicate_query_index": 0,
        }
        self._prev_exists = np.zeros(1, dtype=np.float32)
        self._interval_mask = np.zeros((1, 1, 1), dtype=bool)  # contract: bool

    # ------------------------------------------------------------------ state
    def reset(self, reason: str = "manual") -> None:
        """Zero state and prev_exists=0 for the next frame (track ids keep counting up)."""
        self.cached_feature.fill(0.0)
        self.cached_anchor.fill(0.0)
        self.cached_confidence.fill(0.0)
        self.cached_track_id.fill(-1)
        self.has_state = False
        self.last_stamp_ns = None
        key = f"resets_{reason}"
        if key in self.counters:
            self.counters[key] += 1

    def prepare(self, stamp_ns: int) -> tuple[dict[str, NDArray], str | None]:
        """Engine inputs of the bank for a frame at ``stamp_ns``; returns (inputs, reset reason or None)."""
        p = self.params
        reason = None
        dt = 0.0
        if self.has_state and self.last_stamp_ns is not None:
            dt = (stamp_ns - self.last_stamp_ns) * 1e-9
            if dt < 0.0:
                reason = "time_backwards"
            elif dt > p.reset_gap_s:
                reason = "gap"
            if reason is not None:
                log.info("instance bank reset: %s (dt=%.3f s)", reason, dt)
                self.reset(reason)
            else:
                if dt == 0.0:
                    # Sparse4D falls back to the default interval for a zero interval.
                    self.counters["duplicate_stamps"] += 1
                    dt = p.default_time_interval_s
                a = self.cached_anchor[0]
                a[:, C.X : C.Z + 1] += a[:, C.VX : C.VZ + 1] * np.float32(dt)
        self.last_stamp_ns = int(stamp_ns)
        self._prev_exists[0] = 1.0 if self.has_state else 0.0
        # Sparse4D's mask: cached instances are used only when |dt| <= max_time_interval.
        self._interval_mask[0, 0, 0] = bool(self.has_state and abs(dt) <= p.max_time_interval_s)
        inputs = {
            "input_cached_feature": self.cached_feature,
            "input_cached_anchor": self.cached_anchor,
            "prev_exists": self._prev_exists,
            "interval_mask": self._interval_mask,
        }
        return inputs, reason

    # ----------------------------------------------------------------- update
    def update(self, outputs: dict[str, NDArray]) -> BankUpdate:
        """Cache the top temporal instances of this frame's outputs and assign track ids."""
        p = self.params
        boxes = np.asarray(outputs["boxes_3d"], dtype=np.float64).reshape(-1, C.BOX_DIM)
        m = boxes.shape[0]
        conf = np.asarray(outputs["cls_scores"], dtype=np.float32).reshape(-1)[:m]
        feats = np.asarray(outputs["instance_feats"], dtype=np.float32).reshape(m, -1)
        q = np.asarray(outputs["instance_ids"]).reshape(-1)[:m]
        q = np.where(np.isfinite(q), q, -1).astype(np.int64)

        bad = (q < 0) | (q >= p.num_anchor)
        if bad.any():
            self.counters["bad_query_index"] += int(bad.sum())
        temporal = (~bad) & (q < p.num_temp_instances) & self.has_state
        # One output per temporal slot: a repeated slot keeps only its highest-confidence row.
        if temporal.any():
            rows = np.flatnonzero(temporal)
            order = rows[np.argsort(-conf[rows], kind="stable")]
            _, first = np.unique(q[order], return_index=True)
            keep = np.zeros(m, dtype=bool)
            keep[order[first]] = True
            dup = temporal & ~keep
            if dup.any():
                self.counters["duplicate_query_index"] += int(dup.sum())
            temporal &= keep

        slot = np.where(temporal, q, 0)
        decayed = conf.copy()
        decayed[temporal] = np.maximum(self.cached_confidence[slot[temporal]] * p.confidence_decay, conf[temporal])

        track_ids = np.full(m, -1, dtype=np.int64)
        need = np.zeros(0, dtype=np.int64)
        if p.id_source == "engine":
            track_ids = np.where(q >= 0, q, -1)
        else:
            track_ids[temporal] = self.cached_track_id[slot[temporal]]
            # New ids in descending confidence for determinism (Sparse4D assigns in index order).
            need = np.flatnonzero((track_ids < 0) & (conf >= p.new_track_threshold))
            need = need[np.argsort(-conf[need], kind="stable")]
            track_ids[need] = np.arange(self.next_track_id, self.next_track_id + need.size)
            self.next_track_id += int(need.size)

        k = min(p.num_temp_instances, m)
        top = np.argsort(-decayed, kind="stable")[:k]
        self.cached_feature.fill(0.0)
        self.cached_anchor.fill(0.0)
        self.cached_confidence.fill(0.0)
        self.cached_track_id.fill(-1)
        d = min(feats.shape[1], p.embed_dims)
        self.cached_feature[0, :k, :d] = feats[top, :d]
        encode_anchors(ov_to_bev_boxes(boxes[top], p.origin_xy), out=self.cached_anchor[0, :k])
        # Prefer the engine's own refined anchors/features (optional outputs of all num_anchor queries,
        # already in the model frame) over re-encoding the decoded boxes.
        oca, ocf = outputs.get("output_cached_anchor"), outputs.get("output_cached_feature")
        if p.id_source == "query_index" and oca is not None and ocf is not None:
            oca = np.asarray(oca, dtype=np.float32).reshape(-1, C.ANCHOR_DIM)
            ocf = np.asarray(ocf, dtype=np.float32).reshape(oca.shape[0], -1)
            qt = q[top]
            ok = (qt >= 0) & (qt < oca.shape[0])
            self.cached_anchor[0, :k][ok] = oca[qt[ok]]
            self.cached_feature[0, :k][ok, :d] = ocf[qt[ok], :d]
        self.cached_confidence[:k] = decayed[top]
        self.cached_track_id[:k] = track_ids[top]
        self.has_state = True
        return BankUpdate(track_ids=track_ids, temporal=temporal, new_ids=int(need.size))
