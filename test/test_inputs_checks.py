"""Input checks and fault bookkeeping (ROS-free), and the rate monitor's decay."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hoi_perception.inputs.checks import (
    InputRejected,
    TimeJumpDetector,
    check_frame_id,
    check_image_header,
    check_image_size,
    check_intrinsics,
    check_rotation,
    check_translation,
)
from hoi_perception.inputs.faults import FaultLedger

K = [[600.0, 0, 320.0], [0, 600.0, 240.0], [0, 0, 1]]


def _reason(fn, *args, **kw) -> str:
    with pytest.raises(InputRejected) as e:
        fn(*args, **kw)
    return e.value.reason


def test_frame_id():
    check_frame_id("zed_left_camera_optical_frame")
    assert _reason(check_frame_id, "") == "empty_frame_id"
    assert _reason(check_frame_id, "  ", "/cam/image") == "empty_frame_id"


def test_image_size_limits_from_header_alone():
    check_image_size(1920, 1080)
    assert _reason(check_image_size, 0, 0) == "empty_image"
    assert _reason(check_image_size, 640, 0) == "empty_image"
    assert _reason(check_image_size, 8000, 8000) == "image_too_large"
    check_image_size(8000, 8000, max_pixels=0)  # 0 disables the limit
    # a header claiming 100k x 100k is rejected without touching its (absent) data
    msg = SimpleNamespace(header=SimpleNamespace(frame_id="cam"), width=100_000, height=100_000, data=b"")
    assert _reason(check_image_header, msg) == "image_too_large"
    msg = SimpleNamespace(header=SimpleNamespace(frame_id=""), width=10, height=10, data=b"")
    assert _reason(check_image_header, msg) == "empty_frame_id"


@pytest.mark.parametrize("bad", [
    [[math.nan, 0, 320], [0, 600, 240], [0, 0, 1]],
    [[600, 0, math.nan], [0, 600, 240], [0, 0, 1]],
    [[600, 0, 320], [0, math.inf, 240], [0, 0, 1]],
    [[0.0, 0, 320], [0, 600, 240], [0, 0, 1]],
    [[-600, 0, 320], [0, 600, 240], [0, 0, 1]],
    [[1e-6, 0, 320], [0, 1e-6, 240], [0, 0, 1]],
    [[600, 0, 1e6], [0, 600, 240], [0, 0, 1]],
    [1, 2, 3],
])
def test_bad_intrinsics_rejected(bad):
    assert _reason(check_intrinsics, bad, 640, 480, "cam_a") == "bad_intrinsics"


def test_good_intrinsics_pass():
    out = check_intrinsics(np.ravel(K), 640, 480)
    assert out.k.shape == (3, 3) and out.width == 640
    assert _reason(check_intrinsics, K, 0, 480) == "bad_intrinsics"


def test_rotation_and_translation():
    q = check_rotation([0, 0, 0.70710678, 0.70710678])
    assert np.isclose(np.linalg.norm(q), 1.0)
    assert _reason(check_rotation, [math.nan, 0, 0, 1]) == "bad_rotation"
    assert _reason(check_rotation, [0, 0, 0, 0]) == "bad_rotation"
    assert _reason(check_rotation, [0, 0, 0, 2]) == "bad_rotation"
    check_translation([1, 2, 3])
    assert _reason(check_translation, [1, math.inf, 3]) == "bad_translation"


def test_time_jump_detector():
    d = TimeJumpDetector(tolerance_s=1.0)
    s = 100_000_000_000
    assert not d.update(s)
    assert not d.update(s + 33_000_000)
    assert not d.update(s - 500_000_000)  # small reordering: not a jump
    assert d.update(s - 30_000_000_000)  # 30 s back: one jump
    assert not d.update(s - 29_966_000_000)  # continues from the new time base
    assert d.jumps == 1
    with pytest.raises(ValueError):
        TimeJumpDetector(-1.0)


def test_fault_ledger_counts_everything_logs_rarely():
    now = [0.0]
    led = FaultLedger(relog_every_s=10.0, clock=lambda: now[0])
    logs = [led.reject("empty_image") for _ in range(100)]
    assert logs[0] and not any(logs[1:])
    assert led.rejected["empty_image"] == 100
    now[0] = 11.0
    assert led.reject("empty_image")
    assert led.drop("rate_limit", 3) and led.dropped["rate_limit"] == 3
    v = led.values()
    assert v["rejected"] == 101 and v["dropped"] == 3 and v["rejected.empty_image"] == 101
    assert "empty_image=101" in led.summary()


def test_rate_monitor_decays_when_stream_stops():
    from hoi_perception.ros.diagnostics import OK, STALE, RateMonitor

    now = [0.0]
    m = RateMonitor(clock=lambda: now[0])
    for _ in range(50):
        m.tick()
        now[0] += 0.1
    assert abs(m.rate_hz() - 10.0) < 0.5 and m.status()[0] == OK
    now[0] += 3.0
    assert m.rate_hz() < 10.0  # falling while silent
    now[0] += 3.0
    assert m.rate_hz() == 0.0
    assert m.status()[0] == STALE
    m.drop("rate_limit", 2)
    m.drop("busy")
    vals = m.status()[2]
    assert vals["dropped"] == 3 and vals["dropped.rate_limit"] == 2 and vals["dropped.busy"] == 1
