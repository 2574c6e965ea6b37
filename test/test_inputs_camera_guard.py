"""ROS-free tests of the one-camera input guard, the stream watch, the
camera_info-by-stamp lookup and the Sparse4D gate's per-camera report."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hoi_perception.geometry.tf_buffer import TfBuffer
from hoi_perception.inputs.camera_guard import CameraInputGuard
from hoi_perception.inputs.stream_watch import StreamWatch
from hoi_perception.sparse4d.set_queue import CalibrationGate, Intrinsics
from hoi_perception.sync.nearest import NearestStampBuffer

K = [500.0, 0, 320, 0, 500.0, 240, 0, 0, 1]
S = 1_000_000_000


def _img(w: int, h: int, frame_id: str = "cam") -> SimpleNamespace:
    return SimpleNamespace(header=SimpleNamespace(frame_id=frame_id), width=w, height=h)


def test_images_refused_from_the_header_are_counted_by_reason_and_logged_once() -> None:
    g: CameraInputGuard[str] = CameraInputGuard(max_pixels=4096 * 4096)
    assert g.admit_image(_img(640, 480)) == (True, None)
    ok, line = g.admit_image(_img(0, 0), "/cam/image")
    assert not ok and "empty image 0x0 on /cam/image" in line
    ok, line = g.admit_image(_img(0, 0), "/cam/image")
    assert not ok and line is None  # counted, not logged again within 10 s
    ok, line = g.admit_image(_img(8000, 8000))
    assert not ok and "image_too_large" in line and "max_image_pixels" in line
    ok, line = g.admit_image(_img(640, 480, ""))
    assert not ok and "empty_frame_id" in line
    assert dict(g.ledger.rejected) == {"empty_image": 2, "image_too_large": 1, "empty_frame_id": 1}


def test_camera_info_is_paired_by_stamp_and_bad_intrinsics_are_refused() -> None:
    g: CameraInputGuard[str] = CameraInputGuard()
    assert not g.has_camera_info
    assert g.add_camera_info(10 * S, K, 640, 480, "info@10")[0]
    k2 = list(K)
    k2[0] = k2[4] = 800.0
    assert g.add_camera_info(20 * S, k2, 640, 480, "info@20")[0]
    bad = list(K)
    bad[2] = float("nan")
    ok, line = g.add_camera_info(30 * S, bad, 640, 480, "info@30", "/cam/camera_info")
    assert not ok and "NaN" in line and g.ledger.rejected["bad_intrinsics"] == 1
    assert g.camera_info_for(20 * S)[1] == "info@20"  # same stamp
    assert g.camera_info_for(19 * S)[1] == "info@10"  # the newest not newer than the frame, not the latest
    assert g.camera_info_for(25 * S)[1] == "info@20"
    assert g.camera_info_for(35 * S)[1] == "info@20"  # the NaN one was never kept
    assert g.camera_info_for(5 * S)[1] == "info@10"  # older than all: the oldest
    assert np.isclose(g.camera_info_for(20 * S)[0].k[0, 0], 800.0)


def test_time_jump_resets_the_rate_limiter_with_one_line_and_drops_are_counted() -> None:
    g: CameraInputGuard[str] = CameraInputGuard(min_period_ns=S // 5)  # max_rate_hz 5
    stamps = [100 * S + i * S // 30 for i in range(60)]  # 2 s at 30 Hz
    processed = 0
    for t in stamps:
        v = g.admit_frame(t)
        if v.process:
            g.processed(t)
            processed += 1
    assert 10 <= processed <= 11 and g.ledger.dropped["rate_limit"] == 60 - processed
    v = g.admit_frame(70 * S)  # 30 s back
    assert v.process and v.time_jump and "jumped" in v.log and g.time_jumps == 1
    g.processed(70 * S)
    v = g.admit_frame(70 * S + S // 2)
    assert v.process and not v.time_jump  # frames after the jump are not held back by the old maximum


def test_nearest_buffer_matching_or_before() -> None:
    b: NearestStampBuffer[str] = NearestStampBuffer(tolerance_ns=5)
    assert b.matching_or_before(10) is None
    b.add(100, "a")
    b.add(200, "b")
    assert b.matching_or_before(198) == (200, "b")  # within tolerance: the matching one
    assert b.matching_or_before(150) == (100, "a")
    assert b.matching_or_before(50) is None


def test_stream_watch_reports_a_stop_and_a_resume_once() -> None:
    now = [0.0]
    w = StreamWatch(["a", "b"], stopped_after_s=1.0, clock=lambda: now[0])
    w.seen("a")
    w.seen("b")
    assert w.check() == []
    now[0] = 0.5
    w.seen("a")
    now[0] = 1.6
    w.seen("a")
    changes = w.check()
    assert [(c.name, c.stopped) for c in changes] == [("b", True)] and w.check() == []
    w.seen("b")
    assert [(c.name, c.stopped) for c in w.check()] == [("b", False)]
    with pytest.raises(ValueError):
        StreamWatch(["a"], stopped_after_s=0)


def test_gate_says_which_camera_lacks_what() -> None:
    tf = TfBuffer()
    tf.set_transform("world", "a_optical", 0, [0, 0, 1], [0, 0, 0, 1], static=True)
    gate = CalibrationGate(["a", "b", "c"], "world", tf)
    k = np.asarray(K).reshape(3, 3)
    gate.set_intrinsics("a", Intrinsics(k, 640, 480, "a_optical"))
    gate.set_intrinsics("b", Intrinsics(k, 640, 480, "b_optical"))
    gate.rejected_info["c"] = "intrinsics of c contain NaN or inf"
    gate.set_intrinsics("d", Intrinsics(k, 640, 480, "d_optical"))
    gate.cameras.append("d")
    gate.refused_transforms["d_optical"] = "/tf_static: transform world -> d_optical refused: non-finite rotation"
    lacking = gate.lacking(S)
    assert set(lacking) == {"b", "c", "d"}
    assert "refused: /tf_static" in lacking["d"]
    assert "the transform world -> b_optical" in lacking["b"]
    assert "refused" in lacking["c"] and "NaN" in lacking["c"]
    cams, problem = gate.cameras_at(S)
    assert cams is None and "b lacks" in problem[1] and "c lacks" in problem[1]


def test_sequence_gaps_count_messages_never_taken_per_publisher() -> None:
    from hoi_perception.inputs.sequence_gaps import SequenceGapCounter

    c = SequenceGapCounter()
    assert c.update(b"a", 1) == 0 and c.update(b"a", 2) == 0
    assert c.update(b"a", 6) == 3  # 3, 4, 5 overwritten in the subscription history
    assert c.update(b"b", 40) == 0  # another publisher: its own baseline
    assert c.update(b"a", 7) == 0 and c.update(b"b", 42) == 1
    assert c.update(b"a", 1) == 0  # publisher restarted: new baseline, nothing counted
    assert c.update(b"a", None) == 0 and c.lost == 4
