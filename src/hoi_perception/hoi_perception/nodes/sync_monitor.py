"""Time-synchronize K camera streams and report what the synchronizer did.

The ingest check of the stack: subscribe to the configured topics (default:
the ZED image + depth and every static camera of the sample bag), run the
approximate-time synchronizer on them, and report per stream the received
rate (from message stamps), how many messages went into sets, and every drop
by reason, on /diagnostics, in periodic log lines and in a final table (and
JSON with ``report_path``).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from rclpy.node import Node

from hoi_perception.ros.diagnostics import OK, WARN, DiagnosticsPublisher
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.parameters import Param, declare_parameters
from hoi_perception.ros.synchronizer import SyncConfig, TopicSynchronizer
from hoi_perception.sync.approximate import SyncedSet

DEFAULT_TOPICS = [
    "/zed/zed_node/left/image_rect_color",
    "/zed/zed_node/depth/depth_registered",
    "/cameras/cam_00/image_raw",
    "/cameras/cam_01/image_raw",
    "/cameras/cam_02/image_raw",
    "/cameras/cam_03/image_raw",
]


def message_type(name: str) -> type:
    """'sensor_msgs/msg/Image' or 'sensor_msgs/Image' -> the rclpy class."""
    parts = name.split("/")
    if len(parts) == 2:
        parts = [parts[0], "msg", parts[1]]
    if len(parts) != 3:
        raise ValueError(f"not a message type name: {name!r}")
    return getattr(importlib.import_module(f"{parts[0]}.{parts[1]}"), parts[2])


class StreamStamps:
    """First/last stamp and count of one stream, for a rate in message time."""

    def __init__(self) -> None:
        self.first: int | None = None
        self.last: int | None = None
        self.count = 0

    def add(self, ns: int) -> None:
        self.first = ns if self.first is None else min(self.first, ns)
        self.last = ns if self.last is None else max(self.last, ns)
        self.count += 1

    def rate_hz(self) -> float:
        if self.count < 2 or self.first is None or self.last is None or self.last <= self.first:
            return 0.0
        return (self.count - 1) / ((self.last - self.first) * 1e-9)


PARAMETERS = (
    Param("topics", DEFAULT_TOPICS, "topics to synchronize and watch (at most 32)"),
    Param("types", ["sensor_msgs/msg/Image"], "message type of each topic, or one for all"),
    Param("report_path", "", "write the report (rates, drops, set spans) as JSON here at shutdown"),
    Param("report_period_s", 2.0, "progress log line period, seconds (0: none)", 0.0, 3600.0),
)
# a replay should deliver every recorded frame; cameras of one set lie within 50 ms and run at
# <= 20 Hz; a silent camera is named missing, not waited for; a bag loop resets instead of stalling
SYNC_DEFAULTS = SyncConfig(queue_size=10, qos_depth=10, qos_reliability="reliable", max_interval_s=0.05,
                           age_penalty=0.1, inter_message_lower_bound_s=0.05, stream_policy="partial",
                           stream_timeout_s=0.5, reset_threshold_s=1.0)


class SyncMonitor(Node):
    def __init__(self) -> None:
        super().__init__("sync_monitor")
        v = declare_parameters(self, PARAMETERS)
        self.topics = list(v["topics"])
        types = list(v["types"])
        self.report_path = str(v["report_path"])
        period = float(v["report_period_s"])
        if len(types) == 1:
            types = types * len(self.topics)
        if len(types) != len(self.topics) or not self.topics:
            raise ValueError(f"'types' must have one entry or one per topic ({len(self.topics)} topics, {len(types)} types)")
        if len(self.topics) > 32:
            raise ValueError(f"at most 32 streams, got {len(self.topics)}")
        cfg = SyncConfig.declare(self, "sync", SYNC_DEFAULTS)
        self.stamps = [StreamStamps() for _ in self.topics]
        self.in_sets = [0] * len(self.topics)
        self.sets = 0
        self.max_span_ms = 0.0
        self.sync = TopicSynchronizer(self, [(message_type(t), topic) for t, topic in zip(types, self.topics, strict=True)],
                                      self.on_set, cfg)
        # count every arrival in message time, including those the policy drops
        inner = self.sync.on_message

        def counting(index: int, stamp_ns: int, msg: Any) -> None:
            self.stamps[index].add(stamp_ns)
            inner(index, stamp_ns, msg)

        self.sync.on_message = counting  # type: ignore[method-assign]
        self.diagnostics = DiagnosticsPublisher(self)
        for i, topic in enumerate(self.topics):
            self.diagnostics.add(topic, lambda i=i: self.stream_status(i))
        if period > 0:
            self.create_timer(period, self.log_progress)
        self.get_logger().info(f"synchronizing {len(self.topics)} streams: {', '.join(self.topics)}")

    def on_set(self, s: SyncedSet) -> None:
        self.sets += 1
        for i, m in enumerate(s.messages):
            if m is not None:
                self.in_sets[i] += 1
        self.max_span_ms = max(self.max_span_ms, s.span_ns * 1e-6)

    def stream_status(self, i: int) -> tuple[bytes, str, dict[str, object]]:
        st = self.sync.stats()
        dropped = st.dropped_total(i)
        values: dict[str, object] = {"received": st.received[i], "rate_hz": self.stamps[i].rate_hz(),
                                     "in_sets": self.in_sets[i], "dropped": dropped}
        values.update({f"dropped_{r}": c[i] for r, c in st.dropped.items()})
        return (WARN if dropped else OK), (f"{dropped} dropped" if dropped else "no drops"), values

    def log_progress(self) -> None:
        st = self.sync.stats()
        self.get_logger().info(f"{self.sets} sets, {st.dropped_total()} drops, {st.resets} resets")

    def report(self) -> dict[str, Any]:
        st = self.sync.stats()
        streams = []
        for i, topic in enumerate(self.topics):
            streams.append({
                "topic": topic, "received": st.received[i], "rate_hz": round(self.stamps[i].rate_hz(), 3),
                "in_sets": self.in_sets[i], "dropped": st.dropped_total(i),
                "dropped_by_reason": {r: c[i] for r, c in st.dropped.items() if c[i]},
                "lost_in_transport": self.sync.lost_messages[i],
            })
        return {"sets": self.sets, "partial_sets": st.partial_sets, "resets": st.resets,
                "max_set_span_ms": round(self.max_span_ms, 3), "streams": streams}


def format_report(rep: dict[str, Any]) -> str:
    w = max(len(s["topic"]) for s in rep["streams"])
    lines = [f"{'stream':<{w}}  received  rate Hz  in sets  dropped  reasons",
             "-" * (w + 50)]
    for s in rep["streams"]:
        reasons = ", ".join(f"{k}={v}" for k, v in s["dropped_by_reason"].items()) or "-"
        lines.append(f"{s['topic']:<{w}}  {s['received']:>8}  {s['rate_hz']:>7.2f}  {s['in_sets']:>7}  "
                     f"{s['dropped']:>7}  {reasons}")
    lines.append(f"{rep['sets']} synchronized sets ({rep['partial_sets']} partial), {rep['resets']} resets, "
                 f"largest set span {rep['max_set_span_ms']:.1f} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return run_node(SyncMonitor, "sync_monitor", lambda n: format_report(n.report()), argv,
                    json_report=SyncMonitor.report)


if __name__ == "__main__":
    sys.exit(main())
