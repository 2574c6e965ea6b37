"""/diagnostics publishing without diagnostic_updater (not on PyPI).

Each node registers named status functions; a timer publishes one
diagnostic_msgs/DiagnosticArray with all of them (like diagnostic_updater,
one status per task, named "<node>: <task>"). ``RateMonitor`` gives the
per-topic frequency/drop/latency status Isaac ROS nodes report.
"""

from __future__ import annotations

import time
from collections import Counter, deque
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

    ``tick()`` on every message, ``drop(reason)`` for every message not
    processed; ``status()`` for DiagnosticsPublisher. While messages flow the
    rate is measured over a sliding window of wall-clock arrivals; once the
    stream falls silent for longer than two typical gaps, the rate counts only
    arrivals within the last ``horizon_s`` seconds, so a stopped camera reads
    0 Hz within that time instead of its last rate forever.
    """

    expected_hz: float = 0.0
    tolerance: float = 0.3
    window: int = 50
    stale_after_s: float = 5.0
    horizon_s: float = 5.0
    count: int = 0
    dropped: int = 0
    errors: int = 0
    clock: Callable[[], float] = time.monotonic
    drops_by_reason: Counter[str] = field(default_factory=Counter)
    _arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=50))
    _latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=50))

    def tick(self, latency_ms: float | None = None) -> None:
        self.count += 1
        self._arrivals.append(self.clock())
        if latency_ms is not None:
            self._latency_ms.append(latency_ms)

    def drop(self, reason: str, n: int = 1) -> None:
        """Count ``n`` messages not processed, under ``reason`` (rate_limit, busy, ...)."""
        self.dropped += n
        self.drops_by_reason[reason] += n

    def rate_hz(self) -> float:
        a = self._arrivals
        if len(a) < 2 or a[-1] <= a[0]:
            return 0.0
        now = self.clock()
        span = a[-1] - a[0]
        gap = span / (len(a) - 1)
        if now - a[-1] <= 2.0 * gap:
            return (len(a) - 1) / span
        return sum(1 for t in a if t >= now - self.horizon_s) / self.horizon_s

    def mean_latency_ms(self) -> float:
        return sum(self._latency_ms) / len(self._latency_ms) if self._latency_ms else 0.0

    def status(self) -> tuple[bytes, str, dict[str, object]]:
        hz = self.rate_hz()
        values: dict[str, object] = {"count": self.count, "rate_hz": hz, "dropped": self.dropped,
                                     "errors": self.errors, "latency_ms_mean": self.mean_latency_ms()}
        values.update({f"dropped.{r}": n for r, n in sorted(self.drops_by_reason.items())})
        if self.count == 0:
            return STALE, "no messages yet", values
        silent = self.clock() - self._arrivals[-1] if self._arrivals else 0.0
        if silent > self.stale_after_s:
            return STALE, f"no message for {silent:.0f} s", values
        if self.expected_hz > 0 and abs(hz - self.expected_hz) > self.tolerance * self.expected_hz:
            return WARN, f"rate {hz:.1f} Hz, expected {self.expected_hz:.1f} Hz", values
        if self.errors:
            return WARN, f"{self.errors} bad inputs", values
        return OK, f"{hz:.1f} Hz", values
