"""Track fusion node: several camera groups' tracks -> one set of global ids.

Subscribes to the groups' hoi_msgs/TrackedObject3DArray topics (``input_topics``),
collects the messages of one instant (stamps within ``match_tolerance_s``; the
groups' sets have their own reference cameras, so stamps differ by the
cameras' offsets; core: sync/frame_alignment.py), brings tracks published in
another frame into ``output_frame`` through TF at their stamp, and fuses them with
:class:`hoi_perception.sparse4d.TrackFusion` (parameters from the ``fusion``
section of ``camera_groups_path``, default the installed config/camera_groups.yaml). A frame is
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
from dataclasses import replace
from pathlib import Path
from typing import Any

from rclpy.node import Node
from visualization_msgs.msg import MarkerArray

from hoi_msgs.msg import TrackedObject3DArray
from hoi_perception.geometry.box3d import transform_box_pose
from hoi_perception.geometry.tf_buffer import TfError
from hoi_perception.ros.conversions import track_from_msg, track_to_msg
from hoi_perception.ros.diagnostics import DiagnosticsPublisher, RateMonitor
from hoi_perception.ros.markers import track_markers
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.parameters import Param, declare_parameters
from hoi_perception.ros.qos import reliable_qos
from hoi_perception.ros.tf import TfListener
from hoi_perception.ros.time import ns_from_stamp, stamp_from_ns
from hoi_perception.sparse4d import FusionParams, Track3D, TrackFusion, load_camera_groups
from hoi_perception.sync.frame_alignment import AlignedFrame, FrameAligner

LOOP_THRESHOLD_NS = 1_000_000_000

PARAMETERS = (
    Param("input_topics", ["/hoi/bev_group_0/tracks", "/hoi/bev_group_1/tracks"], "TrackedObject3DArray topics "
          "of the camera groups, one per group"),
    Param("output_topic", "/hoi/tracks_fused", "fused TrackedObject3DArray (global ids)"),
    Param("markers_topic", "/hoi/markers/tracks_fused", "MarkerArray of the fused tracks (empty: none)"),
    Param("output_frame", "world", "frame of the fused tracks; a group publishing in another frame is "
          "transformed through TF at the message's stamp"),
    Param("camera_groups_path", "", "camera groups file (fusion parameters); empty: config/camera_groups.yaml "
          "of the installed hoi_bringup, else the built-in defaults"),
    Param("match_tolerance_s", 0.03, "group messages within this of each other describe the same instant, "
          "seconds", 1e-6, 10.0),
    Param("max_wait_s", 1.0, "message time a frame waits for a silent group before it is fused without it, "
          "seconds", 0.0, 3600.0),
    Param("report_path", "", "write the summary counters as JSON here at shutdown"),
)


def camera_groups_file(explicit: str) -> Path | None:
    """The camera groups file: the parameter, else the installed hoi_bringup's config (paths.share_dir)."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ValueError(f"camera_groups_path {path} does not exist")
        return path
    from hoi_perception.paths import ResourceNotFound, share_dir

    try:
        path = share_dir("hoi_bringup") / "config" / "camera_groups.yaml"
    except ResourceNotFound:
        return None
    return path if path.is_file() else None


class TrackFusionNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("track_fusion", **kwargs)
        v = declare_parameters(self, PARAMETERS)
        self.input_topics = [str(t) for t in v["input_topics"] if str(t)]
        self.output_topic = str(v["output_topic"])
        self.markers_topic = str(v["markers_topic"])
        self.output_frame = str(v["output_frame"])
        self.report_path = str(v["report_path"])
        self.aligner = FrameAligner(self.input_topics, int(float(v["match_tolerance_s"]) * 1e9),
                                    int(float(v["max_wait_s"]) * 1e9), LOOP_THRESHOLD_NS)
        path = camera_groups_file(str(v["camera_groups_path"]))
        if path is not None:
            cfg = load_camera_groups(path)
            params: FusionParams = cfg.fusion
            self.get_logger().info(f"fusion parameters from {path}: match {params.match_distance_m} m, class must "
                                   f"match {params.class_must_match}, max age {params.max_age_s} s; groups "
                                   + ", ".join(f"{g.name}={g.cameras}" for g in cfg.groups))
        else:
            params = FusionParams()
            self.get_logger().warning("no camera groups file (camera_groups_path empty, hoi_bringup not installed); "
                                      "default fusion parameters")
        self.fusion = TrackFusion(params)
        # groups publishing in another frame (a moving platform's) are brought into output_frame at their stamp
        self.tf_listener = TfListener(self)
        self.counters = {"frames": 0, "fused_tracks": 0, "no_transform": 0}
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
        values.update(self.aligner.counters)
        values.update(self.counters)
        values.update(self.fusion.counters)
        return level, message, values

    def on_tracks(self, topic: str, msg: TrackedObject3DArray) -> None:
        reset, frames = self.aligner.add(topic, ns_from_stamp(msg.header.stamp), msg)
        if reset:
            self.get_logger().info("input time went backwards (bag loop?): fusion reset")
            self.fusion.reset()
        for f in frames:
            self._fuse(f)

    def _to_output_frame(self, t: Track3D, frame: str, stamp_ns: int) -> Track3D | None:
        if not frame or frame == self.output_frame:
            return t
        try:
            m = self.tf_listener.buffer.lookup(self.output_frame, frame, stamp_ns)
        except TfError as e:
            self.counters["no_transform"] += 1
            self.get_logger().warning(f"no transform {frame} -> {self.output_frame} at {stamp_ns}: {e}",
                                      throttle_duration_sec=2.0)
            return None
        position, yaw, velocity = transform_box_pose(m, t.position, t.yaw, t.velocity)
        return replace(t, position=position, yaw=yaw, velocity=velocity)

    def _fuse(self, f: AlignedFrame) -> None:
        group_tracks: dict[str, list[Track3D]] = {}
        scores: dict[tuple[str, int], float] = {}
        sources = set()
        for topic, msg in f.messages.items():
            sources.add(str(msg.source))
            for o in msg.objects:
                group = str(o.camera_group) or topic
                t = self._to_output_frame(track_from_msg(o, f.stamp_ns, str(msg.source)), str(msg.header.frame_id),
                                          ns_from_stamp(msg.header.stamp))
                if t is None:
                    continue
                group_tracks.setdefault(group, []).append(t)
                scores[(group, t.track_id)] = t.score
        fused = self.fusion.update(group_tracks, f.stamp_ns)
        out = TrackedObject3DArray()
        out.header.stamp = stamp_from_ns(f.stamp_ns)
        out.header.frame_id = self.output_frame
        out.source = ",".join(sorted(s for s in sources if s))
        for ft in fused:
            best = max(ft.members, key=lambda m: scores.get(m, 0.0))
            out.objects.append(track_to_msg(ft.track, ",".join(ft.groups), local_track_id=best[1]))
            self.global_ids.add(int(ft.track.track_id))
        self.pub.publish(out)
        if self.pub_markers is not None:
            self.pub_markers.publish(track_markers([ft.track for ft in fused], out.header.frame_id, f.stamp_ns,
                                                   "tracks_fused"))
        self.counters["frames"] += 1
        self.counters["fused_tracks"] += len(fused)
        self.rate.tick()

    def close(self) -> None:
        pass

    def report_dict(self) -> dict[str, Any]:
        return {**self.aligner.counters, **self.counters, "global_ids": len(self.global_ids), **self.fusion.counters}

    def report(self) -> str:
        c = self.report_dict()
        return (f"track_fusion summary: {c['frames']} fused frames from {c['messages']} group messages "
                f"({c['incomplete_frames']} without every group, {c['late_messages']} late), "
                f"{c['fused_tracks']} fused tracks, {c['global_ids']} global ids; "
                f"hand-overs {c['handovers']}, merges {c['merges']}, new global ids {c['new_global']}; "
                f"resets {c['resets']}, {c['no_transform']} tracks without a transform")


def main(argv: list[str] | None = None) -> int:
    return run_node(TrackFusionNode, "track_fusion", lambda n: n.report(), argv,
                    json_report=TrackFusionNode.report_dict)


if __name__ == "__main__":
    sys.exit(main())
