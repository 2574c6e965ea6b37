"""Sparse4D instance bank in host code.

NVIDIA's deployment keeps the bank outside the engine (DeepStream
ds-sparse4d/postprocess/instance_bank.h: get / update / cache / get_instance_id
around the TensorRT engine). This is the same bookkeeping on numpy, following
NVIDIA/tao_pytorch_backend nvidia_tao_pytorch/cv/sparse4d/model/instance_bank.py
(and github:HorizonRobotics/Sparse4D projects/mmdet3d_plugin/models/instance_bank.py):

* get(): time interval from the real stamps; cached anchors are propagated by it
  (anchor_projection with time_intervals=[-time_interval]: centre += v * dt; static
  cameras so the ego transform is identity). A duplicate stamp gives dt = 0, so
  anchors do not move: the ``torch.where(time_interval != 0, ..., default)`` fallback
  only feeds the refinement layers, not the projection. |dt| <= max_time_interval
  gives the mask.
* The refinement layers' time_interval is frozen in TAO's ONNX export
  (utils/onnx_export.py sparse_head_forward reads head.instance_bank.time_interval
  under NoJitTrace, i.e. default_time_interval = 1/30 s at trace time): the engine's
  velocities assume a 30 Hz stream whatever the stamps say. The bank counts and
  warns when the stream's interval differs from it by more than ``rate_tolerance``.
* cache(): confidence = max(previous * confidence_decay, current) for the first
  num_temp_instances queries, then the top num_temp_instances of *all* num_anchor
  queries (features and anchors of the last decoder layer). With the engine's
  optional output_cached_anchor/feature (all 900 queries, model frame) this is done
  exactly; without them the bank can only re-encode the decoded rows, and when those
  are fewer than num_temp_instances it does not feed a partly zero-filled bank back
  (all-zero anchors would be valid temporal queries at the origin): the next frame
  runs with prev_exists = 0 and the shortfall is counted (``partial_bank``).
* get_instance_id(): temporal instances keep their id; new instances whose
  confidence passes a threshold get fresh ids (threshold = the decoder's
  score_threshold 0.05 in TAO: model/sparse4d_head.py calls
  get_instance_id(cls, anchor, self.decoder.score_threshold); spec
  head.decoder.score_threshold 0.05). ``new_track_threshold`` is that parameter.

Correspondence between the engine's output rows and the bank's slots: the
host-side contract of this project is that ``instance_ids`` of the engine output
carries the *query index* of each output row: q < num_temp_instances is the
temporal query fed from input_cached_*[q]; q >= num_temp_instances is a fresh
anchor. Values outside [0, num_anchor) are treated as fresh and counted
(docs/sparse4d_conventions.md).

Frames: every anchor and box the engine reads or writes is in the model frame
(conventions.ModelFrame); the bank never converts, decode_tracks converts to OV.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hoi_perception.sparse4d import constants as C
from hoi_perception.sparse4d.conventions import encode_anchors

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
    # Minimum cls score for a new instance to get a track id: TAO passes the decoder's score_threshold
    # (0.05) to get_instance_id. Reporting a track is a separate threshold (Sparse4DParams.score_threshold).
    new_track_threshold: float = C.NEW_ID_THRESHOLD
    # BEV group origin of the model frame (conventions.ModelFrame); used by decoding and projection, kept
    # here so the group's frame is configured in one place.
    origin_xy: tuple[float, float] = (0.0, 0.0)
    # Relative difference between the stream's frame interval and default_time_interval (the interval the
    # exported engine's velocity refinement is frozen at) above which a rate mismatch is counted and warned.
    rate_tolerance: float = 0.2
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
            "rate_mismatch": 0,
            "partial_bank": 0,
        }
        self._rate_warned = False
        self._next_prev_exists = True
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
        self._next_prev_exists = True
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
                    # Upstream projects anchors with the raw interval (0: they stay); the default interval
                    # only replaces it inside the refinement, which the exported engine has frozen anyway.
                    self.counters["duplicate_stamps"] += 1
                else:
                    self._check_rate(dt)
                a = self.cached_anchor[0]
                a[:, C.X : C.Z + 1] += a[:, C.VX : C.VZ + 1] * np.float32(dt)
        self.last_stamp_ns = int(stamp_ns)
        if self.has_state and not self._next_prev_exists:
            # The previous frame left fewer than num_temp_instances real instances: run without the bank
            # rather than feed zero-filled slots as temporal queries.
            self.has_state = False
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

    def _check_rate(self, dt: float) -> None:
        p = self.params
        nominal = p.default_time_interval_s
        if nominal > 0.0 and abs(dt - nominal) > p.rate_tolerance * nominal:
            self.counters["rate_mismatch"] += 1
            if not self._rate_warned:
                self._rate_warned = True
                log.warning(
                    "frame interval %.4f s differs from the %.4f s the engine's velocity refinement is frozen at "
                    "(TAO export, default_time_interval) by more than %.0f%%: velocities and propagated anchors "
                    "assume %.1f Hz", dt, nominal, 100 * p.rate_tolerance, 1.0 / nominal)

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

        oca, ocf = outputs.get("output_cached_anchor"), outputs.get("output_cached_feature")
        if p.id_source == "query_index" and oca is not None and ocf is not None:
            self._cache_full_query_set(outputs, oca, ocf, q, conf, track_ids)
        else:
            self._cache_decoded_rows(boxes, feats, decayed, track_ids)
        self.has_state = True
        return BankUpdate(track_ids=track_ids, temporal=temporal, new_ids=int(need.size))

    def _cache_full_query_set(self, outputs: dict[str, NDArray], oca: NDArray, ocf: NDArray, q: NDArray[np.int64],
                              conf: NDArray[np.float32], track_ids: NDArray[np.int64]) -> None:
        """Upstream cache(): top num_temp_instances of all queries by (decayed) confidence, model frame as is."""
        p = self.params
        oca = np.asarray(oca, dtype=np.float32).reshape(-1, C.ANCHOR_DIM)
        ocf = np.asarray(ocf, dtype=np.float32).reshape(oca.shape[0], -1)
        nq = oca.shape[0]
        # Per-query confidence: the engine's own (sigmoid of the max class logit of the last layer, as
        # upstream cache() computes it) when it provides it, else the decoded rows' cls scores; queries the
        # decoder dropped are below its score threshold and rank last.
        qconf = outputs.get("output_cached_confidence")
        if qconf is not None:
            qconf = np.asarray(qconf, dtype=np.float32).reshape(-1)[:nq].copy()
        else:
            qconf = np.zeros(nq, dtype=np.float32)
            ok = (q >= 0) & (q < nq)
            np.maximum.at(qconf, q[ok], conf[ok])
        qid = np.full(nq, -1, dtype=np.int64)
        t = min(p.num_temp_instances, nq)
        if self.has_state:
            qconf[:t] = np.maximum(self.cached_confidence[:t] * p.confidence_decay, qconf[:t])
            qid[:t] = self.cached_track_id[:t]
        ok = (q >= 0) & (q < nq) & (track_ids >= 0)
        qid[q[ok]] = track_ids[ok]
        k = min(p.num_temp_instances, nq)
        top = np.argsort(-qconf, kind="stable")[:k]
        d = min(ocf.shape[1], p.embed_dims)
        self._clear()
        self.cached_anchor[0, :k] = oca[top]
        self.cached_feature[0, :k, :d] = ocf[top, :d]
        self.cached_confidence[:k] = qconf[top]
        self.cached_track_id[:k] = qid[top]
        self._next_prev_exists = k >= p.num_temp_instances
        if not self._next_prev_exists:
            self.counters["partial_bank"] += 1

    def _cache_decoded_rows(self, boxes: NDArray[np.float64], feats: NDArray[np.float32],
                            decayed: NDArray[np.float32], track_ids: NDArray[np.int64]) -> None:
        """Fallback without the full query set: re-encode the decoded rows (model frame, no conversion)."""
        p = self.params
        m = boxes.shape[0]
        k = min(p.num_temp_instances, m)
        top = np.argsort(-decayed, kind="stable")[:k]
        d = min(feats.shape[1], p.embed_dims)
        self._clear()
        self.cached_feature[0, :k, :d] = feats[top, :d]
        encode_anchors(boxes[top], out=self.cached_anchor[0, :k])
        self.cached_confidence[:k] = decayed[top]
        self.cached_track_id[:k] = track_ids[top]
        self._next_prev_exists = k >= p.num_temp_instances
        if not self._next_prev_exists:
            self.counters["partial_bank"] += 1
            log.debug("instance bank: %d decoded rows < %d temporal slots; next frame without the bank",
                      k, p.num_temp_instances)

    def _clear(self) -> None:
        self.cached_feature.fill(0.0)
        self.cached_anchor.fill(0.0)
        self.cached_confidence.fill(0.0)
        self.cached_track_id.fill(-1)
