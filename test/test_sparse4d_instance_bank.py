"""Host instance bank: first frame, velocity propagation, decay, ids, resets."""

from __future__ import annotations

import numpy as np
import pytest
from hoi_perception.sparse4d import constants as C
from hoi_perception.sparse4d.conventions import decode_anchors
from hoi_perception.sparse4d.instance_bank import HostInstanceBank, InstanceBankParams

NS = 1_000_000_000


def _outputs(rows: list[tuple[int, float, tuple[float, ...]]], m: int = 600) -> dict[str, np.ndarray]:
    """rows: (query index, cls score, box10); the rest is background."""
    boxes = np.zeros((1, m, 10), np.float32)
    boxes[0, :, 3:6] = 0.1
    cls = np.full((1, m), 0.01, np.float32)
    # Background rows use fresh-query indices only, so they never alias a temporal slot.
    q = (C.NUM_TEMP_INSTANCES + np.arange(m, dtype=np.int64) % (C.NUM_ANCHOR - C.NUM_TEMP_INSTANCES))[None]
    for k, (qi, s, b) in enumerate(rows):
        q[0, k] = qi
        cls[0, k] = s
        boxes[0, k] = b
    feats = np.zeros((1, m, 256), np.float32)
    feats[0, : len(rows), 0] = 1.0
    return {"boxes_3d": boxes, "scores_3d": cls.copy(), "labels_3d": np.zeros((1, m), np.int64), "cls_scores": cls,
            "instance_ids": q, "instance_feats": feats}


BOX = (1.0, 2.0, 0.9, 0.5, 0.5, 1.8, 0.0, 1.0, 0.0, 0.0)


def test_first_frame_is_zero_state():
    bank = HostInstanceBank()
    inp, reason = bank.prepare(5 * NS)
    assert reason is None
    assert inp["prev_exists"].shape == (1,) and inp["prev_exists"][0] == 0.0
    assert inp["interval_mask"].dtype == bool and not inp["interval_mask"].any()
    assert inp["input_cached_feature"].shape == (1, 600, 256) and not inp["input_cached_feature"].any()
    assert inp["input_cached_anchor"].shape == (1, 600, 11) and not inp["input_cached_anchor"].any()


def test_feedback_propagation_ids_and_decay():
    bank = HostInstanceBank()
    bank.prepare(0)
    upd = bank.update(_outputs([(700, 0.9, BOX), (701, 0.03, (5, 5, 0.9, 0.5, 0.5, 1.8, 0, 0, 0, 0))]))
    # New confident instance gets id 1; the weak one (below the decoder score threshold 0.05) none.
    assert upd.track_ids[0] == 1 and upd.track_ids[1] == -1 and upd.new_ids == 1
    inp, _ = bank.prepare(NS // 2)  # 0.5 s later
    assert inp["prev_exists"][0] == 1.0 and inp["interval_mask"][0, 0, 0]
    # Highest-confidence instance sits in slot 0, propagated by v * dt (1 m/s * 0.5 s along x).
    box0 = decode_anchors(inp["input_cached_anchor"][0, :1])[0]
    assert box0[0] == pytest.approx(1.5, abs=1e-5) and box0[1] == pytest.approx(2.0, abs=1e-5)
    assert inp["input_cached_feature"][0, 0, 0] == 1.0
    # The engine reports slot 0 again with a low score: the id persists, the cached confidence decays.
    upd = bank.update(_outputs([(0, 0.05, BOX)]))
    assert upd.track_ids[0] == 1 and upd.temporal[0]
    assert bank.cached_confidence[0] == pytest.approx(0.9 * C.CONFIDENCE_DECAY)
    bank.prepare(NS)
    upd = bank.update(_outputs([(0, 0.95, BOX)]))
    assert upd.track_ids[0] == 1 and bank.cached_confidence[0] == pytest.approx(0.95)


def test_bad_and_duplicate_query_indices_are_counted():
    bank = HostInstanceBank()
    bank.prepare(0)
    bank.update(_outputs([(700, 0.9, BOX)]))
    bank.prepare(NS // 30)
    upd = bank.update(_outputs([(0, 0.9, BOX), (0, 0.8, BOX), (-5, 0.9, BOX), (5000, 0.9, BOX)]))
    assert bank.counters["duplicate_query_index"] == 1
    assert bank.counters["bad_query_index"] == 2
    assert upd.track_ids[0] == 1 and upd.track_ids[1] not in (-1, 1)


@pytest.mark.parametrize("second,reason", [(-NS, "time_backwards"), (3 * NS, "gap")])
def test_reset_on_time_backwards_or_gap(second, reason):
    bank = HostInstanceBank(InstanceBankParams(reset_gap_s=2.0))
    bank.prepare(10 * NS)
    bank.update(_outputs([(700, 0.9, BOX)]))
    inp, why = bank.prepare(10 * NS + second)
    assert why == reason
    assert inp["prev_exists"][0] == 0.0 and not inp["input_cached_anchor"].any()
    assert bank.counters[f"resets_{reason}"] == 1
    upd = bank.update(_outputs([(700, 0.9, BOX)]))
    assert upd.track_ids[0] == 2  # a fresh id after the reset, never a reused one


def test_duplicate_stamp_does_not_move_anchors():
    # Upstream projects anchors with the raw interval (0 here); the default interval only replaces it in
    # the refinement layers (TAO model/instance_bank.py get()). Issue 11 point 5.
    bank = HostInstanceBank()
    bank.prepare(NS)
    bank.update(_outputs([(700, 0.9, BOX)]))
    inp, why = bank.prepare(NS)
    assert why is None and bank.counters["duplicate_stamps"] == 1
    x = decode_anchors(inp["input_cached_anchor"][0, :1])[0, 0]
    assert x == pytest.approx(1.0, abs=1e-6)
    assert inp["prev_exists"][0] == 1.0 and inp["interval_mask"][0, 0, 0]


def test_manual_reset():
    bank = HostInstanceBank()
    bank.prepare(0)
    bank.update(_outputs([(700, 0.9, BOX)]))
    bank.reset()
    inp, _ = bank.prepare(NS // 30)
    assert inp["prev_exists"][0] == 0.0 and bank.counters["resets_manual"] == 1
