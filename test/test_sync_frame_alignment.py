"""Track fusion's frame alignment without ROS (sync/frame_alignment.py) and
the box pose transform it uses for groups in another frame."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hoi_perception.geometry.box3d import Box3D, box_corners, transform_box_pose
from hoi_perception.sync.frame_alignment import FrameAligner

MS = 1_000_000


def test_frames_released_when_complete_passed_or_expired() -> None:
    a = FrameAligner(["g0", "g1"], tolerance_ns=30 * MS, max_wait_ns=1000 * MS, loop_threshold_ns=10_000 * MS)
    assert a.add("g0", 100 * MS, "a") == (False, [])
    reset, out = a.add("g1", 110 * MS, "b")  # within tolerance: the same instant
    assert not reset and len(out) == 1 and out[0].complete and out[0].messages == {"g0": "a", "g1": "b"}
    # g1 drops a frame: g0's 200 ms frame is released once g1 has moved past it
    assert a.add("g0", 200 * MS, "c")[1] == []
    out = a.add("g1", 300 * MS, "d")[1]
    assert [f.stamp_ns for f in out] == [200 * MS] and not out[0].complete
    # a silent group: released when the newest message is max_wait ahead
    a.add("g0", 300 * MS, "e")  # completes 300
    a.add("g0", 400 * MS, "f")
    out = a.add("g0", 1500 * MS, "g")[1]
    assert [f.stamp_ns for f in out] == [400 * MS]
    assert a.counters["incomplete_frames"] == 2
    # a message for a frame already released is late
    assert a.add("g1", 350 * MS, "late")[1] == [] and a.counters["late_messages"] == 1


def test_bag_loop_resets() -> None:
    a = FrameAligner(["g0"], tolerance_ns=30 * MS, max_wait_ns=1000 * MS)
    a.add("g0", 5000 * MS, "x")
    reset, out = a.add("g0", 100 * MS, "y")
    assert reset and a.counters["resets"] == 1 and [f.messages["g0"] for f in out] == ["y"]
    with pytest.raises(ValueError):
        a.add("nope", 0, None)
    with pytest.raises(ValueError):
        FrameAligner(["a", "a"], 1, 1)


def test_transform_box_pose_matches_the_corners() -> None:
    box = Box3D(1, "Person", 1.0, 2.0, 0.9, 0.6, 0.4, 1.8, 0.3, velocity=np.array([1.0, 0.0, 0.0]))
    m = np.eye(4)
    c, s = math.cos(0.5), math.sin(0.5)
    m[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    m[:3, 3] = [5.0, -1.0, 0.2]
    p, yaw, v = transform_box_pose(m, box.center, box.yaw, box.velocity)
    assert yaw == pytest.approx(0.8)
    moved = box_corners([*p, box.w, box.l, box.h, yaw])[0]
    np.testing.assert_allclose(moved, box.corners() @ m[:3, :3].T + m[:3, 3], atol=1e-12)
    np.testing.assert_allclose(v, [c, s, 0.0])
