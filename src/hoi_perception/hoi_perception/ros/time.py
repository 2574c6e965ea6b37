"""Conversions between integer nanoseconds and builtin_interfaces/Time."""

from __future__ import annotations

from builtin_interfaces.msg import Time


def stamp_from_ns(ns: int) -> Time:
    ns = int(ns)
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def ns_from_stamp(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
