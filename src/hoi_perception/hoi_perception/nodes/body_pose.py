"""Body pose node: 3D people from one camera (ZED RGB-D by default).

Subscribes to the camera's image, depth (optional) and camera_info through
the approximate-time synchronizer, runs the configured estimator
(BlazePose GHUM on the CPU by default, or BodyPose3DNet on the engine layer),
tracks people across frames and publishes

* ``~/humans`` -> hoi_msgs/HumanPose3DArray (joints in the camera optical
  frame, stamped with the image stamp), remapped to /hoi/humans by launch;
* ``~/markers`` visualization_msgs/MarkerArray skeletons;
* ``~/annotated`` sensor_msgs/Image with skeletons drawn (when enabled);
* TF ``human_<id>`` (pelvis, REP 103 body axes) and ``human_<id>_left_hand``
  / ``_right_hand`` under the camera's optical frame;
* /diagnostics: input rate, processing latency, bad-input and drop counters.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from hoi_msgs.msg import Detection2DArray, HumanPose3DArray, TrackedObject3DArray
from hoi_perception.bodypose.boxes import ExternalBoxSource, ProjectedTrackBoxSource, Track3D
from hoi_perception.bodypose.types import PersonBox
from hoi_perception.geometry.rotations import invert_transform, quat_to_yaw
from hoi_perception.imaging.encodings import ImageConversionError, numpy_to_image
from hoi_perception.imaging.rgbd import CameraIngest, RgbdIngest
from hoi_perception.render.skeleton import draw_banner, draw_pose
from hoi_perception.ros.conversions import human_pose_msg
from hoi_perception.ros.diagnostics import DiagnosticsPublisher, RateMonitor
from hoi_perception.ros.markers import skeleton_markers
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.qos import TF_STATIC_LISTENER_QOS, reliable_qos, sensor_data_qos
from hoi_perception.ros.synchronizer import SyncConfig, TopicSynchronizer
from hoi_perception.ros.tf import StaticTransforms, TransformBroadcaster, transform_stamped
from hoi_perception.ros.time import ns_from_stamp
from hoi_perception.skeleton.bodypose34 import SKELETON_NAME
from hoi_perception.skeleton.frames import hand_frames, root_frame
from hoi_perception.sync.approximate import SyncedSet

BACKENDS = ("blazepose", "bodypose3dnet")


def make_estimator(node: Node) -> tuple[Any, Any]:
    """The estimator the parameters ask for, and its box source (None: the
    backend's own). Imports stay lazy (litert, onnxruntime)."""
    backend = node.get_parameter("backend").value
    box_source_name = str(node.get_parameter("box_source").value)
    box_source = None
    if box_source_name not in ("", "default"):
        from hoi_perception.bodypose import box_sources

        box_source = box_sources.make_box_source(box_source_name)
    use_depth = bool(node.get_parameter("use_depth").value)
    if backend == "blazepose":
        from hoi_perception.bodypose import BlazePoseEstimator

        model_dir = str(node.get_parameter("blazepose_model_dir").value) or None
        return BlazePoseEstimator(model_dir=model_dir, max_people=int(node.get_parameter("max_people").value),
                                  box_source=box_source, use_depth=use_depth), box_source
    from hoi_perception.bodypose import BodyPose3DNetEstimator
    from hoi_perception.engine import create_engine, load_contract

    model_path = str(node.get_parameter("model_path").value)
    if not model_path or not Path(model_path).is_file():
        raise ValueError(f"backend bodypose3dnet needs 'model_path' to name an ONNX model or engine, got {model_path!r}"
                         " (engines/README.md says where to get it)")
    engine = create_engine(model_path, load_contract("bodypose3dnet"), backend=str(node.get_parameter("engine").value))
    node.get_logger().info(f"BodyPose3DNet engine: {engine.backend_name}")
    return BodyPose3DNetEstimator(engine, box_source=box_source, use_depth=use_depth,
                                  lift=str(node.get_parameter("bodypose3dnet_lift").value)), box_source


class BodyPoseNode(Node):
    def __init__(self) -> None:
        super().__init__("body_pose")
        p = self.declare_parameter
        p("backend", "blazepose")
        p("model_path", "")
        p("engine", "auto")
        p("bodypose3dnet_lift", "pose25d")  # "pose25d" (DeepStream's lift) or "network" (pose3d output, unverified)
        p("blazepose_model_dir", "")
        p("box_source", "default")
        p("image_topic", "/zed/zed_node/left/image_rect_color")
        p("depth_topic", "/zed/zed_node/depth/depth_registered")
        p("camera_info_topic", "/zed/zed_node/left/camera_info")
        p("use_depth", True)
        p("max_people", 4)
        p("min_score", 0.3)
        p("min_joint_confidence", 0.3)
        p("max_rate_hz", 0.0)
        p("publish_tf", True)
        p("publish_annotated", True)
        p("tracker_max_age_s", 1.0)
        p("tracks_topic", "/hoi/tracks")  # box_source projected_tracks: Sparse4D tracks in world_frame
        p("world_frame", "world")
        p("detections_topic", "/detections")  # box_source external: hoi_msgs/Detection2DArray
        p("box_match_tolerance_s", 0.05)  # external boxes / tracks are used only this close to the image stamp
        backend = self.get_parameter("backend").value
        if backend not in BACKENDS:
            raise ValueError(f"parameter 'backend' must be one of {BACKENDS}, got {backend!r}")
        self.min_score = float(self.get_parameter("min_score").value)
        self.min_conf = float(self.get_parameter("min_joint_confidence").value)
        rate = float(self.get_parameter("max_rate_hz").value)
        if rate < 0 or not 0 <= self.min_score <= 1:
            raise ValueError("max_rate_hz must be >= 0 and min_score in [0, 1]")
        self.min_period_ns = int(1e9 / rate) if rate > 0 else 0
        self.estimator, self.box_source = make_estimator(self)
        self.box_tolerance_ns = int(float(self.get_parameter("box_match_tolerance_s").value) * 1e9)
        self.box_inputs_missing = 0
        self._box_msgs: deque[Any] = deque(maxlen=30)
        self.static_tf = StaticTransforms()
        if isinstance(self.box_source, ProjectedTrackBoxSource):
            self.create_subscription(TrackedObject3DArray, str(self.get_parameter("tracks_topic").value),
                                     lambda m: self._box_msgs.append(m), reliable_qos(10))
            self.create_subscription(TFMessage, "/tf_static", self.on_tf_static, TF_STATIC_LISTENER_QOS)
        elif isinstance(self.box_source, ExternalBoxSource):
            self.create_subscription(Detection2DArray, str(self.get_parameter("detections_topic").value),
                                     lambda m: self._box_msgs.append(m), reliable_qos(10))
        from hoi_perception.bodypose import HumanTracker

        self.tracker = HumanTracker(max_age_ns=int(float(self.get_parameter("tracker_max_age_s").value) * 1e9))
        self.use_depth = bool(self.get_parameter("use_depth").value) and bool(self.get_parameter("depth_topic").value)
        self.rgbd = RgbdIngest(compute_xyz=False)
        self.mono = CameraIngest()
        topics = [(Image, self.get_parameter("image_topic").value)]
        if self.use_depth:
            topics.append((Image, self.get_parameter("depth_topic").value))
        sync_cfg = SyncConfig.declare(self, "sync")
        self.sync = TopicSynchronizer(self, topics, self.on_set, sync_cfg)
        # Intrinsics are static: keep the latest CameraInfo rather than making it
        # a synchronized stream, where one lost info sample would cost a frame.
        self.camera_info: CameraInfo | None = None
        info_topic = str(self.get_parameter("camera_info_topic").value)
        info_qos = reliable_qos(1) if sync_cfg.qos_reliability == "reliable" else sensor_data_qos(1)
        self.create_subscription(CameraInfo, info_topic, self.on_camera_info, info_qos)
        self.missing_info = 0
        self._waiting_for_info: deque[SyncedSet] = deque(maxlen=10)
        topics.append((CameraInfo, info_topic))
        out_qos = reliable_qos(10)
        self.pub = self.create_publisher(HumanPose3DArray, "~/humans", out_qos)
        self.pub_markers = self.create_publisher(MarkerArray, "~/markers", out_qos)
        self.publish_annotated = bool(self.get_parameter("publish_annotated").value)
        self.pub_img = self.create_publisher(Image, "~/annotated", out_qos) if self.publish_annotated else None
        self.tf = TransformBroadcaster(self) if self.get_parameter("publish_tf").value else None
        self.input_monitor = RateMonitor()
        self.output_monitor = RateMonitor()
        self.bad_input = 0
        self.skipped_rate = 0
        self.frames = 0
        self.people = 0
        self.track_ids: set[int] = set()
        self.depth_frames = 0
        self.latency_ms: list[float] = []
        self.last_processed_ns = 0
        self.source = getattr(self.estimator, "backend_name", backend)
        self.diag = DiagnosticsPublisher(self)
        self.diag.add("input", self.input_monitor.status)
        self.diag.add("pose", self.output_monitor.status)
        self.diag.add("synchronizer", self.sync_status)
        prefix = "STAND-IN " if str(self.source).startswith("stand-in:") else ""
        self.get_logger().info(f"{prefix}body pose backend {self.source}; inputs: {', '.join(t for _, t in topics)}")

    def sync_status(self) -> tuple[bytes, str, dict[str, object]]:
        from hoi_perception.ros.diagnostics import OK, WARN

        st = self.sync.stats()
        values = {"sets": st.emitted_sets, "dropped": st.dropped_total(), "bad_input": self.bad_input,
                  "missing_camera_info": self.missing_info, "frames_without_box_input": self.box_inputs_missing,
                  "skipped_rate_limit": self.skipped_rate}
        return (WARN if self.bad_input else OK), f"{st.emitted_sets} sets", values

    def on_camera_info(self, msg: CameraInfo) -> None:
        first = self.camera_info is None
        self.camera_info = msg
        if first and self._waiting_for_info:
            # frames that came before the first CameraInfo (discovery order) are processed now
            held, self._waiting_for_info = list(self._waiting_for_info), deque(maxlen=self._waiting_for_info.maxlen)
            for s in held:
                self.on_set(s)

    def on_tf_static(self, msg: TFMessage) -> None:
        for t in msg.transforms:
            try:
                self.static_tf.add(t)
            except ValueError as e:
                self.bad_input += 1
                self.get_logger().warning(f"/tf_static: {e}")

    def feed_box_source(self, stamp_ns: int, camera_frame: str) -> None:
        """Hand the external detections / projected tracks nearest the image
        stamp to the box source (none within tolerance: no boxes, counted)."""
        best = min(self._box_msgs, key=lambda m: abs(ns_from_stamp(m.header.stamp) - stamp_ns), default=None)
        if best is None or abs(ns_from_stamp(best.header.stamp) - stamp_ns) > self.box_tolerance_ns:
            self.box_inputs_missing += 1
            best = None
        if isinstance(self.box_source, ExternalBoxSource):
            dets = [] if best is None else [
                PersonBox(d.box.x_min, d.box.y_min, d.box.x_max, d.box.y_max, float(d.score),
                          track_id=int(d.track_id) or None) for d in best.detections]
            self.box_source.set_detections(dets)
            return
        world_from_cam = self.static_tf.lookup(str(self.get_parameter("world_frame").value), camera_frame)
        if world_from_cam is None:
            self.box_inputs_missing += 1
            self.box_source.set_tracks([], np.eye(4))
            return
        tracks = [] if best is None else [
            Track3D(track_id=int(o.track_id), x=o.pose.position.x, y=o.pose.position.y, z=o.pose.position.z,
                    w=o.size.x, l=o.size.y, h=o.size.z, class_name=o.class_label, score=float(o.score),
                    yaw=float(quat_to_yaw([o.pose.orientation.x, o.pose.orientation.y, o.pose.orientation.z,
                                           o.pose.orientation.w])))
            for o in best.objects]
        self.box_source.set_tracks(tracks, invert_transform(world_from_cam))

    def on_set(self, s: SyncedSet) -> None:
        self.input_monitor.tick()
        if self.camera_info is None:
            if len(self._waiting_for_info) == self._waiting_for_info.maxlen:
                self.missing_info += 1  # the oldest held frame is given up
                self.input_monitor.errors += 1
                self.get_logger().warning(f"no camera_info on {self.get_parameter('camera_info_topic').value} yet: "
                                          f"oldest held frame dropped ({self.missing_info} so far)",
                                          throttle_duration_sec=2.0)
            self._waiting_for_info.append(s)
            return
        if self.min_period_ns and s.stamp_ns - self.last_processed_ns < self.min_period_ns:
            self.skipped_rate += 1
            return
        t0 = time.perf_counter()
        msgs = s.messages
        try:
            if self.use_depth:
                frame = self.rgbd.from_messages(msgs[0], msgs[1], self.camera_info)
                depth = frame.depth
            else:
                frame = self.mono.from_messages(msgs[0], self.camera_info)
                depth = None
        except ImageConversionError as e:
            self.bad_input += 1
            self.input_monitor.errors += 1
            self.get_logger().warning(f"bad input at {s.stamp_ns} ns: {e} ({self.bad_input} so far)",
                                      throttle_duration_sec=2.0)
            return
        self.last_processed_ns = s.stamp_ns
        if isinstance(self.box_source, (ExternalBoxSource, ProjectedTrackBoxSource)):
            self.feed_box_source(s.stamp_ns, msgs[0].header.frame_id)
        results = [r for r in self.estimator.estimate(frame.rgb, frame.k, depth) if r.score >= self.min_score]
        # the tracker keeps ids that came with the boxes (Sparse4D tracks, a tracking detector)
        ids = self.tracker.update(results, s.stamp_ns)
        self.track_ids.update(ids)
        header = msgs[0].header
        out = HumanPose3DArray(header=header)
        out.humans = [human_pose_msg(r, header, tid, SKELETON_NAME) for r, tid in zip(results, ids, strict=True)]
        self.pub.publish(out)
        self.pub_markers.publish(skeleton_markers(header, [(tid, r.joints_cam, r.confidence)
                                                           for r, tid in zip(results, ids, strict=True)],
                                                  min_confidence=self.min_conf))
        if self.tf is not None:
            self.broadcast_tf(header.frame_id, s.stamp_ns, results, ids)
        if self.pub_img is not None and self.pub_img.get_subscription_count() > 0:
            self.pub_img.publish(self.annotate(frame.rgb, results, ids, header))
        self.frames += 1
        self.people += len(results)
        self.depth_frames += int(any(r.depth_used for r in results))
        ms = (time.perf_counter() - t0) * 1e3
        self.latency_ms.append(ms)
        self.output_monitor.tick(ms)

    def broadcast_tf(self, camera_frame: str, stamp_ns: int, results: list[Any], ids: list[int]) -> None:
        transforms = []
        for r, tid in zip(results, ids, strict=True):
            root = root_frame(r.joints_cam)
            if root is None:
                continue
            transforms.append(transform_stamped(camera_frame, f"human_{tid}", stamp_ns, matrix=root))
            for name, m in hand_frames(r.joints_cam, root).items():
                transforms.append(transform_stamped(camera_frame, f"human_{tid}_{name}", stamp_ns, matrix=m))
        self.tf.send_transform(transforms)

    def annotate(self, rgb: np.ndarray, results: list[Any], ids: list[int], header: Any) -> Image:
        img = rgb.copy()
        for r, tid in zip(results, ids, strict=True):
            draw_pose(img, r.joints_2d, r.confidence, r.derived, r.box, tid,
                      f"{r.joints_cam[0, 2]:.1f} m" + (" (depth)" if r.depth_used else ""), self.min_conf)
        draw_banner(img, f"{self.source}  {len(results)} people", warn=str(self.source).startswith("stand-in:"))
        msg = numpy_to_image(img, "rgb8", factory=Image)
        msg.header = header
        return msg

    def summary(self) -> str:
        lat = np.array(self.latency_ms) if self.latency_ms else np.zeros(1)
        st = self.sync.stats()
        return (f"body_pose summary: backend {self.source}; {self.frames} frames processed, {self.people} person "
                f"detections, depth used in {self.depth_frames} frames; latency p50 {np.percentile(lat, 50):.1f} ms, "
                f"p90 {np.percentile(lat, 90):.1f} ms; {st.emitted_sets} synchronized sets, {st.dropped_total()} "
                f"dropped by the synchronizer, {self.bad_input} bad inputs, {self.missing_info} frames without camera_info, {self.skipped_rate} skipped by max_rate_hz; "
                f"{len(self.track_ids)} distinct track ids; drops by reason: "
                f"{ {r: sum(c) for r, c in st.dropped.items() if sum(c)} or 'none'}")


def main(argv: list[str] | None = None) -> int:
    return run_node(BodyPoseNode, "body_pose", lambda node: node.summary(), argv)


if __name__ == "__main__":
    sys.exit(main())
