"""The rclpy side of `hoi-eval-bag`: a player paced on the graph's outputs, and their recorder.

One node publishes the bag's stored CDR bytes and /clock (each message's log
time, right before it; nodes run with use_sim_time) as fast as the graph
answers, pacing on :class:`hoi_perception.evaluation.pacing.FramePacer`, and
records the output topics (raw CDR, arrival time) and /diagnostics. The
pacing and everything after the replay are ROS-free
(hoi_perception.evaluation.replay).
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from hoi_perception.bag.io import BagReader, TopicInfo
from hoi_perception.evaluation.pacing import FramePacer, header_stamp_ns
from hoi_perception.nodes.bag_player import resolve_message_class

DIAGNOSTICS = "/diagnostics"
DIAGNOSTICS_TYPE = "diagnostic_msgs/msg/DiagnosticArray"


@dataclass
class RecordedMessage:
    topic: str
    msgtype: str
    arrival_ns: int  # wall clock (time.monotonic_ns) at reception
    stamp_ns: int | None  # header stamp read from the CDR
    data: bytes


@dataclass
class DriverResult:
    published: dict[str, int] = field(default_factory=dict)
    recorded: list[RecordedMessage] = field(default_factory=list)
    wall_s: float = 0.0
    discovery_s: float = 0.0
    bag_duration_s: float = 0.0
    publish_errors: dict[str, int] = field(default_factory=dict)
    unmatched_outputs: list[str] = field(default_factory=list)
    skipped_topics: dict[str, str] = field(default_factory=dict)


class GraphFailed(RuntimeError):
    """A node of the graph ended during the replay (the message names it)."""


def _latched_qos(depth: int) -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _reliable_qos(depth: int) -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


class ReplayDriver(Node):
    """Publishes the bag, records outputs; :meth:`play` runs the paced replay (blocking)."""

    def __init__(self, reader: BagReader, topics: Sequence[str], outputs: Mapping[str, str], pacer: FramePacer,
                 latched: Sequence[str] = ("/tf_static",), qos_depth: int = 10, context: Context | None = None,
                 health: Callable[[], str | None] | None = None) -> None:
        super().__init__("hoi_eval_replay", context=context)
        self.reader = reader
        self.pacer = pacer
        self.health = health
        self.info: dict[str, TopicInfo] = reader.topics()
        self.pubs: dict[str, Any] = {}
        self.skipped: dict[str, str] = {}
        for t in topics:
            info = self.info[t]
            try:
                cls = resolve_message_class(info.msgtype)
            except (ImportError, AttributeError, ValueError) as exc:
                # a type this install lacks: that topic is not replayed (named in the result), the rest is
                self.skipped[t] = f"{info.msgtype}: {exc}"
                self.get_logger().error(f"{t}: cannot import {info.msgtype} ({exc}); not replayed")
                continue
            is_latched = info.transient_local or any(fnmatch.fnmatchcase(t, p) for p in latched)
            qos = _latched_qos(max(1, min(info.count, 100))) if is_latched else _reliable_qos(qos_depth)
            self.pubs[t] = self.create_publisher(cls, t, qos)
        self.clock_pub = self.create_publisher(Clock, "/clock", 10)
        self.cond = threading.Condition()
        self.recorded: list[RecordedMessage] = []
        self.last_output_ns = time.monotonic_ns()
        self.outputs = dict(outputs)
        for topic, msgtype in self.outputs.items():
            self.create_subscription(resolve_message_class(msgtype), topic, self._make_cb(topic, msgtype),
                                     _reliable_qos(1000), raw=True)
        self.create_subscription(resolve_message_class(DIAGNOSTICS_TYPE), DIAGNOSTICS,
                                 self._make_cb(DIAGNOSTICS, DIAGNOSTICS_TYPE), _reliable_qos(1000), raw=True)

    def _make_cb(self, topic: str, msgtype: str) -> Callable[[bytes], None]:
        def cb(data: bytes) -> None:
            now = time.monotonic_ns()
            stamp = header_stamp_ns(data)
            with self.cond:
                self.recorded.append(RecordedMessage(topic, msgtype, now, stamp, bytes(data)))
                if topic != DIAGNOSTICS:
                    self.pacer.on_output(topic, stamp, now)
                    self.last_output_ns = now
                self.cond.notify_all()
        return cb

    # -- discovery ------------------------------------------------------------
    def wait_for_graph(self, timeout_s: float, settle_s: float) -> list[str]:
        """Until every bag topic some node subscribes to is matched by our publisher and
        every output has a publisher, stable for ``settle_s``; returns outputs still unmatched."""
        deadline = time.monotonic() + timeout_s
        stable_since, last_state = None, None
        while time.monotonic() < deadline:
            self.check_health()
            wanted = {t: self.count_subscribers(t) for t in self.pubs}
            matched = all(self.pubs[t].get_subscription_count() >= n for t, n in wanted.items())
            missing = [o for o in self.outputs if self.count_publishers(o) == 0]
            state = (tuple(sorted(wanted.items())), tuple(missing))
            if matched and not missing:
                if state != last_state:
                    stable_since = time.monotonic()
                elif time.monotonic() - (stable_since or 0) >= settle_s:
                    return []
            else:
                stable_since = None
            last_state = state
            time.sleep(0.05)
        return [o for o in self.outputs if self.count_publishers(o) == 0]

    # -- replay ---------------------------------------------------------------
    def check_health(self) -> None:
        """Raise GraphFailed when a node of the graph has ended (no waiting on a dead node)."""
        if self.health is not None:
            err = self.health()
            if err:
                raise GraphFailed(err)

    def _wait_answered(self, output: str, index: int, timeout_s: float, idle_s: float | None = None) -> None:
        """Until ``output`` answered frame ``index``; gives up (counted) after ``timeout_s``, or
        once no output at all arrived for ``idle_s`` (the graph is done: at the end of the bag an
        approximate-time synchronizer keeps its last set for a next frame that never comes)."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while not self.pacer.answered(output, index):
                left = deadline - time.monotonic()
                idle = idle_s is not None and time.monotonic_ns() - self.last_output_ns > idle_s * 1e9
                if left <= 0 or idle or not rclpy.ok(context=self.context):
                    self.pacer.on_timeout(output)
                    return
                self.cond.wait(min(left, 0.1))
                self.check_health()

    def play(self, frame_timeout_s: float, final_timeout_s: float, final_idle_s: float,
             progress: Callable[[int], None] | None = None) -> DriverResult:
        res = DriverResult()
        topics = list(self.pubs)
        index = {t: 0 for t in self.pacer.trigger_stamps}
        last_clock = None
        t0 = time.monotonic()
        for msg in self.reader.messages(topics=topics):
            k = index.get(msg.topic)
            if k is not None:
                for output, j in self.pacer.required(msg.topic, k):
                    self._wait_answered(output, j, frame_timeout_s)
            if last_clock is None or msg.log_time_ns > last_clock:
                clk = Clock()
                clk.clock.sec, clk.clock.nanosec = divmod(msg.log_time_ns, 1_000_000_000)
                self.clock_pub.publish(clk)
                last_clock = msg.log_time_ns
            try:
                self.pubs[msg.topic].publish(msg.data)
            except Exception as exc:  # noqa: BLE001 - counted; one bad message must not end the replay
                res.publish_errors[msg.topic] = res.publish_errors.get(msg.topic, 0) + 1
                self.get_logger().error(f"{msg.topic}: publish failed: {exc}")
                continue
            res.published[msg.topic] = res.published.get(msg.topic, 0) + 1
            if k is not None:
                self.pacer.on_published(msg.topic, k, time.monotonic_ns())
                index[msg.topic] = k + 1
                if progress is not None:
                    progress(1)
        # the last frames: wait for their outputs, bounded by one overall timeout
        deadline = time.monotonic() + final_timeout_s
        for output, j in self.pacer.remaining():
            self._wait_answered(output, j, max(0.0, deadline - time.monotonic()), final_idle_s)
        res.wall_s = time.monotonic() - t0
        with self.cond:
            res.recorded = list(self.recorded)
        return res


def run_driver(reader: BagReader, topics: Sequence[str], outputs: Mapping[str, str], pacer: FramePacer, *,
               discovery_timeout_s: float, settle_s: float, frame_timeout_s: float, final_timeout_s: float,
               final_idle_s: float = 2.0, health: Callable[[], str | None] | None = None,
               progress: Callable[[int], None] | None = None, log: Callable[[str], None] = print) -> DriverResult:
    """rclpy init, the driver spun in a thread, the paced replay, clean shutdown."""
    ctx = Context()
    rclpy.init(context=ctx)
    node: ReplayDriver | None = None
    executor: SingleThreadedExecutor | None = None
    spinner: threading.Thread | None = None
    try:
        node = ReplayDriver(reader, topics, outputs, pacer, context=ctx, health=health)
        executor = SingleThreadedExecutor(context=ctx)
        executor.add_node(node)
        spinner = threading.Thread(target=_spin, args=(executor,), daemon=True)
        spinner.start()
        t0 = time.monotonic()
        unmatched = node.wait_for_graph(discovery_timeout_s, settle_s)
        discovery = time.monotonic() - t0
        if unmatched:
            log(f"no publisher of {unmatched} after {discovery_timeout_s:.0f} s; replaying anyway "
                "(their frames will be counted as missing)")
        res = node.play(frame_timeout_s, final_timeout_s, final_idle_s, progress)
        res.discovery_s = discovery
        res.unmatched_outputs = unmatched
        res.bag_duration_s = reader.duration_ns / 1e9
        res.skipped_topics = dict(node.skipped)
        return res
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        if spinner is not None:
            spinner.join(timeout=2.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown(context=ctx)


def _spin(executor: SingleThreadedExecutor) -> None:
    try:
        executor.spin()
    except (ExternalShutdownException, KeyboardInterrupt):
        pass
