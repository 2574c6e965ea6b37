"""TF buffer over time (geometry/tf_buffer.py), tf2 semantics: interpolation
with slerp on a moving frame, a late transform, extrapolation and unconnected
frames as errors, bounded history per edge. No ROS needed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hoi_perception.geometry.rotations import quat_to_matrix, yaw_to_quat
from hoi_perception.geometry.tf_buffer import (
    ConnectivityError,
    ExtrapolationError,
    FrameNotFound,
    InvalidTransform,
    TfBuffer,
    slerp,
)

S = 1_000_000_000  # ns per second
T0 = 1_700_000_000 * S


def _pose(x: float, yaw: float) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = quat_to_matrix(yaw_to_quat(yaw))
    m[0, 3] = x
    return m


def _moving_robot(buf: TfBuffer, times_s: list[float]) -> None:
    """world -> base_link drives along x at 1 m/s turning at 0.5 rad/s; the
    camera sits 0.2 m ahead of the base, 1 m up, static."""
    for t in times_s:
        buf.set_transform("world", "base_link", T0 + int(t * S), [t, 0.0, 0.0], yaw_to_quat(0.5 * t))
    buf.set_transform("base_link", "camera", 0, [0.2, 0.0, 1.0], [0, 0, 0, 1], static=True)


def test_moving_frame_is_interpolated_at_the_image_stamp() -> None:
    buf = TfBuffer()
    _moving_robot(buf, [0.0, 1.0, 2.0])
    for t in (0.0, 0.25, 0.5, 1.0, 1.75, 2.0):
        got = buf.lookup("world", "camera", T0 + int(t * S))
        cam = np.eye(4)
        cam[:3, 3] = [0.2, 0.0, 1.0]
        want = _pose(t, 0.5 * t) @ cam  # linear x and yaw: exactly what lerp + slerp give
        np.testing.assert_allclose(got, want, atol=1e-9)
    # the inverse direction is the inverse transform
    m = buf.lookup("camera", "world", T0 + int(0.6 * S))
    np.testing.assert_allclose(m @ buf.lookup("world", "camera", T0 + int(0.6 * S)), np.eye(4), atol=1e-12)
    # a leading slash is stripped (tf2 does), equal frames give identity
    np.testing.assert_allclose(buf.lookup("/world", "camera", T0), buf.lookup("world", "camera", T0))
    np.testing.assert_allclose(buf.lookup("camera", "camera", T0 + 5 * S), np.eye(4))


def test_no_extrapolation_either_way() -> None:
    buf = TfBuffer()
    _moving_robot(buf, [0.0, 1.0])
    with pytest.raises(ExtrapolationError, match="into the future"):
        buf.lookup("world", "camera", T0 + int(1.01 * S))
    with pytest.raises(ExtrapolationError, match="into the past"):
        buf.lookup("world", "camera", T0 - 1)
    one = TfBuffer()
    one.set_transform("world", "base_link", T0, [0, 0, 0], [0, 0, 0, 1])
    assert one.can_transform("world", "base_link", T0) == (True, "")
    ok, why = one.can_transform("world", "base_link", T0 + 1)
    assert not ok and "only time" in why  # one sample matches its own stamp only


def test_late_transform_makes_the_held_lookup_succeed() -> None:
    buf = TfBuffer()
    _moving_robot(buf, [0.0, 1.0])
    image_stamp = T0 + int(1.5 * S)  # the image came before the transform covering it
    ok, why = buf.can_transform("world", "camera", image_stamp)
    assert not ok and "future" in why
    buf.set_transform("world", "base_link", T0 + 2 * S, [2.0, 0.0, 0.0], yaw_to_quat(1.0))
    got = buf.lookup("world", "camera", image_stamp)
    assert got[0, 3] == pytest.approx(1.5 + 0.2 * math.cos(0.75), abs=1e-9)
    # an out-of-order sample lands in its place in the history
    buf.set_transform("world", "base_link", T0 + int(0.5 * S), [0.5, 0.3, 0.0], yaw_to_quat(0.25))
    assert buf.lookup("world", "base_link", T0 + int(0.5 * S))[1, 3] == pytest.approx(0.3)
    assert buf.lookup("world", "base_link", T0 + int(0.25 * S))[1, 3] == pytest.approx(0.15)


def test_unknown_and_unconnected_frames_are_errors() -> None:
    buf = TfBuffer()
    _moving_robot(buf, [0.0, 1.0])
    buf.set_transform("map", "other_robot", T0, [0, 0, 0], [0, 0, 0, 1], static=True)
    with pytest.raises(FrameNotFound, match="nowhere"):
        buf.lookup("world", "nowhere", T0)
    with pytest.raises(ConnectivityError, match="not part of the same tree"):
        buf.lookup("world", "other_robot", T0)
    with pytest.raises(ConnectivityError):
        buf.latest_common_time("camera", "map")


def test_latest_common_time_and_static_chains() -> None:
    buf = TfBuffer()
    _moving_robot(buf, [0.0, 1.0, 2.0])
    buf.set_transform("world", "person", T0 + int(1.5 * S), [5, 0, 0], [0, 0, 0, 1])
    assert buf.latest_common_time("camera", "world") == T0 + 2 * S
    assert buf.latest_common_time("camera", "person") == T0 + int(1.5 * S)  # the older of the two newest
    np.testing.assert_allclose(buf.lookup("world", "camera")[:3, 3], buf.lookup("world", "camera", T0 + 2 * S)[:3, 3])
    # static chains answer at any stamp
    assert buf.latest_common_time("base_link", "camera") == 0
    np.testing.assert_allclose(buf.lookup("base_link", "camera", 123)[:3, 3], [0.2, 0.0, 1.0])


def test_history_is_bounded_per_edge() -> None:
    buf = TfBuffer(cache_time_ns=2 * S, max_samples=1000)
    _moving_robot(buf, [0.1 * i for i in range(100)])  # 10 s of data at 10 Hz
    assert buf.history_length("base_link") == 21  # 2 s window behind the newest sample, both ends kept
    with pytest.raises(ExtrapolationError, match="past"):
        buf.lookup("world", "camera", T0 + 5 * S)  # pruned
    # data older than the window of the newest sample is refused and counted, not stored
    assert not buf.set_transform("world", "base_link", T0, [0, 0, 0], [0, 0, 0, 1])
    assert buf.counters["refused_old"] == 1
    capped = TfBuffer(max_samples=5)
    for i in range(50):
        capped.set_transform("a", "b", T0 + i, [i, 0, 0], [0, 0, 0, 1])
    assert capped.history_length("b") == 5
    # an exact duplicate is stored once
    capped.set_transform("a", "b", T0 + 49, [49, 0, 0], [0, 0, 0, 1])
    assert capped.history_length("b") == 5


def test_parent_change_is_not_interpolated() -> None:
    buf = TfBuffer()
    buf.set_transform("world", "cup", T0, [1, 0, 0], [0, 0, 0, 1])
    buf.set_transform("hand", "cup", T0 + S, [0, 0, 0.1], [0, 0, 0, 1])  # picked up
    buf.set_transform("world", "hand", T0, [0, 0, 0], [0, 0, 0, 1], static=True)
    # between the two samples tf2 uses the older one as is
    np.testing.assert_allclose(buf.lookup("world", "cup", T0 + S // 2)[:3, 3], [1, 0, 0])
    np.testing.assert_allclose(buf.lookup("world", "cup", T0 + S)[:3, 3], [0, 0, 0.1])


def test_invalid_transforms_are_refused() -> None:
    buf = TfBuffer()
    for args in (("", "a"), ("a", "a"), ("/a", "a")):
        with pytest.raises(InvalidTransform):
            buf.set_transform(*args, T0, [0, 0, 0], [0, 0, 0, 1])
    with pytest.raises(InvalidTransform, match="non-finite"):
        buf.set_transform("a", "b", T0, [np.nan, 0, 0], [0, 0, 0, 1])
    with pytest.raises(InvalidTransform, match="zero quaternion"):
        buf.set_transform("a", "b", T0, [0, 0, 0], [0, 0, 0, 0])
    assert buf.counters["invalid"] == 5 and len(buf) == 0
    # an unnormalised quaternion is normalised (tf2 normalises within tolerance)
    buf.set_transform("a", "b", T0, [0, 0, 0], [0, 0, 0, 2])
    np.testing.assert_allclose(buf.lookup("a", "b", T0), np.eye(4))


def test_slerp_takes_the_short_way() -> None:
    q0 = yaw_to_quat(0.1)
    q1 = -np.asarray(yaw_to_quat(0.5))  # the same rotation, the other hemisphere
    np.testing.assert_allclose(quat_to_matrix(slerp(q0, q1, 0.5)), quat_to_matrix(yaw_to_quat(0.3)), atol=1e-12)
    np.testing.assert_allclose(slerp(q0, q0, 0.3), q0, atol=1e-12)
