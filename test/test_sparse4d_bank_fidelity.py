"""Issue 11 points 3-5: the instance bank caches as upstream, one frame convention, upstream time handling.

Each test fails on the previous behaviour: zero-filled slots fed back as temporal queries when the decoder
returned fewer than 600 rows (3); boxes_3d taken as OV and the projection without the group origin (4);
anchors moved by 0.033 * v on a duplicate stamp, no rate check, new-id threshold 0.2 (5).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hoi_perception.geometry.camera import PinholeCamera, intrinsics, look_at
from hoi_perception.sparse4d import constants as C
from hoi_perception.sparse4d.conventions import ModelFrame, decode_anchors, encode_anchors
from hoi_perception.sparse4d.decode import decode_tracks
from hoi_perception.sparse4d.instance_bank import HostInstanceBank, InstanceBankParams
from hoi_perception.sparse4d.preprocess import Sparse4DPreprocessor, projection_matrix

NS = 1_000_000_000
RNG = np.random.default_rng(0)


def _decoded(qidx: np.ndarray, scores: np.ndarray, boxes: np.ndarray) -> dict[str, np.ndarray]:
    m = len(qidx)
    feats = np.zeros((1, m, C.EMBED_DIMS), np.float32)
    feats[0, :, 1] = 1.0
    return {"boxes_3d": boxes[None].astype(np.float32), "scores_3d": scores[None].astype(np.float32),
            "labels_3d": np.zeros((1, m), np.int64), "cls_scores": scores[None].astype(np.float32),
            "instance_ids": qidx[None].astype(np.int64), "instance_feats": feats}


def _boxes(m: int) -> np.ndarray:
    b = np.zeros((m, 10))
    b[:, 0:2] = RNG.uniform(-10, 10, (m, 2))
    b[:, 2] = 0.9
    b[:, 3:6] = (0.6, 0.6, 1.8)
    b[:, 6] = RNG.uniform(-3, 3, m)
    return b


# ---------------------------------------------------------------------------------------------- point 3
def test_decoder_with_300_rows_never_feeds_zero_slots_back():
    bank = HostInstanceBank()
    bank.prepare(0)
    m = C.DECODER_NUM_OUTPUT  # TAO decoder num_output 300 < 600 temporal slots
    q = np.arange(C.NUM_TEMP_INSTANCES, C.NUM_TEMP_INSTANCES + m)
    bank.update(_decoded(q, np.linspace(0.9, 0.06, m), _boxes(m)))
    inp, _ = bank.prepare(NS // 30)
    # Old behaviour: prev_exists 1 with 300 all-zero anchors (origin, 1 m boxes, sin = cos = 0) as temporal queries.
    anchors = inp["input_cached_anchor"][0]
    zero_rows = ~anchors.any(axis=1)
    assert not (inp["prev_exists"][0] == 1.0 and inp["interval_mask"].all() and zero_rows.any())
    assert inp["prev_exists"][0] == 0.0 and bank.counters["partial_bank"] == 1


def test_full_query_set_is_cached_as_upstream():
    bank = HostInstanceBank()
    bank.prepare(0)
    nq, m = C.NUM_ANCHOR, C.DECODER_NUM_OUTPUT
    oca = encode_anchors(_boxes(nq))
    ocf = RNG.normal(size=(nq, C.EMBED_DIMS)).astype(np.float32)
    conf = RNG.uniform(0.0, 0.04, nq).astype(np.float32)  # below the decoder threshold
    q = np.sort(RNG.choice(nq, m, replace=False))
    conf[q] = RNG.uniform(0.05, 0.95, m)
    out = _decoded(q, conf[q], decode_anchors(oca[q]))
    out["output_cached_anchor"], out["output_cached_feature"] = oca[None], ocf[None]
    out["output_cached_confidence"] = conf[None]
    upd = bank.update(out)
    inp, _ = bank.prepare(NS // 30)
    assert inp["prev_exists"][0] == 1.0 and bank.counters["partial_bank"] == 0
    top = np.argsort(-conf, kind="stable")[: C.NUM_TEMP_INSTANCES]
    np.testing.assert_array_equal(inp["input_cached_anchor"][0], oca[top])  # dt * v = 0 (zero velocities)
    np.testing.assert_array_equal(inp["input_cached_feature"][0], ocf[top])
    assert inp["input_cached_anchor"][0].any(axis=1).all()  # no zero-filled slot
    # Ids travel with their query into its slot; the second frame's temporal rows keep them.
    slot_of = {int(qq): s for s, qq in enumerate(top)}
    tracked = [(int(q[r]), int(upd.track_ids[r])) for r in range(m) if upd.track_ids[r] >= 0]
    qq, tid = tracked[0]
    out2 = _decoded(np.array([slot_of[qq]]), np.array([0.9]), decode_anchors(oca[qq:qq + 1]))
    out2["output_cached_anchor"], out2["output_cached_feature"] = oca[None], ocf[None]
    assert bank.update(out2).track_ids[0] == tid


def test_full_query_set_without_confidence_output_uses_decoded_scores():
    bank = HostInstanceBank()
    bank.prepare(0)
    nq = C.NUM_ANCHOR
    oca = encode_anchors(_boxes(nq))
    q = np.array([650, 720, 800])
    out = _decoded(q, np.array([0.3, 0.9, 0.6]), decode_anchors(oca[q]))
    out["output_cached_anchor"], out["output_cached_feature"] = oca[None], np.ones((1, nq, C.EMBED_DIMS), np.float32)
    bank.update(out)
    np.testing.assert_array_equal(bank.cached_anchor[0, :3], oca[[720, 800, 650]])
    assert bank.cached_anchor[0].any(axis=1).all()


# ---------------------------------------------------------------------------------------------- point 4
ORIGIN = (12.5, -7.25)


def test_model_frame_round_trips_with_origin():
    f = ModelFrame(ORIGIN)
    ov = _boxes(20)
    ov[:, 7:10] = RNG.normal(size=(20, 3))
    model = f.boxes_from_ov(ov)
    np.testing.assert_allclose(model[:, 0:2], ov[:, 0:2] - np.array(ORIGIN))
    np.testing.assert_allclose(np.sin(model[:, 6]), -np.sin(ov[:, 6]), atol=1e-12)
    np.testing.assert_allclose(f.boxes_to_ov(model), ov, atol=1e-12)
    np.testing.assert_allclose(f.anchors_to_ov(f.anchors_from_ov(ov)), ov, atol=1e-5)


def test_projection_matrix_applies_the_origin():
    cam = PinholeCamera("c", 1920, 1080, intrinsics(1100, 1100, 960, 540), look_at([20.0, -10.0, 4.0], [12, -7, 1]))
    p_model = np.array([0.4, -0.3, 1.0])
    p = projection_matrix(cam, frame=ModelFrame(ORIGIN)).astype(np.float64) @ np.append(p_model, 1.0)
    uv_world, _ = cam.project(p_model + np.array([*ORIGIN, 0.0]))
    np.testing.assert_allclose(p[:2] / p[2], uv_world * 0.5, rtol=1e-4)
    pre = Sparse4DPreprocessor([cam], num_threads=1, frame=ModelFrame(ORIGIN))
    np.testing.assert_allclose(pre.projection_mat[0, 0], projection_matrix(cam, frame=ModelFrame(ORIGIN)))
    pre.close()


def test_decoding_converts_model_frame_to_ov():
    ov = np.array([[15.0, -6.0, 0.9, 0.5, 0.7, 1.8, 0.6, 1.0, 0.5, 0.0]])
    f = ModelFrame(ORIGIN)
    out = _decoded(np.array([700]), np.array([0.9]), f.boxes_from_ov(ov))
    tr = decode_tracks(out, np.array([3]), np.full(len(C.CLASS_NAMES), 0.2, np.float32), frame=f)[0]
    np.testing.assert_allclose(tr.position, ov[0, 0:3], atol=1e-5)
    assert tr.yaw == pytest.approx(0.6, abs=1e-6)


@pytest.mark.parametrize("with_engine_cache", [False, True])
def test_both_cache_paths_feed_model_frame_anchors(with_engine_cache):
    """The re-encoding path and the engine-cache path give the same model-frame anchors for the same boxes."""
    f = ModelFrame(ORIGIN)
    bank = HostInstanceBank(InstanceBankParams(origin_xy=ORIGIN))
    bank.prepare(0)
    ov = _boxes(C.NUM_TEMP_INSTANCES)
    model = f.boxes_from_ov(ov)
    q = np.arange(C.NUM_TEMP_INSTANCES, C.NUM_TEMP_INSTANCES + C.NUM_TEMP_INSTANCES) % C.NUM_ANCHOR
    out = _decoded(q, np.linspace(0.9, 0.1, len(q)), model)
    if with_engine_cache:
        oca = np.zeros((C.NUM_ANCHOR, 11), np.float32)
        oca[q] = encode_anchors(model)
        out["output_cached_anchor"] = oca[None]
        out["output_cached_feature"] = np.ones((1, C.NUM_ANCHOR, C.EMBED_DIMS), np.float32)
    bank.update(out)
    got = f.anchors_to_ov(bank.cached_anchor[0])
    np.testing.assert_allclose(got[:, 0:3], ov[:, 0:3], atol=1e-4)
    np.testing.assert_allclose(np.cos(got[:, 6] - ov[:, 6]), 1.0, atol=1e-5)


def test_standin_tracks_with_nonzero_origin_land_on_ground_truth():
    from hoi_perception.sparse4d.standin import GtBox, Sparse4DStandIn, StandInParams
    from hoi_perception.sparse4d.tracker import Sparse4DParams, Sparse4DTracker

    gt = [GtBox("Person", np.array([15.0, -3.0, 0.9, 0.6, 0.5, 1.8, 2.0]), np.array([0.5, 0.0, 0.0]), 1),
          GtBox("Forklift", np.array([8.0, -9.0, 1.0, 1.2, 2.5, 2.0, -1.0]), np.zeros(3), 2)]
    sp = StandInParams(pos_sigma_m=0.0, size_rel_sigma=0.0, yaw_sigma_rad=0.0, vel_sigma_mps=0.0, dropout_prob=0.0,
                       origin_xy=ORIGIN)
    eng = Sparse4DStandIn(lambda: gt, sp)
    cam = PinholeCamera("c", 960, 540, intrinsics(600, 600, 480, 270), look_at([20.0, -10.0, 4.0], [12, -7, 1]))
    params = Sparse4DParams(bank=InstanceBankParams(origin_xy=ORIGIN), num_threads=1)
    tr = Sparse4DTracker(eng, [cam], params)
    ids = []
    frame = np.zeros((540, 960, 3), np.uint8)
    for k in range(3):
        res = tr.step([frame], k * NS // 30)
        by_cls = {t.class_name: t for t in res.tracks}
        for g in gt:
            t = by_cls[g.class_name]
            np.testing.assert_allclose(t.position, g.box[0:3], atol=0.05)
            assert np.cos(t.yaw - g.box[6]) == pytest.approx(1.0, abs=1e-6)
        ids.append(sorted(t.track_id for t in res.tracks))
    assert ids[0] == ids[1] == ids[2]
    tr.close()


# ---------------------------------------------------------------------------------------------- point 5
def test_rate_mismatch_is_counted_and_warned(caplog):
    bank = HostInstanceBank()
    box = np.array([[1.0, 2.0, 0.9, 0.5, 0.5, 1.8, 0.0, 1.0, 0.0, 0.0]])
    full = _decoded(np.array([700]), np.array([0.9]), box)
    stamp = 0
    for _ in range(4):  # 30 Hz: no mismatch
        bank.prepare(stamp)
        bank.update(full)
        stamp += NS // 30
    assert bank.counters["rate_mismatch"] == 0
    with caplog.at_level(logging.WARNING):
        for _ in range(3):  # 10 Hz: the frozen 1/30 s refinement interval is wrong by 3x
            stamp += NS // 10
            bank.prepare(stamp)
            bank.update(full)
    assert bank.counters["rate_mismatch"] == 3
    assert sum("frozen" in r.message for r in caplog.records) == 1


def test_new_id_threshold_is_the_decoder_score_threshold():
    assert InstanceBankParams().new_track_threshold == C.NEW_ID_THRESHOLD == 0.05
    bank = HostInstanceBank()
    bank.prepare(0)
    upd = bank.update(_decoded(np.array([700, 701]), np.array([0.06, 0.04]), _boxes(2)))
    assert upd.track_ids[0] >= 1 and upd.track_ids[1] == -1
    bank = HostInstanceBank(InstanceBankParams(new_track_threshold=0.2))
    bank.prepare(0)
    assert bank.update(_decoded(np.array([700]), np.array([0.06]), _boxes(1))).track_ids[0] == -1
