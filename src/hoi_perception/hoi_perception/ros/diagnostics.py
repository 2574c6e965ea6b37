"""/diagnostics publishing without diagnostic_updater (not on PyPI).

Each node registers named status functions; a timer publishes one
diagnostic_msgs/DiagnosticArray with all of them (like diagnostic_updater,
one status per task, named "<node>: <task>"). ``RateMonitor`` gives the
per-topic frequency/drop/latency status Isaac ROS nodes report.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR
STALE = DiagnosticStatus.STALE

# diagnostic_msgs' level is a ROS `byte`: rclpy wants a 1-byte bytes object.
StatusFn = Callable[[], tuple[bytes, str, dict[str, object]]]


class DiagnosticsPublisher:
    def __init__(self, node: Node, hardware_id: str = "", period_s: float = 1.0) -> None:
        self._node = node
        self._hardware_id = hardware_id or node.get_name()
        self._tasks: dict[str, StatusFn] = {}
        self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = node.create_timer(period_s, self.publish)

    def add(self, name: str, fn: StatusFn) -> None:
        self._tasks[name] = fn

    def publish(self) -> None:
        arr = DiagnosticArray()
        arr.header.stamp = self._node.get_clock().now().to_msg()
        for name, fn in self._tasks.items():
            try:
                level, message, values = fn()
            except Exception as e:  # a broken status function must not kill the node
                level, message, values = ERROR, f"status function failed: {e}", {}
            st = DiagnosticStatus(level=bytes([level]) if isinstance(level, int) else level,  # accept ints too
                                  name=f"{self._node.get_name()}: {name}", message=message,
                                  hardware_id=self._hardware_id)
            st.values = [KeyValue(key=str(k), value=_fmt(v)) for k, v in values.items()]
            arr.status.append(st)
        self._pub.publish(arr)


def _fmt(v: object) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


@dataclass
class RateMonitor:
    """Frequency, latency and drop bookkeeping of one topic or stage.

    ``tick()`` on every message; ``status()`` for DiagnosticsPublisher. Rate is
    measured over a sliding window of wall-clock arrival times.
    """

    expected_hz: float = 0.0
    tolerance: float = 0.3
    window: int = 50
    count: int = 0
    dropped: int = 0
    errors: int = 0
    _arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=50))
    _latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=50))

    def tick(self, latency_ms: float | None = None) -> None:
        self.count += 1
        self._arrivals.append(time.monotonic())
        if latency_ms is not None:
            self._latency_ms.append(latency_ms)

    def rate_hz(self) -> float:
        a = self._arrivals
        if len(a) < 2 or a[-1] <= a[0]:
            return 0.0
        return (len(a) - 1) / (a[-1] - a[0])

    def mean_latency_ms(self) -> float:
        return sum(self._latency_ms) / len(self._latency_ms) if self._latency_ms else 0.0

    def status(self) -> tuple[bytes, str, dict[str, object]]:
        hz = self.rate_hz()
        values: dict[str, object] = {"count": self.count, "rate_hz": hz, "dropped": self.dropped,
                                     "errors": self.errors, "latency_ms_mean": self.mean_latency_ms()}
        if self.count == 0:
            return STALE, "no messages yet", values
        if self._arrivals and time.monotonic() - self._arrivals[-1] > 5.0:
            return STALE, "no message for 5 s", values
        if self.expected_hz > 0 and abs(hz - self.expected_hz) > self.tolerance * self.expected_hz:
            return WARN, f"rate {hz:.1f} Hz, expected {self.expected_hz:.1f} Hz", values
        if self.errors:
            return WARN, f"{self.errors} bad inputs", values
        return OK, f"{hz:.1f} Hz", values
