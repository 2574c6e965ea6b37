"""Track fusion node: several camera groups' tracks -> one set of global ids.

Subscribes to the groups' hoi_msgs/TrackedObject3DArray topics (``input_topics``),
collects the messages of one instant (stamps within ``match_tolerance_s``; the
groups' sets have their own reference cameras, so stamps differ by the
cameras' offsets), and fuses them with
:class:`hoi_perception.sparse4d.TrackFusion` (parameters from the ``fusion``
section of ``camera_groups_path``, default hoi_bringup's installed config/camera_groups.yaml). A frame is
fused when every group has either sent its message for it or moved past it
(sent a newer one: it dropped that frame), or when the newest message is
``max_wait_s`` ahead of it in message time (a silent group).

Publishes ``output_topic`` (default ``/hoi/tracks_fused``): ``track_id`` is the
global id, ``local_track_id`` the id of the best-scored member in its group,
``camera_group`` the comma-joined groups that see the object, ``source`` the
inputs' sources (a stand-in stays labelled); and markers on ``markers_topic``.
A stamp going back by more than a second (bag loop) resets the fusion.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rclpy.node import Node
from visualization_msgs.msg import MarkerArray

from hoi_msgs.msg import TrackedObject3DArray
from hoi_perception import paths
from hoi_perception.ros.conversions import track_from_msg, track_to_msg
from hoi_perception.ros.diagnostics import DiagnosticsPublisher, RateMonitor
from hoi_perception.ros.markers import track_markers
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.qos import reliable_qos
from hoi_perception.ros.time import ns_from_stamp, stamp_from_ns
from hoi_perception.sparse4d import FusionParams, Track3D, TrackFusion, load_camera_groups

CAMERA_GROUPS_FILE = "camera_groups.yaml"  # in hoi_bringup's installed config/
LOOP_THRESHOLD_NS = 1_000_000_000


def _default_camera_groups() -> Path:
    """hoi_bringup's installed config/camera_groups.yaml (where it would be when hoi_bringup is not installed)."""
    try:
        return paths.share_dir("hoi_bringup") / "config" / CAMERA_GROUPS_FILE
    except paths.ResourceNotFound:
        return Path("<hoi_bringup not installed>") / "config" / CAMERA_GROUPS_FILE


@dataclass
class _Frame:
    stamp_ns: int
    msgs: dict[str, TrackedObject3DArray] = field(default_factory=dict)


class TrackFusionNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("track_fusion", **kwargs)
        dp = self.declare_parameter
        self.input_topics = [str(t) for t in dp("input_topics", ["/hoi/bev_group_0/tracks",
                                                                  "/hoi/bev_group_1/tracks"]).value if str(t)]
        self.output_topic = str(dp("output_topic", "/hoi/tracks_fused").value)
        self.markers_topic = str(dp("markers_topic", "/hoi/markers/tracks_fused").value)
        groups_path = str(dp("camera_groups_path", "").value)
        self.tolerance_ns = int(float(dp("match_tolerance_s", 0.03).value) * 1e9)
        self.max_wait_ns = int(float(dp("max_wait_s", 1.0).value) * 1e9)
        if len(self.input_topics) < 1 or len(set(self.input_topics)) != len(self.input_topics):
            raise ValueError(f"input_topics must name distinct topics, got {self.input_topics}")
        if self.tolerance_ns <= 0 or self.max_wait_ns < 0:
            raise ValueError("match_tolerance_s must be > 0 and max_wait_s >= 0")
        path = Path(groups_path).expanduser() if groups_path else _default_camera_groups()
        if path.is_file():
            cfg = load_camera_groups(path)
            params: FusionParams = cfg.fusion
            self.get_logger().info(f"fusion parameters from {path}: match {params.match_distance_m} m, class must "
                                   f"match {params.class_must_match}, max age {params.max_age_s} s; groups "
                                   + ", ".join(f"{g.name}={g.cameras}" for g in cfg.groups))
        elif groups_path:
            raise ValueError(f"camera_groups_path {path} does not exist")
        else:
            params = FusionParams()
            self.get_logger().warning(f"{path} not found; default fusion parameters")
        self.fusion = TrackFusion(params)
        self.pending: list[_Frame] = []
        self.newest_ns: int | None = None
        self.latest_by_topic: dict[str, int] = {}
        self.last_fused_ns: int | None = None
        self.counters = {"messages": 0, "frames": 0, "incomplete_frames": 0, "late_messages": 0, "resets": 0,
                         "fused_tracks": 0}
        self.global_ids: set[int] = set()
        self.rate = RateMonitor()
        self.pub = self.create_publisher(TrackedObject3DArray, self.output_topic, reliable_qos(10))
        self.pub_markers = self.create_publisher(MarkerArray, self.markers_topic, reliable_qos(10)) \
            if self.markers_topic else None
        for topic in self.input_topics:
            self.create_subscription(TrackedObject3DArray, topic, lambda m, t=topic: self.on_tracks(t, m),
                                     reliable_qos(50))
        self.diagnostics = DiagnosticsPublisher(self)
        self.diagnostics.add("fusion", self._status)
        self.get_logger().info(f"fusing {', '.join(self.input_topics)} -> {self.output_topic}")

    def _status(self) -> tuple[bytes, str, dict[str, object]]:
        level, message, values = self.rate.status()
        values.update(self.counters)
        values.update(self.fusion.counters)
        return level, message, values

    def on_tracks(self, topic: str, msg: TrackedObject3DArray) -> None:
        self.counters["messages"] += 1
        stamp = ns_from_stamp(msg.header.stamp)
        if self.newest_ns is not None and stamp < self.newest_ns - LOOP_THRESHOLD_NS:
            self.get_logger().info("input time went backwards (bag loop?): fusion reset")
            self.fusion.reset()
            self.pending.clear()
            self.newest_ns = None
            self.last_fused_ns = None
            self.latest_by_topic.clear()
            self.counters["resets"] += 1
        if self.last_fused_ns is not None and stamp <= self.last_fused_ns - self.tolerance_ns:
            self.counters["late_messages"] += 1  # its frame was fused without it already
            return
        self.newest_ns = stamp if self.newest_ns is None else max(self.newest_ns, stamp)
        self.latest_by_topic[topic] = max(stamp, self.latest_by_topic.get(topic, stamp))
        frame = next((f for f in self.pending if abs(f.stamp_ns - stamp) <= self.tolerance_ns
                      and topic not in f.msgs), None)
        if frame is None:
            frame = _Frame(stamp)
            self.pending.append(frame)
            self.pending.sort(key=lambda f: f.stamp_ns)
        frame.msgs[topic] = msg
        self._flush()

    def _flush(self) -> None:
        while self.pending:
            f = self.pending[0]
            complete = len(f.msgs) == len(self.input_topics)
            passed = all(t in f.msgs or self.latest_by_topic.get(t, f.stamp_ns) > f.stamp_ns + self.tolerance_ns
                         for t in self.input_topics)
            expired = self.newest_ns is not None and self.newest_ns - f.stamp_ns > self.max_wait_ns
            if not (complete or passed or expired):
                return
            self.pending.pop(0)
            if not complete:
                self.counters["incomplete_frames"] += 1
            self._fuse(f)

    def _fuse(self, f: _Frame) -> None:
        group_tracks: dict[str, list[Track3D]] = {}
        scores: dict[tuple[str, int], float] = {}
        sources = set()
        for topic, msg in f.msgs.items():
            sources.add(str(msg.source))
            for o in msg.objects:
                group = str(o.camera_group) or topic
                t = track_from_msg(o, f.stamp_ns, str(msg.source))
                group_tracks.setdefault(group, []).append(t)
                scores[(group, t.track_id)] = t.score
        fused = self.fusion.update(group_tracks, f.stamp_ns)
        out = TrackedObject3DArray()
        out.header.stamp = stamp_from_ns(f.stamp_ns)
        out.header.frame_id = next(iter(f.msgs.values())).header.frame_id or "world"
        out.source = ",".join(sorted(s for s in sources if s))
        for ft in fused:
            best = max(ft.members, key=lambda m: scores.get(m, 0.0))
            out.objects.append(track_to_msg(ft.track, ",".join(ft.groups), local_track_id=best[1]))
            self.global_ids.add(int(ft.track.track_id))
        self.pub.publish(out)
        if self.pub_markers is not None:
            self.pub_markers.publish(track_markers([ft.track for ft in fused], out.header.frame_id, f.stamp_ns,
                                                   "tracks_fused"))
        self.last_fused_ns = f.stamp_ns
        self.counters["frames"] += 1
        self.counters["fused_tracks"] += len(fused)
        self.rate.tick()

    def close(self) -> None:
        pass

    def report(self) -> str:
        c, fc = self.counters, self.fusion.counters
        return (f"track_fusion summary: {c['frames']} fused frames from {c['messages']} group messages "
                f"({c['incomplete_frames']} without every group, {c['late_messages']} late), "
                f"{c['fused_tracks']} fused tracks, {len(self.global_ids)} global ids; "
                f"hand-overs {fc['handovers']}, merges {fc['merges']}, new global ids {fc['new_global']}; "
                f"resets {c['resets']}")


def main(argv: list[str] | None = None) -> int:
    return run_node(TrackFusionNode, "track_fusion", lambda n: n.report(), argv)


if __name__ == "__main__":
    sys.exit(main())
