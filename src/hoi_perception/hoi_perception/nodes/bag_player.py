"""Bag player node: replays a rosbag2 bag (MCAP or sqlite3) with /clock.

Thin shell over :mod:`hoi_perception.bag.playback`: reads parameters,
creates one publisher per topic and publishes the stored CDR bytes as they
are (no deserialization). Nodes started with ``use_sim_time:=true`` follow
the published /clock, so they replay exactly what was recorded.

Run::

    python -m hoi_perception.nodes.bag_player --ros-args -p bag_path:=data/sample_bag -p rate:=0.5

Parameters (validated at start; a bad value logs an error and exits with 2):

* ``bag_path`` (string, required): bag directory or ``.mcap`` file; ``sample`` is the
  embedded sample bag (``hoi_perception.bag.sample.default_sample_dir()``, generated on
  first use), so launch files work from an install in any folder.
* ``rate`` (double, 1.0, > 0): playback speed factor.
* ``loop`` (bool, false) and ``max_passes`` (int, 0 = unbounded): replay forever or N times.
* ``start_offset_s`` (double, 0.0, >= 0): skip the first seconds of the bag
  (latched topics such as /tf_static are still delivered).
* ``topics_include`` / ``topics_exclude`` (string arrays, fnmatch patterns):
  empty include = every topic.
* ``publish_clock`` (bool, true), ``clock_rate_hz`` (double, 100.0, >= 0):
  /clock ticks at that wall rate and right before each message.
* ``qos_depth`` (int, 10, >= 1): keep-last depth of the (reliable, volatile) topic publishers.
* ``latched_topics`` (string array, ["/tf_static"]): published transient
  local, as are topics recorded with transient-local offers.
* ``wait_for_subscribers`` (bool, false) with ``wait_for_subscribers_timeout_s``
  (double, 10.0): hold playback until every publisher has a subscriber.
* ``start_delay_s`` (double, 0.0): wait before playing (discovery time).
* ``linger_s`` (double, 0.5): keep the node alive after the last message so
  reliable delivery completes, then exit.
* ``publish_diagnostics`` (bool, false): /diagnostics at 1 Hz.

The process ends by itself after the last message unless ``loop`` is set.

Damaged bags (see hoi_perception.bag.io.BagReader): a bag that cannot be
opened (truncated, not MCAP, broken metadata.yaml) is one line naming the file
and the problem, exit code 2. A chunk that turns out damaged mid-play is
reported, skipped and counted, and playback goes on; when rosbags would read
fewer messages than the bag declares, the MCAP records are read directly.
Exit codes: 0 played, 2 start-up error (parameters or an unreadable bag),
3 played but damaged data was skipped or fewer messages than declared were played.
"""

from __future__ import annotations

import fnmatch
import importlib
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import rclpy
from rclpy.exceptions import ParameterException, ParameterUninitializedException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rosgraph_msgs.msg import Clock

from hoi_perception.bag.io import BagError, BagMessage, BagReader, TopicInfo
from hoi_perception.bag.playback import PlaybackConfig, PlaybackRunner, PlaybackStats, schedule, select_topics
from hoi_perception.ros.node_main import run_with_rclpy
from hoi_perception.ros.parameters import Param, declare_parameters
from hoi_perception.ros.spin import spin_until_shutdown
from hoi_perception.ros.stop_signal import SigintStopsRclpy

# bag_path value naming the embedded sample bag (launch defaults use it: no checkout-relative path)
SAMPLE_KEYWORD = "sample"

CLOCK_TOPIC = "/clock"
EXIT_OK = 0
EXIT_BAD_PARAMETERS = 2
EXIT_DAMAGED_DATA = 3


class ParameterError(ValueError):
    """A parameter value the player cannot work with."""


def resolve_message_class(msgtype: str) -> type:
    """``pkg/msg/Name`` -> the generated rclpy class (imports ``pkg.msg``)."""
    parts = msgtype.split("/")
    if len(parts) == 2:  # tolerate ROS 1 style "pkg/Name"
        parts = [parts[0], "msg", parts[1]]
    if len(parts) != 3:
        raise ValueError(f"bad message type name {msgtype!r}")
    pkg, sub, name = parts
    module = importlib.import_module(f"{pkg}.{sub}")
    return getattr(module, name)


def _ns_to_clock(t_ns: int) -> Clock:
    msg = Clock()
    msg.clock.sec, msg.clock.nanosec = divmod(int(t_ns), 1_000_000_000)
    return msg

# Read once at start-up (read_only). String arrays without a default are unset: every topic.
PARAMETERS = (
    Param("bag_path", "", "bag directory (metadata.yaml) or .mcap file to play; 'sample': the embedded sample bag; "
          "required"),
    Param("rate", 1.0, "playback speed factor (2.0: twice as fast)", 1e-3, 1000.0),
    Param("loop", False, "play the bag again from the start when it ends"),
    Param("max_passes", 0, "loop: stop after this many passes (0: no limit)", 0, 1000000000),
    Param("start_offset_s", 0.0, "skip this much of the bag's start [s]", 0.0, 1.0e9),
    Param("topics_include", Parameter.Type.STRING_ARRAY, "play only these topics (unset: every topic)"),
    Param("topics_exclude", Parameter.Type.STRING_ARRAY, "never play these topics (unset: none excluded)"),
    Param("publish_clock", True, "publish /clock from the bag's time (for use_sim_time nodes)"),
    Param("clock_rate_hz", 100.0, "/clock rate between messages (0: only before each message)", 0.0, 10000.0),
    Param("qos_depth", 10, "publisher history depth", 1, 100000),
    Param("latched_topics", ["/tf_static"], "topics published transient-local (late joiners get them)"),
    Param("wait_for_subscribers", False, "before playing, wait until every played topic has a subscriber"),
    Param("wait_for_subscribers_timeout_s", 10.0, "wait_for_subscribers: give up waiting after this [s]",
          1e-3, 3600.0),
    Param("start_delay_s", 0.0, "sleep this long before the first message (participants match) [s]", 0.0, 3600.0),
    Param("linger_s", 0.5, "stay up this long after the last message so it is delivered [s]", 0.0, 3600.0),
    Param("publish_diagnostics", False, "publish playback progress on /diagnostics"),
)


class BagPlayer(Node):
    """Node that publishes a bag's messages and /clock; call :meth:`play`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("bag_player", **kwargs)
        # Set before anything can raise: rclpy's shutdown calls destroy_node on half-built nodes too.
        self.runner: PlaybackRunner | None = None
        self.reader: BagReader | None = None
        self.read_error: str | None = None
        try:
            declare_parameters(self, PARAMETERS)
        except ValueError as exc:
            raise ParameterError(str(exc)) from None

        self.config, self.bag_path = self._read_parameters()
        self._qos_depth = int(self.get_parameter("qos_depth").value)
        if self.get_parameter("use_sim_time").value:
            self.get_logger().warning("use_sim_time is true on the player itself; it publishes /clock, set it false")

        reader = self.reader = BagReader(self.bag_path).open()
        if reader.fallback_reason:
            self.get_logger().warning(f"{self.bag_path}: {reader.fallback_reason}")
        self.topics: dict[str, TopicInfo] = reader.topics()
        selected = select_topics(sorted(self.topics), self.config)
        if not selected:
            raise ParameterError(
                f"no topic of {self.bag_path} matches include={list(self.config.include)} "
                f"exclude={list(self.config.exclude)}; bag topics: {sorted(self.topics)}"
            )
        duration_s = reader.duration_ns / 1e9
        if self.config.start_offset_s > duration_s:
            raise ParameterError(f"start_offset_s={self.config.start_offset_s} is past the bag's end ({duration_s:.3f} s)")

        self.publishers_: dict[str, Any] = {}
        self.msg_classes: dict[str, type] = {}
        self.skipped: dict[str, int] = {}
        self._raw_ok = True
        for topic in selected:
            info = self.topics[topic]
            try:
                cls = resolve_message_class(info.msgtype)
            except (ImportError, AttributeError, ValueError) as exc:
                self.get_logger().error(f"{topic}: cannot import message type {info.msgtype} ({exc}); not published")
                self.skipped[topic] = 0
                continue
            self.msg_classes[topic] = cls
            self.publishers_[topic] = self.create_publisher(cls, topic, self._qos_for(info))
        self.clock_pub = self.create_publisher(Clock, CLOCK_TOPIC, 10) if self.config.publish_clock else None
        self.played_topics = [t for t in selected if t in self.publishers_]

        self.diag_pub = None
        if self.get_parameter("publish_diagnostics").value:
            from diagnostic_msgs.msg import DiagnosticArray

            self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
            self.create_timer(1.0, self._publish_diagnostics)

        clock = f"on at {self.config.clock_rate_hz:.0f} Hz" if self.config.publish_clock else "off"
        self.get_logger().info(
            f"bag {self.bag_path}: {reader.message_count} messages, {duration_s:.3f} s, "
            f"{len(self.topics)} topics; playing {len(self.played_topics)} "
            f"(rate {self.config.rate}, loop {self.config.loop}, start offset {self.config.start_offset_s} s, "
            f"/clock {clock})"
        )

    # -- parameters ---------------------------------------------------------
    def _sample_bag(self) -> Path:
        """The embedded sample bag, generated into the data folder on first use (about a minute)."""
        from hoi_perception.bag.io import is_complete_bag
        from hoi_perception.bag.sample import default_sample_dir, ensure_sample_bag, sample_bag_matches

        where = default_sample_dir()
        if sample_bag_matches(where):
            return where
        if is_complete_bag(where) and "hoi_sample_fingerprint" not in (where / "metadata.yaml").read_text():
            # $HOI_SAMPLE_BAG names a bag of the user's: played as it is, never overwritten
            self.get_logger().info(f"bag_path:=sample: {where} is not a generated sample bag; playing it as it is")
            return where
        self.get_logger().info(f"bag_path:=sample: generating the sample bag into {where} (once; "
                               "set HOI_SAMPLE_BAG or HOI_DATA_DIR to choose the folder)")
        try:
            return ensure_sample_bag(where, progress=False)
        except OSError as exc:
            raise ParameterError(f"bag_path:=sample: cannot write the sample bag to {where}: {exc}") from None

    def _read_parameters(self) -> tuple[PlaybackConfig, Path]:
        def get(name: str) -> Any:
            try:
                return self.get_parameter(name).value
            except ParameterUninitializedException:  # string arrays declared without a default
                return None

        bag = str(get("bag_path") or "")
        if not bag:
            raise ParameterError("bag_path is required (a bag directory or .mcap file)")
        path = Path(bag).expanduser()
        if bag == SAMPLE_KEYWORD and not path.exists():
            path = self._sample_bag()
        if not path.exists():
            raise ParameterError(f"bag_path {path} does not exist")
        if path.is_dir() and not (path / "metadata.yaml").is_file() and not any(path.glob("*.mcap")):
            raise ParameterError(f"bag_path {path} is a directory without metadata.yaml or .mcap file")
        checks: list[tuple[str, bool, str]] = [
            ("rate", float(get("rate")) > 0 and float(get("rate")) < float("inf"), "must be > 0"),
            ("start_offset_s", float(get("start_offset_s")) >= 0, "must be >= 0"),
            ("clock_rate_hz", float(get("clock_rate_hz")) >= 0, "must be >= 0 (0: only before each message)"),
            ("qos_depth", int(get("qos_depth")) >= 1, "must be >= 1"),
            ("max_passes", int(get("max_passes")) >= 0, "must be >= 0"),
            ("start_delay_s", float(get("start_delay_s")) >= 0, "must be >= 0"),
            ("linger_s", float(get("linger_s")) >= 0, "must be >= 0"),
            ("wait_for_subscribers_timeout_s", float(get("wait_for_subscribers_timeout_s")) > 0, "must be > 0"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise ParameterError(f"parameter {name}={get(name)!r} {why}")
        config = PlaybackConfig(
            rate=float(get("rate")),
            loop=bool(get("loop")),
            start_offset_s=float(get("start_offset_s")),
            include=_strings(get("topics_include")),
            exclude=_strings(get("topics_exclude")),
            publish_clock=bool(get("publish_clock")),
            clock_rate_hz=float(get("clock_rate_hz")),
            latched_topics=_strings(get("latched_topics")),
            max_passes=int(get("max_passes")),
        )
        config.validate()
        return config, path

    def _qos_for(self, info: TopicInfo) -> QoSProfile:
        # Reliable publishers match both reliable and best-effort subscribers; the
        # sensor-data (best effort) profile would not reach reliable ones.
        latched = info.transient_local or any(
            fnmatch.fnmatchcase(info.name, p) for p in self.config.latched_topics
        )
        if latched:
            # Keep every latched message of the bag for late joiners (one for /tf_static).
            return QoSProfile(
                history=HistoryPolicy.KEEP_LAST,
                depth=max(1, min(info.count, 100)),
                reliability=ReliabilityPolicy.RELIABLE,
                durability=DurabilityPolicy.TRANSIENT_LOCAL,
            )
        return QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=self._qos_depth,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.VOLATILE,
        )

    # -- playback -----------------------------------------------------------
    def stop_if_shut_down(self) -> bool:
        """True (and playback told to stop) once the context is shut down: SIGINT or launch
        stopping the graph. rclpy 9 runs no Context.on_shutdown callback after a signal, so the
        loop asks before each publish instead of waiting to be told."""
        if self.context.ok():
            return False
        if self.runner is not None:
            self.runner.stop()
        return True

    def _publish(self, msg: BagMessage) -> bool:
        """False: not published because the node is stopping (the runner stops without counting it)."""
        if self.stop_if_shut_down():
            return False
        pub = self.publishers_.get(msg.topic)
        if pub is None:
            self.skipped[msg.topic] = self.skipped.get(msg.topic, 0) + 1
            return True
        try:
            if self._raw_ok:
                try:
                    pub.publish(msg.data)  # rclpy >= Jazzy publishes serialized bytes as they are
                    return True
                except TypeError:
                    self._raw_ok = False
                    self.get_logger().warning("this rclpy cannot publish serialized bytes; deserializing each message")
            pub.publish(deserialize_message(msg.data, self.msg_classes[msg.topic]))
        except Exception:
            if self.stop_if_shut_down():  # the context closed between the check and the publish
                return False
            raise
        return True

    def _publish_clock(self, t_ns: int) -> None:
        if self.clock_pub is None or self.stop_if_shut_down():
            return
        try:
            self.clock_pub.publish(_ns_to_clock(t_ns))
        except Exception:
            if self.stop_if_shut_down():
                return
            raise

    def _on_error(self, msg: BagMessage, exc: Exception) -> None:
        self.get_logger().error(f"{msg.topic}: publishing message at {msg.log_time_ns} failed: {exc}")

    def _wait_for_subscribers(self) -> None:
        timeout = float(self.get_parameter("wait_for_subscribers_timeout_s").value)
        pubs = dict(self.publishers_)
        if self.clock_pub is not None:
            pubs[CLOCK_TOPIC] = self.clock_pub
        deadline = time.monotonic() + timeout
        while rclpy.ok():
            missing = [t for t, p in pubs.items() if p.get_subscription_count() == 0]
            if not missing:
                self.get_logger().info("every topic has a subscriber; starting")
                return
            if time.monotonic() > deadline:
                self.get_logger().warning(f"no subscriber after {timeout} s on {missing}; starting anyway")
                return
            time.sleep(0.05)

    def play(self) -> PlaybackStats:
        """Blocking: play (all passes), then linger; returns the statistics."""
        if self.get_parameter("wait_for_subscribers").value:
            self._wait_for_subscribers()
        delay = float(self.get_parameter("start_delay_s").value)
        if delay > 0:
            time.sleep(delay)
        topics = self.played_topics
        reader = self.reader
        assert reader is not None
        events = schedule(lambda: reader.messages(topics=topics), reader.start_time_ns, self.config, reader.end_time_ns)
        self.runner = PlaybackRunner(events, self._publish, self._publish_clock, on_error=self._on_error)
        self.context.on_shutdown(self.runner.stop)
        t0 = time.monotonic()
        try:
            stats = self.runner.run()
        except BagError as exc:  # damage the record scanner cannot step over
            self.read_error = str(exc)
            self.get_logger().error(f"playback stopped: {exc}")
            stats = self.runner.stats
        wall = time.monotonic() - t0
        linger = float(self.get_parameter("linger_s").value)
        if linger > 0 and rclpy.ok():
            time.sleep(linger)
        self._log_summary(stats, wall)
        return stats

    def _log_summary(self, stats: PlaybackStats, wall_s: float) -> None:
        log = self.get_logger()
        log.info(
            f"done: {stats.total_messages} messages in {wall_s:.2f} s wall, {stats.passes} pass(es), "
            f"{stats.clock_ticks} /clock ticks, worst lateness {stats.max_lag_ns / 1e6:.1f} ms"
        )
        width = max((len(t) for t in self.topics), default=10)
        for topic in sorted(set(self.played_topics) | set(self.skipped)):
            n = stats.messages.get(topic, 0)
            extra = []
            if stats.errors.get(topic):
                extra.append(f"{stats.errors[topic]} failed")
            if topic in self.skipped:
                extra.append("skipped: type not importable")
            log.info(f"  {topic:<{width}} {n:>7} published  {self.topics[topic].msgtype}  {' '.join(extra)}")
        reader = self.reader
        if reader is not None and reader.problems:
            for line in reader.problems:
                log.error(f"{self.bag_path}: {line}")
            lost = f"{reader.lost_messages}{'+' if reader.lost_unknown else ''}"
            log.error(f"{self.bag_path}: skipped {reader.skipped_chunks} damaged chunk(s), {lost} messages lost")

    def damaged(self, stats: PlaybackStats) -> str:
        """Why the exit code must say the playback was incomplete ('' when it was complete)."""
        reader = self.reader
        if self.read_error:
            return self.read_error
        if reader is not None and (reader.skipped_chunks or reader.lost_unknown or
                                   any("truncated" in p or "resynced" in p for p in reader.problems)):
            return f"{reader.skipped_chunks} damaged chunk(s) skipped"
        complete = not self.config.include and not self.config.exclude and not self.config.start_offset_s
        # Topics skipped for an unimportable type were reported at start; they are not owed.
        declared = sum(self.topics[t].count for t in self.played_topics)
        played = stats.total_messages + sum(self.skipped.values()) + sum(stats.errors.values())
        passes = max(1, stats.passes)
        stopped = self.runner is not None and self.runner.stop_event.is_set()
        if complete and not stopped and played < declared * passes:
            return f"played {played} messages, the bag declares {declared} per pass"
        return ""

    def _publish_diagnostics(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        stats = self.runner.stats if self.runner else PlaybackStats()
        status = DiagnosticStatus()
        status.name = f"{self.get_name()}: playback"
        status.hardware_id = str(self.bag_path)
        errors = sum(stats.errors.values())
        status.level = DiagnosticStatus.WARN if errors or self.skipped else DiagnosticStatus.OK
        status.message = f"{stats.total_messages} published, {errors} failed, {len(self.skipped)} topics skipped"
        status.values = [
            KeyValue(key="passes", value=str(stats.passes)),
            KeyValue(key="clock_ticks", value=str(stats.clock_ticks)),
            KeyValue(key="max_lateness_ms", value=f"{stats.max_lag_ns / 1e6:.1f}"),
        ] + [KeyValue(key=f"published {t}", value=str(n)) for t, n in sorted(stats.messages.items())]
        arr = DiagnosticArray()
        arr.header.stamp = self.get_clock().now().to_msg()
        arr.status = [status]
        self.diag_pub.publish(arr)

    def destroy_node(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        try:
            if self.reader is not None:
                self.reader.close()
                self.reader = None
        except Exception:  # noqa: BLE001 - closing on the way out; nothing to do about it
            pass
        super().destroy_node()


def _strings(value: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(v for v in (value or ()) if v)


def main(args: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit code (0 ok or stopped by SIGINT, 2 bad
    parameters, 130 a stop cut short by a later SIGINT)."""
    # SIGINT (Ctrl-C, ros2 launch shutting the graph down) is a stop request: playback
    # ends, the summary is logged and the exit code is 0 (ros/stop_signal.py).
    return run_with_rclpy("bag_player", args, _play)


def _play(sigint: SigintStopsRclpy) -> int:
    node: BagPlayer | None = None
    executor: SingleThreadedExecutor | None = None
    spinner: threading.Thread | None = None
    rc = EXIT_OK
    try:
        try:
            node = BagPlayer()
        except (ParameterError, FileNotFoundError, BagError, ParameterException) as exc:
            rclpy.logging.get_logger("bag_player").error(" ".join(str(exc).split()))
            return EXIT_BAD_PARAMETERS
        # Parameter services and the diagnostics timer run beside the playback loop.
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        spinner = threading.Thread(target=_spin, args=(executor, node), daemon=True)
        spinner.start()
        stats = node.play()
        if sigint.requests:
            rclpy.logging.get_logger("bag_player").info("stopped by SIGINT before the end of the bag")
        why = node.damaged(stats)
        if why:
            rclpy.logging.get_logger("bag_player").error(f"{node.bag_path}: incomplete playback: {why}")
            rc = EXIT_DAMAGED_DATA
    except KeyboardInterrupt:
        rc = 130
    finally:
        # Stop and join the spin thread before the node goes: a thread still inside
        # rcl at interpreter exit aborts the process.
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        if spinner is not None:
            spinner.join(timeout=2.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return rc


def _spin(executor: SingleThreadedExecutor, node: BagPlayer) -> None:
    try:
        spin_until_shutdown(executor)
    except (ExternalShutdownException, KeyboardInterrupt):
        pass
    # spin ends when the context shuts down: a playback waiting for a far message stops now
    node.stop_if_shut_down()


if __name__ == "__main__":
    sys.exit(main())
