"""Conversions between integer nanoseconds and builtin_interfaces/Time
(the ROS-free half lives in sync/stamps.py)."""

from __future__ import annotations

from builtin_interfaces.msg import Time

from hoi_perception.sync.stamps import header_ns, ns_from_stamp, sec_nanosec

__all__ = ["header_ns", "ns_from_stamp", "stamp_from_ns"]


def stamp_from_ns(ns: int) -> Time:
    sec, nanosec = sec_nanosec(ns)
    return Time(sec=sec, nanosec=nanosec)
