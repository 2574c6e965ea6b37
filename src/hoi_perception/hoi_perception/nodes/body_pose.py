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
from typing import Any

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import MarkerArray

from hoi_msgs.msg import Detection2DArray, HumanPose3DArray, TrackedObject3DArray
from hoi_perception.bodypose.box_sources import BACKENDS, BOX_SOURCES, EmptyStreak
from hoi_perception.bodypose.boxes import ExternalBoxSource, ProjectedTrackBoxSource
from hoi_perception.bodypose.hog_detector import DEFAULT_UPSCALE
from hoi_perception.bodypose.types import PersonBox
from hoi_perception.geometry.tf_buffer import TfError
from hoi_perception.imaging.encodings import ImageConversionError, numpy_to_image
from hoi_perception.imaging.rgbd import CameraIngest, RgbdIngest
from hoi_perception.inputs.camera_guard import CameraInputGuard
from hoi_perception.inputs.checks import DEFAULT_MAX_PIXELS
from hoi_perception.render.skeleton import draw_banner, draw_pose
from hoi_perception.ros.camera_input import CameraInput
from hoi_perception.ros.conversions import box3d_from_msg, human_pose_msg
from hoi_perception.ros.diagnostics import DiagnosticsPublisher, RateMonitor
from hoi_perception.ros.markers import skeleton_markers
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.parameters import Param, check_topic_name, declare_parameters
from hoi_perception.ros.qos import reliable_qos
from hoi_perception.ros.synchronizer import SyncConfig, TopicSynchronizer
from hoi_perception.ros.tf import TfListener, TransformBroadcaster, transform_stamped
from hoi_perception.ros.time import ns_from_stamp
from hoi_perception.skeleton.bodypose34 import SKELETON_NAME
from hoi_perception.skeleton.frames import hand_frames, root_frame
from hoi_perception.sync.approximate import SyncedSet
from hoi_perception.sync.nearest import NearestStampBuffer

# The node's parameters and their defaults (the one place they live; config/body_pose.yaml only
# holds values that differ).
PARAMETERS = (
    Param("backend", "blazepose", "pose estimator: BlazePose GHUM on the CPU, or BodyPose3DNet on the engine "
          "layer (model_path)", choices=BACKENDS),
    Param("model_path", "", "BodyPose3DNet ONNX model or TensorRT engine (engines/README.md); backend bodypose3dnet"),
    Param("engine", "auto", "engine backend for BodyPose3DNet", choices=("auto", "onnxruntime", "tensorrt")),
    Param("bodypose3dnet_lift", "pose25d", "BodyPose3DNet 3D joints: pose25d (DeepStream's lift of the pose25d "
          "output with the limb-length scale, docs/bodypose3dnet_lift.md) or network (the pose3d output, unverified)",
          choices=("pose25d", "network")),
    Param("blazepose_model_dir", "", "folder holding pose_detection.tflite and pose_landmark_full.tflite; empty: "
          "$HOI_BLAZEPOSE_DIR, else blazepose/ under the models folder (hoi_perception.paths)"),
    Param("box_source", "default", "where person boxes come from; default: ssd+blazepose for blazepose, ssd for "
          "bodypose3dnet (BodyPose3DNet has no detector of its own); hog, hog+blazepose: OpenCV's HOG people "
          "detector instead of SSD", choices=("default", *BOX_SOURCES)),
    Param("objects_model_dir", "", "SSD box source: folder holding the SSD MobileNetV2 OIDv4 model; empty: "
          "objects/ under the models folder (hoi_perception.paths)"),
    Param("ssd_min_score", 0.3, "SSD box source: person detections below this score are dropped", 0.0, 1.0),
    Param("hog_upscale", DEFAULT_UPSCALE, "HOG box source: the frame is enlarged by this first (people under "
          "~96 px tall need > 1)", 0.25, 4.0),
    Param("no_people_warn_frames", 30, "log once when this many frames in a row have nobody (0: never)", 0, 1000000),
    Param("image_topic", "/zed/zed_node/left/image_rect_color", "RGB(A)/BGR(A)/mono image topic"),
    Param("depth_topic", "/zed/zed_node/depth/depth_registered", "depth image registered to the image (32FC1 m or "
          "16UC1 mm); empty: no depth"),
    Param("camera_info_topic", "/zed/zed_node/left/camera_info", "intrinsics of the image"),
    Param("use_depth", True, "correct each person's metric scale from the depth image where available"),
    Param("max_people", 4, "people per frame at most (landmark runs cost ~15 ms each on 2 cores)", 1, 64),
    Param("min_score", 0.3, "people below this pose score are not published", 0.0, 1.0),
    Param("min_joint_confidence", 0.3, "joints drawn and used for markers above this confidence", 0.0, 1.0),
    Param("max_rate_hz", 0.0, "process at most this many frames per second (0: every synchronized frame)",
          0.0, 1000.0),
    Param("publish_tf", True, "broadcast human_<id> and human_<id>_left_hand / _right_hand on /tf"),
    Param("publish_annotated", True, "publish ~/annotated (built only while someone subscribes)"),
    Param("tracker_max_age_s", 1.0, "a person unseen this long loses their track id, seconds", 0.0, 3600.0),
    Param("smoothing", False, "One-Euro smoothing of each tracked person's 3D joints (less jitter, a little lag; "
          "filtering/joint_smoother.py)"),
    Param("smoothing_min_cutoff_hz", 1.0, "One-Euro min cut-off [Hz]: lower smooths a still person more",
          0.01, 30.0),
    Param("smoothing_beta", 0.5, "One-Euro speed coefficient [1/m]: higher follows fast moves with less lag",
          0.0, 100.0),
    Param("tracks_topic", "/hoi/tracks", "box_source projected_tracks: hoi_msgs/TrackedObject3DArray in world_frame"),
    Param("world_frame", "world", "box_source projected_tracks: the tracks' frame (looked up in TF at each "
          "image stamp)", read_only=False),
    Param("detections_topic", "/detections", "box_source external: hoi_msgs/Detection2DArray"),
    Param("report_path", "", "write the summary (frames, people, latency, counters) as JSON here at shutdown"),
    Param("max_image_pixels", DEFAULT_MAX_PIXELS, "images with more pixels (width x height) are rejected from "
          "their header, before any conversion (0: no limit)", 0, 2**31 - 1),
    Param("box_match_tolerance_s", 0.05, "external boxes / tracks are used only this close to the image stamp, "
          "seconds", 0.0, 10.0),
)
# ZED frames: image, depth and camera_info share a stamp; replays should not drop frames
SYNC_DEFAULTS = SyncConfig(queue_size=15, qos_depth=5, qos_reliability="reliable", max_interval_s=0.02,
                           inter_message_lower_bound_s=0.02, stream_policy="wait", reset_threshold_s=1.0)


def make_pipeline(node: Node) -> Any:
    """The estimator and box source the parameters ask for, built once by the
    one factory (bodypose.box_sources.make_pose_pipeline)."""
    from hoi_perception.bodypose.box_sources import PosePipelineConfig, make_pose_pipeline

    g = node.get_parameter
    cfg = PosePipelineConfig(backend=str(g("backend").value), box_source=str(g("box_source").value),
                             blazepose_model_dir=str(g("blazepose_model_dir").value),
                             model_path=str(g("model_path").value), engine=str(g("engine").value),
                             bodypose3dnet_lift=str(g("bodypose3dnet_lift").value),
                             max_people=int(g("max_people").value), use_depth=bool(g("use_depth").value),
                             hog={"upscale": float(g("hog_upscale").value)},
                             objects_model_dir=str(g("objects_model_dir").value),
                             ssd={"min_score": float(g("ssd_min_score").value)})
    pipeline = make_pose_pipeline(cfg)
    if cfg.backend == "bodypose3dnet":
        node.get_logger().info(f"BodyPose3DNet engine: {pipeline.estimator.engine.backend_name}")
    return pipeline


class BodyPoseNode(Node):
    def __init__(self) -> None:
        super().__init__("body_pose")
        declare_parameters(self, PARAMETERS)
        SyncConfig.declare(self, "sync", SYNC_DEFAULTS)
        self.report_path = str(self.get_parameter("report_path").value)
        for topic_param in ("image_topic", "depth_topic", "camera_info_topic", "tracks_topic", "detections_topic"):
            if self.get_parameter(topic_param).value:
                check_topic_name(self, topic_param, str(self.get_parameter(topic_param).value))
        self.min_score = float(self.get_parameter("min_score").value)
        self.min_conf = float(self.get_parameter("min_joint_confidence").value)
        rate = float(self.get_parameter("max_rate_hz").value)
        # admitted images, camera_info by stamp, rate limit and time jumps (core: inputs/camera_guard.py)
        self.guard: CameraInputGuard[CameraInfo] = CameraInputGuard(
            max_pixels=int(self.get_parameter("max_image_pixels").value),
            min_period_ns=int(1e9 / rate) if rate > 0 else 0)
        self.faults = self.guard.ledger
        self.pipeline = make_pipeline(self)
        self.estimator, self.box_source = self.pipeline.estimator, self.pipeline.box_source
        self.box_source_name = self.pipeline.box_source_name
        self.empty = EmptyStreak(int(self.get_parameter("no_people_warn_frames").value))
        box_tolerance_ns = int(float(self.get_parameter("box_match_tolerance_s").value) * 1e9)
        self.box_inputs_missing = 0
        self.tf_missing = 0
        self._box_msgs: NearestStampBuffer[Any] = NearestStampBuffer(box_tolerance_ns, maxlen=30)
        self.tf_listener: TfListener | None = None
        if isinstance(self.box_source, ProjectedTrackBoxSource):
            self.create_subscription(TrackedObject3DArray, str(self.get_parameter("tracks_topic").value),
                                     self.on_box_msg, reliable_qos(10))
            # /tf and /tf_static over time: a camera on a moving robot is looked up at each image's stamp
            self.tf_listener = TfListener(self)
        elif isinstance(self.box_source, ExternalBoxSource):
            self.create_subscription(Detection2DArray, str(self.get_parameter("detections_topic").value),
                                     self.on_box_msg, reliable_qos(10))
        from hoi_perception.bodypose import HumanTracker

        self.tracker = HumanTracker(max_age_ns=int(float(self.get_parameter("tracker_max_age_s").value) * 1e9))
        self.smoother = None
        if self.get_parameter("smoothing").value:
            from hoi_perception.filtering.joint_smoother import DEFAULT_JOINTS, TrackedJointSmoother
            from hoi_perception.filtering.one_euro import OneEuroParams

            self.smoother = TrackedJointSmoother(
                OneEuroParams(float(self.get_parameter("smoothing_min_cutoff_hz").value),
                              float(self.get_parameter("smoothing_beta").value), DEFAULT_JOINTS.d_cutoff_hz),
                max_age_s=float(self.get_parameter("tracker_max_age_s").value))
        self.use_depth = bool(self.get_parameter("use_depth").value) and bool(self.get_parameter("depth_topic").value)
        self.rgbd = RgbdIngest(compute_xyz=False)
        self.mono = CameraIngest()
        topics = [(Image, self.get_parameter("image_topic").value)]
        if self.use_depth:
            topics.append((Image, self.get_parameter("depth_topic").value))
        sync_cfg = SyncConfig.declare(self, "sync", SYNC_DEFAULTS)
        self.sync = TopicSynchronizer(self, topics, self.on_set, sync_cfg, admit=self.admit_image)
        info_topic = str(self.get_parameter("camera_info_topic").value)
        topics.append((CameraInfo, info_topic))
        out_qos = reliable_qos(10)
        self.pub = self.create_publisher(HumanPose3DArray, "~/humans", out_qos)
        self.pub_markers = self.create_publisher(MarkerArray, "~/markers", out_qos)
        self.publish_annotated = bool(self.get_parameter("publish_annotated").value)
        self.pub_img = self.create_publisher(Image, "~/annotated", out_qos) if self.publish_annotated else None
        self.tf = TransformBroadcaster(self) if self.get_parameter("publish_tf").value else None
        self.input_monitor = RateMonitor()
        # admission, camera_info by stamp, frames held until the first camera_info (ros/camera_input.py)
        self.camera = CameraInput(self, self.guard, info_topic, sync_cfg.qos_reliability == "reliable",
                                  self.input_monitor, self.process_guarded)
        self.output_monitor = RateMonitor()
        self.bad_input = 0
        self.frames = 0
        self.people = 0
        self.track_ids: set[int] = set()
        self.depth_frames = 0
        self.latency_ms: list[float] = []
        self.source = getattr(self.estimator, "backend_name", self.get_parameter("backend").value)
        self.diag = DiagnosticsPublisher(self)
        self.diag.add("input", self.input_monitor.status)
        self.diag.add("pose", self.output_monitor.status)
        self.diag.add("synchronizer", self.sync_status)
        prefix = "STAND-IN " if str(self.source).startswith("stand-in:") else ""
        models = getattr(self.estimator, "model_dir", None) or self.get_parameter("model_path").value or "none"
        self.get_logger().info(f"{prefix}body pose backend {self.source}, box source {self.box_source_name}; "
                               f"inputs: {', '.join(t for _, t in topics)}; models: {models}")

    def sync_status(self) -> tuple[bytes, str, dict[str, object]]:
        from hoi_perception.ros.diagnostics import OK, WARN

        st = self.sync.stats()
        values: dict[str, object] = {"sets": st.emitted_sets, "bad_input": self.bad_input,
                                     "missing_camera_info": self.camera.missing_info,
                                     "frames_without_box_input": self.box_inputs_missing,
                                     "frames_without_transform": self.tf_missing, "time_jumps": self.guard.time_jumps,
                                     "sync_callback_errors": self.sync.callback_errors}
        drops = self.drops_by_reason()
        values.update(self.faults.values())
        values["dropped"] = sum(drops.values())
        values.update({f"dropped.{r}": n for r, n in sorted(drops.items())})
        bad = self.faults.total_rejected + self.bad_input
        message = f"{st.emitted_sets} sets" + (f", {bad} bad inputs ({self.faults.summary()})" if bad else "")
        return (WARN if bad else OK), message, values

    def drops_by_reason(self) -> dict[str, int]:
        """Frames not processed, by reason: the node's own (rate_limit, busy, no camera_info) and the
        synchronizer's (queue_overflow, too_old, ... grouped under sync.<reason>) and DDS losses."""
        st = self.sync.stats()
        out = {r: n for r, n in self.faults.dropped.items() if n}
        out.update({f"sync.{r}": sum(c) for r, c in st.dropped.items() if sum(c)})
        not_taken = sum(self.sync.not_taken)  # publisher sequence gaps: overwritten while busy, or lost
        if not_taken:
            out["busy"] = not_taken
        return out

    def admit_image(self, stream: int, msg: Image) -> bool:
        """Header checks before the synchronizer queues the image (an 8000x8000 one is never converted)."""
        return self.camera.admit(self.sync.topics[stream], msg)

    def on_box_msg(self, msg: Any) -> None:
        self._box_msgs.add(ns_from_stamp(msg.header.stamp), msg)

    def feed_box_source(self, stamp_ns: int, camera_frame: str) -> None:
        """Hand the external detections / projected tracks nearest the image
        stamp to the box source (none within tolerance: no boxes, counted)."""
        best = self._box_msgs.nearest(stamp_ns)
        if best is None:
            self.box_inputs_missing += 1
        if isinstance(self.box_source, ExternalBoxSource):
            dets = [] if best is None else [
                PersonBox(d.box.x_min, d.box.y_min, d.box.x_max, d.box.y_max, float(d.score),
                          track_id=int(d.track_id) or None) for d in best.detections]
            self.box_source.set_detections(dets)
            return
        assert self.tf_listener is not None
        world_frame = str(self.get_parameter("world_frame").value)
        try:
            # tracks are in world_frame at their own stamp; the camera is wherever it was at the image's
            cam_from_world = self.tf_listener.buffer.lookup(camera_frame, world_frame, stamp_ns)
        except TfError as e:
            self.tf_missing += 1
            self.get_logger().warning(f"projected tracks: no transform {world_frame} -> {camera_frame} at the image "
                                      f"stamp: {e} ({self.tf_missing} frames so far)", throttle_duration_sec=2.0)
            self.box_source.set_tracks([], np.eye(4))
            return
        tracks = [] if best is None else [box3d_from_msg(o) for o in best.objects]
        self.box_source.set_tracks(tracks, cam_from_world)

    def on_set(self, s: SyncedSet) -> None:
        self.input_monitor.tick()
        if self.camera.hold_until_info(s):
            return
        self.process_guarded(s)

    def process_guarded(self, s: SyncedSet) -> None:
        """process() with every failure named, counted and survived (live and held frames alike)."""
        try:
            self.process(s)
        except ImageConversionError as e:
            self.bad_input += 1
            self.input_monitor.errors += 1
            line = self.guard.drop("bad_image", f"bad input at {s.stamp_ns} ns: {e}")
            if line:
                self.get_logger().warning(line)
        except Exception as e:  # an estimator/OpenCV failure on one frame must not end the node
            if not self.context.ok():  # stopped while this frame was in flight: not a fault of the frame
                self.guard.drop("shutdown", f"frame at {s.stamp_ns} ns not finished: the node is stopping")
                return
            self.bad_input += 1
            self.input_monitor.errors += 1
            line = self.guard.drop("processing_error", f"frame at {s.stamp_ns} ns failed: {e!r}")
            if line:
                self.get_logger().error(line)

    def process(self, s: SyncedSet) -> None:
        verdict = self.guard.admit_frame(s.stamp_ns)
        if verdict.time_jump:
            self.tracker.reset()
            if self.smoother is not None:
                self.smoother.reset()
        if verdict.time_jump:
            self.get_logger().warning(verdict.log)
        elif verdict.log:
            self.get_logger().info(verdict.log)
        if not verdict.process:
            self.input_monitor.drop("rate_limit")
            return
        t0 = time.perf_counter()
        msgs = s.messages
        paired = self.guard.camera_info_for(s.stamp_ns)
        assert paired is not None  # frames wait in on_set until the first good camera_info
        info = paired[1]
        if self.use_depth:
            frame = self.rgbd.from_messages(msgs[0], msgs[1], info)
            depth = frame.depth
        else:
            frame = self.mono.from_messages(msgs[0], info)
            depth = None
        self.guard.processed(s.stamp_ns)
        if isinstance(self.box_source, (ExternalBoxSource, ProjectedTrackBoxSource)):
            self.feed_box_source(s.stamp_ns, msgs[0].header.frame_id)
        results = [r for r in self.estimator.estimate(frame.rgb, frame.k, depth) if r.score >= self.min_score]
        # the tracker keeps ids that came with the boxes (Sparse4D tracks, a tracking detector)
        ids = self.tracker.update(results, s.stamp_ns)
        if self.smoother is not None:
            for r, tid in zip(results, ids, strict=True):
                r.joints_cam = self.smoother.smooth(tid, r.joints_cam, s.stamp_ns * 1e-9)
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
        if self.empty.update(len(results)):
            self.get_logger().warning(
                f"no person found in {self.empty.frames} frames in a row with box source {self.box_source_name} "
                f"(backend {self.source}); people too small or too far for it? try box_source:=hog or a lower "
                "min_score")
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

    def report(self) -> dict[str, object]:
        lat = np.array(self.latency_ms) if self.latency_ms else np.zeros(1)
        st = self.sync.stats()
        return {"source": self.source, "box_source": self.box_source_name, "frames": self.frames,
                "people": self.people, "depth_frames": self.depth_frames, "track_ids": len(self.track_ids),
                "latency_ms_p50": float(np.percentile(lat, 50)), "latency_ms_p90": float(np.percentile(lat, 90)),
                "sets": st.emitted_sets, "sync_dropped": st.dropped_total(), "bad_input": self.bad_input,
                "missing_camera_info": self.camera.missing_info, "skipped_rate_limit": self.faults.dropped["rate_limit"],
                "rejected": dict(self.faults.rejected), "dropped": self.drops_by_reason(),
                "time_jumps": self.guard.time_jumps,
                "frames_without_box_input": self.box_inputs_missing, "frames_without_transform": self.tf_missing,
                "empty_streaks_reported": self.empty.reported,
                "estimator_counters": dict(getattr(self.estimator, "counters", {}))}

    def summary(self) -> str:
        lat = np.array(self.latency_ms) if self.latency_ms else np.zeros(1)
        st = self.sync.stats()
        return (f"body_pose summary: backend {self.source}; {self.frames} frames processed, {self.people} person "
                f"detections, depth used in {self.depth_frames} frames; latency p50 {np.percentile(lat, 50):.1f} ms, "
                f"p90 {np.percentile(lat, 90):.1f} ms; {st.emitted_sets} synchronized sets, {st.dropped_total()} "
                f"dropped by the synchronizer, {self.bad_input} bad inputs, {self.camera.missing_info} frames without camera_info; "
                f"{len(self.track_ids)} distinct track ids; {self.guard.time_jumps} time jumps; rejected: "
                f"{dict(self.faults.rejected) or 'none'}; drops by reason: {self.drops_by_reason() or 'none'}")


def main(argv: list[str] | None = None) -> int:
    return run_node(BodyPoseNode, "body_pose", lambda node: node.summary(), argv, json_report=BodyPoseNode.report)


if __name__ == "__main__":
    sys.exit(main())
