"""Record demonstrations as episodes: one crash-safe MCAP bag folder per episode.

Thin shell over :class:`hoi_perception.bag.episodes.EpisodeRecorder` (state
machine, limits, metadata and manifest live there; docs/episodes.md). Topics
matching ``topics`` are subscribed as raw CDR all the time (so latched and
camera_info messages are cached for the next episode's calibration snapshot)
and written only while an episode is open.

Services (hoi_msgs): ``~/start`` (StartEpisode: operator, task label, robot,
notes), ``~/stop`` (StopEpisode: success flag, notes), ``~/discard``
(DiscardEpisode: the open episode, or a kept one by id). Optional triggers: a
std_msgs/Bool teleop button (``button_topic``; ``button_mode`` toggle: each
press starts/stops, hold: pressed records) and grasp events
(``grasp_trigger``: hoi_msgs/GraspEventArray on ``grasp_topic``, START starts,
the END releasing the last grasp stops ``stop_delay_s`` later).

Publishes ``~/status`` (hoi_msgs/EpisodeStatus, ``status_period_s`` and on
every change, transient local so a UI joining late gets the state) and
/diagnostics. Storage limits (``max_episode_bytes``,
``max_episode_duration_s``, ``min_free_bytes``; 0 = off) stop an episode with
one WARN line naming the limit.

Exit codes: 0, 2 start-up error (one line).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool

from hoi_msgs.msg import EpisodeStatus, GraspEvent, GraspEventArray
from hoi_msgs.srv import DiscardEpisode, StartEpisode, StopEpisode
from hoi_perception import paths
from hoi_perception.bag.episodes import (
    DEFAULT_SNAPSHOT_TOPICS,
    EpisodeError,
    EpisodeInfo,
    EpisodeLimits,
    EpisodeRecorder,
    EpisodeResult,
    State,
    WriterOptions,
)
from hoi_perception.ros.diagnostics import ERROR, OK, WARN, DiagnosticsPublisher
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.parameters import Param, declare_parameters
from hoi_perception.ros.pattern_subscriber import PatternSubscriber, check_patterns
from hoi_perception.ros.time import steady_timer

NAME = "episode_recorder"

PARAMETERS = (
    Param("output_dir", "", "folder of the episode folders (empty: <venv>/share/hoi_perception/episodes)"),
    Param("topics", ["/hoi/*", "/tf", "/tf_static"], "topic names or fnmatch patterns to record (not empty)"),
    Param("snapshot_topics", list(DEFAULT_SNAPSHOT_TOPICS),
          "topics whose last message(s) are re-written at each episode start (calibration); latched topics too"),
    Param("robot", "", "robot name written into each episode (a start request may override it)"),
    Param("default_operator", "", "operator when a start request or trigger names none"),
    Param("default_task", "", "task label when a start request or trigger names none"),
    Param("compress", True, "zstd chunks"),
    Param("chunk_bytes", 1 << 20, "chunk size limit, bytes", 1024, 1 << 30),
    Param("chunk_interval_s", 1.0, "chunk age limit, seconds (what a crash can lose)", 0.01, 60.0),
    Param("fsync", True, "fsync after every chunk (off only for throw-away recordings)"),
    Param("qos_depth", 10, "keep-last depth of the subscriptions (latched topics keep 100)", 1, 1000),
    Param("discovery_period_s", 0.5, "how often new topics are looked for, seconds", 0.05, 60.0),
    Param("max_episode_bytes", 0, "stop an episode at this size, bytes (0: no limit)", 0, 1 << 50),
    Param("max_episode_duration_s", 0.0, "stop an episode after this long, seconds (0: no limit)", 0.0, 86400.0),
    Param("min_free_bytes", 1 << 30, "refuse to start / stop an episode below this free disk, bytes (0: off)",
          0, 1 << 50),
    Param("status_period_s", 1.0, "~/status and /diagnostics period, seconds", 0.05, 60.0),
    Param("button_topic", "", "std_msgs/Bool teleop button topic (empty: none)"),
    Param("button_mode", "toggle", "toggle: each press starts/stops; hold: records while pressed",
          choices=("toggle", "hold")),
    Param("grasp_trigger", False, "start on grasp START, stop stop_delay_s after the last grasp END"),
    Param("grasp_topic", "/hoi/grasp_events", "hoi_msgs/GraspEventArray topic of the grasp trigger"),
    Param("stop_delay_s", 2.0, "delay of the grasp-END stop, seconds (a re-grasp cancels it)", 0.0, 600.0),
)


class EpisodeRecorderNode(Node):
    def __init__(self) -> None:
        super().__init__(NAME)
        v = declare_parameters(self, PARAMETERS)
        out = str(v["output_dir"])
        self.patterns = check_patterns(v["topics"])
        snapshot = list(v["snapshot_topics"])
        self.qos_depth = int(v["qos_depth"])
        period = float(v["discovery_period_s"])
        interval = float(v["chunk_interval_s"])
        self.button_topic = str(v["button_topic"])
        self.button_mode = str(v["button_mode"])
        self.grasp_trigger = bool(v["grasp_trigger"])
        grasp_topic = str(v["grasp_topic"])
        if snapshot:
            check_patterns(snapshot, "'snapshot_topics'")
        root = Path(out).expanduser() if out else paths.writable_dir("episodes")
        if root.exists() and not root.is_dir():
            raise ValueError(f"output_dir {root} exists and is not a folder")
        self.core = EpisodeRecorder(
            root, robot=str(v["robot"]), default_operator=str(v["default_operator"]),
            default_task=str(v["default_task"]),
            limits=EpisodeLimits(int(v["max_episode_bytes"]), float(v["max_episode_duration_s"]),
                                 int(v["min_free_bytes"])),
            writer_options=WriterOptions("zstd" if v["compress"] else "", int(v["chunk_bytes"]), interval,
                                         bool(v["fsync"])),
            snapshot_topics=snapshot, stop_delay_s=float(v["stop_delay_s"]))
        self.topics = PatternSubscriber(
            self, self.patterns, self.qos_depth,
            add_topic=lambda topic, type_name, latched: self.core.add_topic(topic, type_name, latched=latched),
            on_message=lambda topic, data: self.core.on_message(topic, self.get_clock().now().nanoseconds, data,
                                                                time.monotonic()),
            on_lost=lambda _topic, n: self.core.note_transport_lost(n))
        self.rejected_requests = 0
        self.status_pub = self.create_publisher(
            EpisodeStatus, "~/status",
            QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.create_service(StartEpisode, "~/start", self.on_start)
        self.create_service(StopEpisode, "~/stop", self.on_stop)
        self.create_service(DiscardEpisode, "~/discard", self.on_discard)
        if self.button_topic:
            self.create_subscription(Bool, self.button_topic, self.on_button, 10)
        if self.grasp_trigger:
            self.create_subscription(GraspEventArray, grasp_topic, self.on_grasp_events, 50)
        # steady clock: discovery, duration limits and status run on wall time, also under use_sim_time
        steady_timer(self, period, self.discover)
        steady_timer(self, min(0.25, interval / 4), self.tick)
        steady_timer(self, float(v["status_period_s"]), self.publish_status)
        self.diagnostics = DiagnosticsPublisher(self)
        self.diagnostics.add("episodes", self.diagnostic_status)
        self.discover()
        self.publish_status()
        triggers = [t for t in (f"button {self.button_topic} ({self.button_mode})" if self.button_topic else "",
                                f"grasp events {grasp_topic}" if self.grasp_trigger else "") if t]
        self.get_logger().info(f"episodes of {self.patterns} into {self.core.root}; services ~/start ~/stop "
                               f"~/discard; triggers: {', '.join(triggers) or 'services only'}")

    # -- topics ------------------------------------------------------------------

    def discover(self) -> None:
        self.topics.discover()

    # -- commands ----------------------------------------------------------------

    def _start(self, info: EpisodeInfo, why: str) -> str:
        ep = self.core.start(info, self.get_clock().now().nanoseconds, time.monotonic())
        self.get_logger().info(f"episode {ep.episode_id} started ({why}; operator '{ep.info.operator}', task "
                               f"'{ep.info.task_label}', robot '{ep.info.robot}', calibration "
                               f"{ep.calibration_topics or 'none'}) in {ep.path}")
        self.publish_status()
        return ep.episode_id

    def _stopped(self, episode_id: str, reason: str, success: bool | None, path: Path) -> None:
        m = self.core.last.manifest if self.core.last else {}
        bag = m.get("bag", {})
        text = (f"episode {episode_id} stopped: {reason}; success {success}, {m.get('duration_s', 0):.1f} s, "
                f"{bag.get('message_count', 0)} messages, {bag.get('size_bytes', 0)} bytes, "
                f"{m.get('dropped', 0)} dropped, in {path}")
        if self.core.state == State.ERROR:
            self.get_logger().error(text)
        elif reason in ("operator", "button", "grasp end"):
            self.get_logger().info(text)
        else:
            self.get_logger().warning(text)
        self.publish_status()

    def on_start(self, req: StartEpisode.Request, res: StartEpisode.Response) -> StartEpisode.Response:
        try:
            res.episode_id = self._start(EpisodeInfo(req.operator_name, req.task_label, req.robot, req.notes),
                                         "service")
            res.path = str(self.core.episode.path) if self.core.episode else ""
            res.success, res.message = True, "recording"
        except EpisodeError as exc:
            self.rejected_requests += 1
            res.success, res.message = False, str(exc)
            self.get_logger().warning(f"start refused: {exc}")
        return res

    def on_stop(self, req: StopEpisode.Request, res: StopEpisode.Response) -> StopEpisode.Response:
        try:
            r = self.core.stop(time.monotonic(), success=bool(req.episode_success), notes=req.notes)
            res.success, res.message, res.episode_id, res.path = True, r.reason, r.episode_id, str(r.path)
            self._stopped(r.episode_id, r.reason, r.success, r.path)
        except EpisodeError as exc:
            self.rejected_requests += 1
            res.success, res.message = False, str(exc)
            self.get_logger().warning(f"stop refused: {exc}")
        return res

    def on_discard(self, req: DiscardEpisode.Request, res: DiscardEpisode.Response) -> DiscardEpisode.Response:
        try:
            res.episode_id = self.core.discard(time.monotonic(), req.episode_id)
            res.success, res.message = True, "deleted"
            self.get_logger().info(f"episode {res.episode_id} discarded (folder deleted)")
            self.publish_status()
        except (EpisodeError, OSError) as exc:
            self.rejected_requests += 1
            res.success, res.message = False, str(exc)
            self.get_logger().warning(f"discard refused: {exc}")
        return res

    def on_button(self, msg: Bool) -> None:
        try:
            r = self.core.on_button(bool(msg.data), self.button_mode, self.get_clock().now().nanoseconds,
                                    time.monotonic())
        except EpisodeError as exc:
            self.rejected_requests += 1
            self.get_logger().warning(f"button: {exc}", throttle_duration_sec=2.0)
            return
        if isinstance(r, EpisodeResult):
            self._stopped(r.episode_id, r.reason, r.success, r.path)
        elif r is not None:
            self.get_logger().info(f"episode {r.episode_id} started (button; operator '{r.info.operator}', "
                                   f"task '{r.info.task_label}') in {r.path}")
            self.publish_status()

    def on_grasp_events(self, msg: GraspEventArray) -> None:
        for ev in msg.events:
            key = (int(ev.human_track_id), int(ev.object_track_id), int(ev.hand))
            try:
                did = self.core.on_grasp_event(ev.event == GraspEvent.START, key,
                                               self.get_clock().now().nanoseconds, time.monotonic())
            except EpisodeError as exc:
                self.rejected_requests += 1
                self.get_logger().warning(f"grasp START: {exc}", throttle_duration_sec=5.0)
                continue
            if did == "started":
                ep = self.core.episode
                self.get_logger().info(f"episode {ep.episode_id if ep else '?'} started (grasp START of "
                                       f"'{ev.object_name}')")
            if did:
                self.publish_status()

    # -- periodic ----------------------------------------------------------------

    def tick(self) -> None:
        r = self.core.tick(time.monotonic())
        if r is not None:
            self._stopped(r.episode_id, r.reason, r.success, r.path)

    def publish_status(self) -> None:
        s = self.core.status(time.monotonic())
        msg = EpisodeStatus(state=int(s.state), episode_id=s.episode_id, path=s.path, operator_name=s.operator,
                            task_label=s.task_label, duration_s=float(s.duration_s), size_bytes=int(s.size_bytes),
                            messages=int(s.messages), dropped=int(s.dropped), episodes_recorded=s.episodes_recorded,
                            free_bytes=int(s.free_bytes), last_stop_reason=s.last_stop_reason)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.status_pub.publish(msg)

    def diagnostic_status(self) -> tuple[bytes, str, dict[str, object]]:
        s = self.core.status(time.monotonic())
        values: dict[str, object] = {"state": s.state.name, "episode_id": s.episode_id, "duration_s": s.duration_s,
                                     "size_bytes": s.size_bytes, "messages": s.messages, "dropped": s.dropped,
                                     "episodes_recorded": s.episodes_recorded, "free_bytes": s.free_bytes,
                                     "topics": len(self.topics.received), "skipped_topics": len(self.topics.skipped),
                                     "rejected_requests": self.rejected_requests,
                                     "last_stop_reason": s.last_stop_reason}
        if s.state == State.ERROR:
            return ERROR, f"last episode stopped by {self.core.last_error}", values
        lim = self.core.limits.min_free_bytes
        if lim and s.free_bytes and s.free_bytes < 2 * lim:
            return WARN, f"disk nearly full: {s.free_bytes} bytes free", values
        if self.topics.skipped:
            return WARN, f"{len(self.topics.skipped)} topics cannot be recorded", values
        return OK, s.state.name.lower(), values

    def close(self) -> None:
        r = self.core.close(time.monotonic())
        if r is not None:
            self._stopped(r.episode_id, r.reason, r.success, r.path)

    def summary(self) -> str:
        c = self.core
        return (f"{NAME}: {c.episodes_recorded} episodes kept, {c.episodes_discarded} discarded, in {c.root}"
                + (f"; last stop: {c.last_stop_reason}" if c.last_stop_reason else ""))


def main(argv: list[str] | None = None) -> int:
    return run_node(EpisodeRecorderNode, NAME, report=lambda n: n.summary(), argv=argv)


if __name__ == "__main__":
    sys.exit(main())
