"""Record topics into a crash-safe rosbag2 MCAP bag (rosbag2_py / `ros2 bag record`
are not on PyPI).

Subscribes to every configured topic as serialized CDR (no deserialization,
so any message type is recorded as it was sent), creating subscriptions as
topics appear in the graph, and writes them with the receive time as log time
through :class:`hoi_perception.bag.recording.CrashSafeBagWriter`: chunks are
closed by size and by time (``chunk_interval_s``, 1 s by default), written and
fsync'd, and metadata.yaml is kept current, so SIGKILL or a power cut loses at
most the last chunk and the bag opens with rosbags as it is (or after
``hoi-bag-repair`` if the kill hit a write). Message types must be known to the
bag typestore (ROS 2 standard types + hoi_msgs); a topic of an unknown type is
reported and skipped, never silently lost.

A write error (a full disk) is one ERROR line: the recorder stops writing,
keeps what was written readable, prints its summary and exits with code 3.

Parameters (a bad value is one line and exit code 2):

* ``output`` (string, required): bag directory to create (must not exist).
* ``topics`` (string array, ["/hoi/*"]): topic names or fnmatch patterns; not empty.
* ``compress`` (bool, true): zstd chunks.
* ``chunk_bytes`` (int, 1048576, 1 KiB .. 1 GiB), ``chunk_interval_s`` (double, 1.0, 0.01 .. 60).
* ``fsync`` (bool, true): fsync after every chunk (off only for throw-away recordings).
* ``qos_depth`` (int, 10, 1 .. 1000): keep-last depth of the subscriptions (bounds
  what DDS buffers for the recorder; latched topics keep 100).
* ``discovery_period_s`` (double, 0.5, 0.05 .. 60): how often new topics are looked for.

Exit codes: 0 recorded and closed, 2 start-up error, 3 stopped by a write error.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from hoi_perception.bag.recording import CrashSafeBagWriter
from hoi_perception.ros.node_main import run_with_rclpy
from hoi_perception.ros.parameters import Param, declare_parameters
from hoi_perception.ros.pattern_subscriber import PatternSubscriber, check_patterns
from hoi_perception.ros.time import steady_timer

EXIT_OK = 0
EXIT_BAD_PARAMETERS = 2
EXIT_WRITE_FAILED = 3
NAME = "bag_recorder"

PARAMETERS = (
    Param("output", "", "bag directory to create (required; an existing one is never overwritten)"),
    Param("topics", ["/hoi/*"], "topic names or fnmatch patterns (* ? [ ] !) to record"),
    Param("compress", True, "zstd-compress the MCAP chunks"),
    Param("chunk_bytes", 1 << 20, "MCAP chunk size limit [bytes]", 1024, 1 << 30),
    Param("chunk_interval_s", 1.0, "MCAP chunk age limit: a chunk is written at least this often [s]", 0.01, 60.0),
    Param("fsync", True, "fsync each written chunk (a crash loses at most the open chunk)"),
    Param("qos_depth", 10, "subscription history depth", 1, 1000),
    Param("discovery_period_s", 0.5, "period of the search for new matching topics [s]", 0.05, 60.0),
)


# Bound on messages held while use_sim_time waits for the first /clock (beyond it, log time 0).
MAX_HELD_BEFORE_CLOCK = 10000
MAX_HOLD_BEFORE_CLOCK_S = 3.0


class BagRecorder(Node):
    def __init__(self) -> None:
        super().__init__(NAME)
        self.writer: CrashSafeBagWriter | None = None
        v = declare_parameters(self, PARAMETERS)
        self.out = str(v["output"])
        self.patterns = check_patterns(v["topics"])
        self.compress = bool(v["compress"])
        chunk_bytes, interval = int(v["chunk_bytes"]), float(v["chunk_interval_s"])
        fsync = bool(v["fsync"])
        self.qos_depth = int(v["qos_depth"])
        period = float(v["discovery_period_s"])
        if not self.out:
            raise ValueError("parameter 'output' (bag directory to create) is required")
        if Path(self.out).exists():
            raise ValueError(f"output {self.out} exists; refusing to overwrite a recording")
        try:
            self.writer = CrashSafeBagWriter(self.out, compression="zstd" if self.compress else "",
                                             chunk_bytes=chunk_bytes, chunk_interval_s=interval, fsync=fsync).open()
        except OSError as exc:
            raise ValueError(f"cannot create bag {self.out}: {exc.strerror or exc}") from None
        self.topics = PatternSubscriber(self, self.patterns, self.qos_depth, self._add_topic,
                                        self.on_message, self._on_lost)
        self.stop_requested = False
        self.failure_reported = False
        self.before_clock: list[tuple[str, bytes]] = []
        self.hold_before_clock = True
        self.held_since = 0.0
        self.started = time.monotonic()
        # steady clock: under use_sim_time the recorder must subscribe before the player's /clock starts
        steady_timer(self, period, self.discover)
        # Closes a chunk by age even when no message arrives to trigger it.
        steady_timer(self, min(0.25, interval / 4), self._poll)
        self.discover()
        self.get_logger().info(f"recording {self.patterns} into {self.out} "
                               f"(chunks <= {chunk_bytes} B or {interval} s, fsync {fsync})")

    def discover(self) -> None:
        if self.stop_requested or self.writer is None:
            return
        self.topics.discover()
        self._check_writer()

    def _add_topic(self, topic: str, type_name: str, _latched: bool) -> None:
        assert self.writer is not None
        self.writer.add_topic(topic, type_name)

    def on_message(self, topic: str, data: bytes) -> None:
        assert self.writer is not None
        clock = self.get_clock()
        now = clock.now().nanoseconds
        if now == 0 and clock.ros_time_is_active and self._holding():
            # use_sim_time and no /clock yet: a log time of 0 would stretch the bag over
            # decades of sim time; held (bounded) and written with the first clock time.
            if not self.before_clock:
                self.held_since = time.monotonic()
            self.before_clock.append((topic, data))
            return
        self._write_held(now)
        self.writer.write_raw(topic, now, data)
        self._check_writer()

    def _holding(self) -> bool:
        """Hold while it is short and small: held messages are not on disk, so a crash
        would lose them; after that they are written with log time 0."""
        if not self.hold_before_clock:
            return False
        if len(self.before_clock) >= MAX_HELD_BEFORE_CLOCK or (
                self.before_clock and time.monotonic() - self.held_since > MAX_HOLD_BEFORE_CLOCK_S):
            self.hold_before_clock = False
            self.get_logger().warning(
                f"use_sim_time but no /clock after {len(self.before_clock)} message(s) / "
                f"{time.monotonic() - self.held_since:.1f} s: writing with log time 0 until /clock starts")
            self._write_held(0)
            return False
        return True

    def _poll(self) -> None:
        assert self.writer is not None
        if self.before_clock:
            self._holding()  # writes what was held once the hold is over
        self.writer.poll()

    def _write_held(self, log_time_ns: int) -> None:
        """Messages that arrived before the first /clock, written at ``log_time_ns``."""
        if not self.before_clock:
            return
        assert self.writer is not None
        held, self.before_clock = self.before_clock, []
        self.get_logger().info(f"{len(held)} message(s) arrived before the first /clock; "
                               f"written with its time ({log_time_ns / 1e9:.3f} s)")
        for topic, data in held:
            self.writer.write_raw(topic, log_time_ns, data)
        self._check_writer()

    def _on_lost(self, topic: str, _n: int) -> None:
        self.get_logger().warning(
            f"{topic}: {self.topics.transport_lost[topic]} messages lost before reaching the recorder so far "
            f"(publisher sequence gaps; raise qos_depth or lower the load)", throttle_duration_sec=5.0)

    def _check_writer(self) -> None:
        w = self.writer
        if w is None or w.error is None or self.failure_reported:
            return
        self.failure_reported = True
        self.stop_requested = True
        self.get_logger().error(
            f"writing {w.mcap_path} failed: {w.error_text()}; recording stopped with {w.message_count} messages "
            f"on disk, {w.dropped} lost; what was written stays readable"
        )

    def close(self) -> None:
        if self.writer is not None:
            # No /clock ever came: what was held is written (at time 0) rather than lost.
            self._write_held(max(0, self.get_clock().now().nanoseconds))
            self.writer.close()
            if self.writer.error is not None:
                self._check_writer()

    def summary(self) -> str:
        w = self.writer
        if w is None:
            return f"{NAME}: nothing recorded"
        state = "closed" if w.error is None else f"STOPPED by write error {w.error_text()}"
        lines = [f"{NAME}: {w.message_count} messages in {w.chunks_written} chunks, {w.bytes_written} bytes, "
                 f"to {self.out} ({state}, {time.monotonic() - self.started:.1f} s)"]
        counts = w.counts()
        lines += [f"  {t}: {counts.get(t, 0)} written of {n} received"
                  + (f", {self.topics.transport_lost[t]} lost before reaching the recorder" if t in self.topics.transport_lost
                     else "") for t, n in sorted(self.topics.received.items())]
        lines += [f"  skipped {t}: {why}" for t, why in sorted(self.topics.skipped.items())]
        if w.error is not None:
            lines.append(f"  lost: {w.lost_in_failed_chunk} in the chunk whose write failed, "
                         f"{w.dropped - w.lost_in_failed_chunk} after it")
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    # SIGINT stops rclpy and lets close() write the footer; it is not a KeyboardInterrupt
    # that could land inside close() (ros/stop_signal.py).
    return run_with_rclpy(NAME, argv, lambda _sigint: _record())


def _record() -> int:
    node: BagRecorder | None = None
    try:
        try:
            node = BagRecorder()
        except (ValueError, FileNotFoundError) as exc:
            rclpy.logging.get_logger(NAME).error(" ".join(str(exc).split()))
            return EXIT_BAD_PARAMETERS
        # SIGTERM (systemd, launch) ends the recording like Ctrl-C: close, summary.
        signal.signal(signal.SIGTERM, lambda *_: _request_stop(node))
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        try:
            while rclpy.ok() and not node.stop_requested:
                executor.spin_once(timeout_sec=0.1)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        executor.remove_node(node)
        node.close()
        print(node.summary(), flush=True)
        assert node.writer is not None
        return EXIT_WRITE_FAILED if node.writer.error is not None else EXIT_OK
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


def _request_stop(node: Any) -> None:
    node.stop_requested = True


if __name__ == "__main__":
    sys.exit(main())
