"""The Sparse4D node's logic without ROS (sparse4d/set_queue.py): the
calibration gate over a TF buffer (a late transform releases held sets, a
moving extrinsic is taken at the set's stamp), the bounded queue, and the
stand-in's ground-truth pairing."""

from __future__ import annotations

import numpy as np
from hoi_perception.geometry.camera import intrinsics
from hoi_perception.geometry.tf_buffer import TfBuffer
from hoi_perception.sparse4d.set_queue import (
    BuildTracker,
    CalibrationGate,
    Intrinsics,
    PendingSet,
    Problem,
    SetQueue,
    StepSet,
)
from hoi_perception.sync.nearest import NearestStampBuffer

MS = 1_000_000
K = intrinsics(500.0, 500.0, 320.0, 240.0)


def _set(stamp_ms: int) -> PendingSet:
    return PendingSet(stamp_ms * MS, [None, None], 0.0)


def _gate(tf: TfBuffer) -> CalibrationGate:
    g = CalibrationGate(["a", "b"], "world", tf)
    return g


def _kinds(events: list) -> list[str]:  # noqa: ANN001
    return [type(e).__name__ for e in events]


def test_sets_wait_for_intrinsics_and_a_late_transform() -> None:
    tf = TfBuffer()
    gate = _gate(tf)
    q = SetQueue(gate, max_pending=3)
    q.push(_set(100))
    assert q.drain() == [] and len(q.pending) == 1  # no camera_info yet: held, not dropped
    gate.set_intrinsics("a", Intrinsics(K, 640, 480, "a_optical"))
    gate.set_intrinsics("b", Intrinsics(K, 640, 480, "b_optical"))
    tf.set_transform("world", "a_optical", 0, [1, 0, 2], [0, 0, 0, 1], static=True)
    assert q.drain() == []  # b's extrinsics still missing
    cams, problem = gate.cameras_at(100 * MS)
    assert cams is None and problem is not None and problem[0] == "no_extrinsics" and "b_optical" in problem[1]
    # b's extrinsics come on /tf (a moving camera) after the set: the held set is released
    tf.set_transform("world", "b_optical", 50 * MS, [0, 0, 2], [0, 0, 0, 1])
    tf.set_transform("world", "b_optical", 150 * MS, [1, 0, 2], [0, 0, 0, 1])
    ev = q.drain()
    assert _kinds(ev) == ["BuildTracker", "StepSet"]
    assert isinstance(ev[0], BuildTracker) and [c.name for c in ev[0].cameras] == ["a", "b"]
    # b interpolated at the set's stamp (100 ms: halfway)
    np.testing.assert_allclose(ev[0].cameras[1].world_from_camera[:3, 3], [0.5, 0, 2])
    assert isinstance(ev[1], StepSet) and ev[1].pending.stamp_ns == 100 * MS and ev[1].ground_truth is None
    q.push(_set(140))
    assert _kinds(q.drain()) == ["StepSet"]  # tracker built: straight through


def test_oldest_set_dropped_beyond_max_pending_and_counted() -> None:
    q = SetQueue(_gate(TfBuffer()), max_pending=2)
    events = []
    for t in (10, 20, 30, 40):
        q.push(_set(t))
        events += q.drain()
    assert all(isinstance(e, Problem) and e.counter == "missing_camera_info" for e in events) and len(events) == 2
    assert [p.stamp_ns for p in q.pending] == [30 * MS, 40 * MS]
    assert q.clear() == 2


def test_calibration_file_needs_no_tf_and_a_changed_camera_rebuilds() -> None:
    from hoi_perception.geometry.camera import PinholeCamera

    calib = {c: PinholeCamera(c, 640, 480, K, np.eye(4)) for c in ("a", "b")}
    q = SetQueue(CalibrationGate(["a", "b"], "world", TfBuffer(), calib), max_pending=2)
    q.push(_set(1))
    assert _kinds(q.drain()) == ["BuildTracker", "StepSet"]
    q.invalidate()
    q.push(_set(2))
    assert _kinds(q.drain()) == ["BuildTracker", "StepSet"]
    g = CalibrationGate(["a"], "world", TfBuffer())
    assert not g.set_intrinsics("a", Intrinsics(K, 640, 480, "a"))
    assert not g.set_intrinsics("a", Intrinsics(K.copy(), 640, 480, "a"))
    assert g.set_intrinsics("a", Intrinsics(K, 1280, 720, "a"))  # changed: rebuild


def test_standin_ground_truth_pairing() -> None:
    from hoi_perception.geometry.camera import PinholeCamera

    calib = {c: PinholeCamera(c, 640, 480, K, np.eye(4)) for c in ("a", "b")}
    gt: NearestStampBuffer[list[str]] = NearestStampBuffer(tolerance_ns=20 * MS, maxlen=64)
    q = SetQueue(CalibrationGate(["a", "b"], "world", TfBuffer(), calib), max_pending=3, ground_truth=gt)
    q.push(_set(100))
    assert _kinds(q.drain()) == ["BuildTracker"]  # tracker built, the set waits for its ground truth
    gt.add(105 * MS, ["person"])
    ev = q.drain()
    assert isinstance(ev[0], StepSet) and ev[0].ground_truth == ["person"]
    # ground truth beyond the set's tolerance arrived: its own can no longer come
    q.push(_set(200))
    assert q.drain() == []
    gt.add(260 * MS, ["later"])
    ev = q.drain()
    assert _kinds(ev) == ["Problem", "StepSet"] and ev[0].counter == "gt_unmatched" and ev[1].ground_truth == []
    # no ground truth at all: stepped without once the queue is over max_pending
    for t in (300, 310, 320):
        q.push(_set(t))
        assert q.drain() == []
    q.push(_set(330))
    ev = q.drain()
    assert _kinds(ev) == ["Problem", "StepSet"] and ev[1].pending.stamp_ns == 300 * MS
