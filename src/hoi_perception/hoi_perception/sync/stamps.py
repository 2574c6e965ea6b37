"""The one stamp helper: builtin_interfaces/Time (rclpy or rosbags message,
anything with ``sec`` and ``nanosec``) <-> integer nanoseconds. ROS-free;
ros/time.py adds the conversion back into an rclpy Time."""

from __future__ import annotations

from typing import Any

NS_PER_S = 1_000_000_000


def ns_from_stamp(stamp: Any) -> int:
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def header_ns(msg: Any) -> int:
    """``msg.header.stamp`` as integer nanoseconds."""
    return ns_from_stamp(msg.header.stamp)


def sec_nanosec(ns: int) -> tuple[int, int]:
    """(sec, nanosec) of integer nanoseconds (nanosec in [0, 1e9), also for negative times)."""
    sec, nanosec = divmod(int(ns), NS_PER_S)
    return sec, nanosec
