"""Conversions between integer nanoseconds and builtin_interfaces/Time
(the ROS-free half lives in sync/stamps.py)."""

from __future__ import annotations

from collections.abc import Callable

from builtin_interfaces.msg import Time
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.timer import Timer

from hoi_perception.sync.stamps import header_ns, ns_from_stamp, sec_nanosec

__all__ = ["header_ns", "ns_from_stamp", "stamp_from_ns", "steady_timer"]


def stamp_from_ns(ns: int) -> Time:
    sec, nanosec = sec_nanosec(ns)
    return Time(sec=sec, nanosec=nanosec)


def steady_timer(node: Node, period_s: float, callback: Callable[[], None]) -> Timer:
    """A timer on the steady clock: wall-time housekeeping (topic discovery, closing a recorder's
    chunk, releasing held frames) must run under ``use_sim_time`` before /clock starts and while
    a replay is paused, where a node-clock timer would not fire."""
    return node.create_timer(period_s, callback, clock=Clock(clock_type=ClockType.STEADY_TIME))
