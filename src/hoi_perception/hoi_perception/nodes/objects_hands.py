"""objects_hands node: 6DoF objects and 3D hands from one RGB-D camera.

One process per camera (namespace it and set the topics). Subscribes to the
camera's image + registered depth (approximate-time synchronizer) and its
camera_info, and gets people one of two ways (``people_source``):

* ``blazepose`` (default): runs BlazePose in this process. The node then
  needs nothing but the camera, so a camera without a body_pose node still
  gets hands; person ids are this node's own.
* ``topic``: takes the body_pose node's HumanPose3DArray (``humans_topic``)
  with the image's stamp (within ``humans_tolerance_s``; none: the frame is
  processed without people, counted). BlazePose then runs once per camera
  and hands carry the same person ids as /hoi/humans and the human_<id> TF
  (what the contacts node pairs hands with people by). body_pose answers a
  frame later than the camera delivers it, so with ``humans_wait_s`` > 0 a
  frame waits (at most that long, wall clock, ``max_waiting_frames`` at
  most) for the humans of its stamp before it is processed.

Publishes ``~/objects`` (hoi_msgs/ObjectPoseArray, camera optical frame),
``~/object_extents`` (hoi_msgs/ObjectExtentArray, same header: each pose's
measured box, which ObjectPose has no field for; sent just before the poses),
``~/hands`` (hoi_msgs/Hand3DArray), TF ``object_<id>`` and
``human_<id>_left_hand`` / ``_right_hand`` (from the hand model: origin at
the wrist, x towards the middle finger MCP, z the palm normal, y = z x x),
``~/markers`` (object boxes, hand skeletons), ``~/annotated`` and
/diagnostics. Gravity and the tracking frame come from /tf_static
(``world_frame`` -> the camera's optical frame) through one lookup function.
Sparse4D tracks on ``tracks_topic`` (world frame) lend their ids to objects.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from typing import Any

import numpy as np
from geometry_msgs.msg import Point
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import ColorRGBA
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from hoi_msgs.msg import (
    BoundingBox2D,
    Hand3D,
    Hand3DArray,
    HumanPose3DArray,
    ObjectExtent,
    ObjectExtentArray,
    ObjectPose,
    ObjectPoseArray,
    Point2D,
    TrackedObject3DArray,
)
from hoi_perception.engine.factory import BACKENDS
from hoi_perception.geometry.tf_buffer import TfBuffer, add_transform, lookup_or_none
from hoi_perception.imaging.encodings import ImageConversionError, numpy_to_image
from hoi_perception.imaging.rgbd import RgbdIngest
from hoi_perception.inputs.camera_guard import CameraInputGuard
from hoi_perception.inputs.checks import DEFAULT_MAX_PIXELS
from hoi_perception.objects.detector import DETECTORS
from hoi_perception.ros.camera_input import CameraInput
from hoi_perception.ros.conversions import pose_from_matrix, vector3
from hoi_perception.ros.diagnostics import DiagnosticsPublisher, RateMonitor
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.parameters import Param, declare_parameters
from hoi_perception.ros.qos import TF_STATIC_LISTENER_QOS, reliable_qos
from hoi_perception.ros.synchronizer import SyncConfig, TopicSynchronizer
from hoi_perception.ros.tf import TransformBroadcaster, transform_stamped
from hoi_perception.ros.time import ns_from_stamp, steady_timer
from hoi_perception.sync.approximate import SyncedSet

PEOPLE_SOURCES = ("blazepose", "topic", "none")
# parameter -> (min, max) for the numeric ones (checked at start-up: exit 2 with one line)
RANGES: dict[str, tuple[float, float]] = {
    "min_detection_score": (0.0, 1.0), "min_hand_presence": (0.0, 1.0), "max_rate_hz": (0.0, 120.0),
    "track_gate_m": (0.01, 5.0), "track_max_missed_s": (0.0, 30.0), "track_min_hits": (1, 100),
    "humans_tolerance_s": (0.0, 1.0), "humans_wait_s": (0.0, 10.0), "max_waiting_frames": (1, 1000),
    "min_object_points": (5, 100000), "max_object_points": (100, 1000000),
    "num_threads": (1, 64), "max_people": (0, 32), "min_registration_inliers": (0.0, 1.0),
    "max_image_pixels": (0, 2**31 - 1), "held_object_reach_m": (0.1, 1.5), "held_object_touch_m": (0.02, 0.5),
}


def _r(name: str) -> tuple[float, float]:
    return RANGES[name]


PARAMETERS = (
    Param("image_topic", "/zed/zed_node/left/image_rect_color", "RGB(A)/BGR(A) image topic of this camera"),
    Param("depth_topic", "/zed/zed_node/depth/depth_registered", "depth image topic registered to the image (m)"),
    Param("camera_info_topic", "/zed/zed_node/left/camera_info", "sensor_msgs/CameraInfo of the image"),
    Param("people_source", "blazepose", "where people come from: BlazePose run here, body_pose's "
          "HumanPose3DArray topic, or none", choices=PEOPLE_SOURCES),
    Param("humans_topic", "/hoi/humans", "people_source topic: HumanPose3DArray with the image's stamp"),
    Param("humans_tolerance_s", 0.02, "people_source topic: stamp tolerance to the image [s]",
          *_r("humans_tolerance_s"), read_only=False),
    Param("humans_wait_s", 0.0, "people_source topic: hold a frame this long (wall clock) for its humans; "
          "0: no wait", *_r("humans_wait_s")),
    Param("max_waiting_frames", 8, "frames held for their humans at most (the oldest goes on without)",
          *_r("max_waiting_frames")),
    Param("max_image_pixels", DEFAULT_MAX_PIXELS, "larger images are refused from their header (0: no limit)",
          *_r("max_image_pixels")),
    Param("tracks_topic", "", "Sparse4D TrackedObject3DArray (world frame) whose ids objects reuse; empty: off"),
    Param("world_frame", "world", "/tf_static world -> optical frame gives gravity and the tracking frame",
          read_only=False),
    Param("detector", "ssd_oidv4", "object detector: ssd_oidv4 (CPU default) or yolov3_tiny (engine layer)",
          choices=DETECTORS),
    Param("detector_backend", "onnxruntime:cpu", "yolov3_tiny only: engine backend (auto on a GPU)",
          choices=BACKENDS),
    Param("objects_model_dir", "", "object detector model folder; empty: paths.models_dir('objects')"),
    Param("hands_model_dir", "", "hand landmark model folder; empty: paths.models_dir('hands')"),
    Param("blazepose_model_dir", "", "BlazePose model folder; empty: paths.models_dir('blazepose')"),
    Param("mesh_config", "", "YAML {class: {mesh: file, scale: s}}: mesh registration for those classes"),
    Param("registration_backend", "small_gicp", "mesh registration library (open3d if installed)",
          choices=("small_gicp", "open3d")),
    Param("min_registration_inliers", 0.5, "inlier fraction below which the OBB pose is published instead",
          *_r("min_registration_inliers")),
    Param("min_detection_score", 0.4, "object detections below this score are dropped", *_r("min_detection_score")),
    Param("min_hand_presence", 0.5, "hands below this presence score are dropped", *_r("min_hand_presence")),
    Param("enable_hands", True, "estimate hands (MediaPipe hand landmarks)"),
    Param("max_people", 4, "people_source blazepose: most people per frame (0: no people)", *_r("max_people")),
    Param("held_objects", True, "also find objects held in a hand from depth, class held_object, when the "
          "detector has no class for them (objects/held_proposals.py)"),
    Param("held_object_reach_m", 0.45, "how far from the hand a held object may extend [m]",
          *_r("held_object_reach_m")),
    Param("held_object_touch_m", 0.15, "surface this close to the hand seeds a held object [m]",
          *_r("held_object_touch_m")),
    Param("min_object_points", 30, "fewer depth points in a box: no pose (counted)", *_r("min_object_points")),
    Param("max_object_points", 6000, "pixels back-projected per box (strided)", *_r("max_object_points")),
    Param("track_gate_m", 0.5, "object track association gate [m]", *_r("track_gate_m")),
    Param("track_max_missed_s", 1.5, "occlusion tolerance of an object track [s]", *_r("track_max_missed_s")),
    Param("track_min_hits", 2, "detections before an object track id is published", *_r("track_min_hits")),
    Param("num_threads", 2, "CPU threads of each model", *_r("num_threads")),
    Param("max_rate_hz", 0.0, "most frames processed per second; 0: every synchronized frame",
          *_r("max_rate_hz")),
    Param("publish_tf", True, "broadcast object_<id> and human_<id>_left_palm / _right_palm frames"),
    Param("publish_annotated", True, "publish ~/annotated (built only while someone subscribes)"),
)
SYNC_DEFAULTS = SyncConfig()
# Palm frames from the 21 keypoints; body_pose owns human_<id>_left_hand / _right_hand (the skeleton's
# wrist with the pelvis orientation): one child frame with two publishers would jump between them.
SIDE_NAMES = ("left_palm", "right_palm")


def lookup_world_from_camera(tf: TfBuffer, world: str, camera: str) -> np.ndarray | None:
    """The one TF lookup of this node (a time-aware buffer can replace it here)."""
    return lookup_or_none(tf, world, camera) if world else None


def object_extents(header: Any, objects: list[Any]) -> ObjectExtentArray:
    """The measured box of each published pose (ObjectEstimate.size along its axes, the method that measured it)."""
    out = ObjectExtentArray(header=header)
    for o in objects:
        out.extents.append(ObjectExtent(track_id=int(o.track_id), object_name=o.hoi_class,
                                        size=vector3(np.asarray(o.size, dtype=np.float64)), method=str(o.method)))
    return out


def hand_frame(kp: np.ndarray) -> np.ndarray | None:
    """4x4 hand frame from 21 camera-frame keypoints: origin wrist, x to middle MCP, z palm normal."""
    x = kp[9] - kp[0]
    n = np.cross(kp[5] - kp[0], kp[17] - kp[0])
    if np.linalg.norm(x) < 1e-6 or np.linalg.norm(n) < 1e-9:
        return None
    x = x / np.linalg.norm(x)
    z = n - x * (n @ x)
    if np.linalg.norm(z) < 1e-9:
        return None
    z /= np.linalg.norm(z)
    m = np.eye(4)
    m[:3, :3] = np.column_stack([x, np.cross(z, x), z])
    m[:3, 3] = kp[0]
    return m


class ObjectsHandsNode(Node):
    def __init__(self) -> None:
        super().__init__("objects_hands")
        declare_parameters(self, PARAMETERS)
        self.people_source = str(self.get_parameter("people_source").value)
        self.pipeline, self.bodypose = self._make_pipeline()
        # people_source blazepose: ids stable across frames (hands' person_track_id, human_<id>_*_hand TF)
        from hoi_perception.bodypose.tracking import HumanTracker

        self.human_tracker = HumanTracker()
        self.static_tf = TfBuffer()
        self.create_subscription(TFMessage, "/tf_static", self.on_tf_static, TF_STATIC_LISTENER_QOS)
        self._humans: deque[Any] = deque(maxlen=60)
        # frames waiting for their humans: (wall-clock arrival s, set), oldest first
        self._awaiting_humans: deque[tuple[float, SyncedSet]] = deque()
        self.humans_wait_s = float(self.get_parameter("humans_wait_s").value)
        if self.people_source == "topic":
            self.create_subscription(HumanPose3DArray, str(self.get_parameter("humans_topic").value),
                                     self.on_humans, reliable_qos(30))
            if self.humans_wait_s > 0:
                # a steady clock: under use_sim_time a paused /clock must not hold frames forever
                steady_timer(self, min(0.05, self.humans_wait_s / 2), self._release_waiting)
        self._tracks: deque[Any] = deque(maxlen=30)
        if str(self.get_parameter("tracks_topic").value):
            self.create_subscription(TrackedObject3DArray, str(self.get_parameter("tracks_topic").value),
                                     self._tracks.append, reliable_qos(10))
        self.rgbd = RgbdIngest(compute_xyz=False)  # xyz only inside boxes and at joints
        topics = [(Image, self.get_parameter("image_topic").value), (Image, self.get_parameter("depth_topic").value)]
        sync_cfg = SyncConfig.declare(self, "sync")
        rate = float(self.get_parameter("max_rate_hz").value)
        # admitted images, camera_info by stamp, rate limit and time jumps (core: inputs/camera_guard.py)
        self.guard: CameraInputGuard[CameraInfo] = CameraInputGuard(
            max_pixels=int(self.get_parameter("max_image_pixels").value),
            min_period_ns=int(1e9 / rate) if rate > 0 else 0)
        self.sync = TopicSynchronizer(self, topics, self.on_set, sync_cfg, admit=self.admit_image)
        q = reliable_qos(10)
        self.pub_objects = self.create_publisher(ObjectPoseArray, "~/objects", q)
        self.pub_extents = self.create_publisher(ObjectExtentArray, "~/object_extents", q)
        self.pub_hands = self.create_publisher(Hand3DArray, "~/hands", q)
        self.pub_markers = self.create_publisher(MarkerArray, "~/markers", q)
        self.pub_img = self.create_publisher(Image, "~/annotated", q) if self.get_parameter("publish_annotated").value \
            else None
        self.tf = TransformBroadcaster(self) if self.get_parameter("publish_tf").value else None
        self.counts = {"frames": 0, "bad_input": 0, "no_humans_for_stamp": 0,
                       "humans_wait_timeouts": 0,
                       "no_world_tf": 0, "objects": 0, "hands": 0}
        self.object_ids: set[int] = set()
        self.latency_ms: list[float] = []
        self.stage_ms: dict[str, list[float]] = {}
        self.in_mon, self.out_mon = RateMonitor(), RateMonitor()
        # admission, camera_info by stamp, frames held until the first camera_info (ros/camera_input.py)
        self.camera = CameraInput(self, self.guard, str(self.get_parameter("camera_info_topic").value),
                                  sync_cfg.qos_reliability == "reliable", self.in_mon, self.process_guarded)
        self.diag = DiagnosticsPublisher(self)
        self.diag.add("input", self.in_mon.status)
        self.diag.add("objects_hands", self.status)
        self.source = self.pipeline.detector.name if self.pipeline.detector is not None else "none"
        self.get_logger().info(f"objects_hands: detector {self.source}, hands "
                               f"{'on' if self.pipeline.hands else 'off'}, people from {self.people_source}, meshes "
                               f"{sorted(self.pipeline.meshes) or 'none'} ({self.pipeline.registrar.backend})")

    def _make_pipeline(self) -> tuple[Any, Any]:
        from hoi_perception.objects.detector import make_object_detector
        from hoi_perception.objects.held_proposals import HeldObjectConfig
        from hoi_perception.objects.pipeline import ObjectsHandsPipeline
        from hoi_perception.objects.registration import MeshRegistrar, load_mesh_map
        from hoi_perception.objects.tracker import ObjectTracker

        g = lambda n: self.get_parameter(n).value  # noqa: E731
        threads = int(g("num_threads"))
        det = make_object_detector(str(g("detector")), model_dir=str(g("objects_model_dir")) or None,
                                   min_score=float(g("min_detection_score")), num_threads=threads,
                                   backend=str(g("detector_backend")))
        hands = None
        if g("enable_hands"):
            from hoi_perception.hands.estimator import HandEstimator

            hands = HandEstimator(model_dir=str(g("hands_model_dir")) or None, num_threads=threads,
                                  min_presence=float(g("min_hand_presence")))
        meshes = {}
        if str(g("mesh_config")):
            from pathlib import Path

            import yaml

            path = Path(str(g("mesh_config"))).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"mesh_config {path} does not exist")
            meshes = load_mesh_map(yaml.safe_load(path.read_text()) or {}, path.parent)
        bodypose = None
        if self.people_source == "blazepose" and int(g("max_people")) > 0:
            from hoi_perception.bodypose import BlazePoseEstimator

            bodypose = BlazePoseEstimator(model_dir=str(g("blazepose_model_dir")) or None, num_threads=threads,
                                          max_people=int(g("max_people")))
        tracker = ObjectTracker(gate_m=float(g("track_gate_m")), max_missed_s=float(g("track_max_missed_s")),
                                min_hits=int(g("track_min_hits")))
        pipe = ObjectsHandsPipeline(det, hands, meshes, MeshRegistrar(str(g("registration_backend"))), tracker,
                                    min_points=int(g("min_object_points")), max_points=int(g("max_object_points")),
                                    min_registration_inliers=float(g("min_registration_inliers")),
                                    held_objects=HeldObjectConfig(reach_m=float(g("held_object_reach_m")),
                                                                  touch_m=float(g("held_object_touch_m")))
                                    if g("held_objects") else None)
        return pipe, bodypose

    # -- inputs --------------------------------------------------------------
    def on_tf_static(self, msg: TFMessage) -> None:
        for t in msg.transforms:
            try:
                add_transform(self.static_tf, t, static=True)
            except ValueError as e:
                self.counts["bad_input"] += 1
                self.get_logger().warning(f"/tf_static: {e}")

    def counters(self) -> dict[str, int]:
        return {**self.counts, "missing_camera_info": self.camera.missing_info}

    def admit_image(self, stream: int, msg: Image) -> bool:
        """Header checks before the synchronizer queues an image (empty frame_id, 0x0, oversized)."""
        return self.camera.admit(self.sync.topics[stream], msg)

    def _humans_for(self, stamp_ns: int) -> Any:
        tol = int(float(self.get_parameter("humans_tolerance_s").value) * 1e9)
        best = min(self._humans, key=lambda m: abs(ns_from_stamp(m.header.stamp) - stamp_ns), default=None)
        return best if best is not None and abs(ns_from_stamp(best.header.stamp) - stamp_ns) <= tol else None

    def on_humans(self, msg: HumanPose3DArray) -> None:
        self._humans.append(msg)
        # frames up to this stamp have had their humans (or never will: body_pose answers in order)
        stamp = ns_from_stamp(msg.header.stamp)
        tol = int(float(self.get_parameter("humans_tolerance_s").value) * 1e9)
        while self._awaiting_humans and self._awaiting_humans[0][1].stamp_ns <= stamp + tol:
            self.process_guarded(self._awaiting_humans.popleft()[1])

    def _release_waiting(self) -> None:
        now = time.monotonic()
        while self._awaiting_humans and now - self._awaiting_humans[0][0] >= self.humans_wait_s:
            self.counts["humans_wait_timeouts"] += 1
            self.process_guarded(self._awaiting_humans.popleft()[1])

    def _people(self, rgb: np.ndarray, k: np.ndarray, depth: np.ndarray, stamp_ns: int) -> list[Any]:
        from hoi_perception.objects.pipeline import PersonInput

        if self.people_source == "none":
            return []
        if self.people_source == "blazepose":
            if self.bodypose is None:
                return []
            res = self.bodypose.estimate(rgb, k, depth)
            ids = self.human_tracker.update(list(res), stamp_ns)
            return [PersonInput(tid, r.joints_2d, r.confidence) for tid, r in zip(ids, res, strict=True)]
        best = self._humans_for(stamp_ns)
        if best is None:
            self.counts["no_humans_for_stamp"] += 1
            return []
        out = []
        for h in best.humans:
            j2 = np.array([[q.x, q.y] for q in h.joints_2d], dtype=np.float64).reshape(-1, 2)
            conf = np.asarray(h.joint_confidence, dtype=np.float64)
            if len(j2) == 34 and len(conf) == 34:
                out.append(PersonInput(int(h.track_id), j2, conf))
        return out

    def _external_tracks(self, stamp_ns: int) -> list[tuple[int, str, np.ndarray]]:
        from hoi_perception.objects.vocabulary import to_hoi

        best = min(self._tracks, key=lambda m: abs(ns_from_stamp(m.header.stamp) - stamp_ns), default=None)
        if best is None or abs(ns_from_stamp(best.header.stamp) - stamp_ns) > 100_000_000:
            return []
        return [(int(o.track_id), to_hoi(o.class_label) or o.class_label.lower(),
                 np.array([o.pose.position.x, o.pose.position.y, o.pose.position.z])) for o in best.objects]

    def on_set(self, s: SyncedSet) -> None:
        self.in_mon.tick()
        if self.camera.hold_until_info(s):
            return
        if self.people_source == "topic" and self.humans_wait_s > 0 and (
                self._awaiting_humans or self._humans_for(s.stamp_ns) is None):
            # in stamp order behind earlier waiting frames; the oldest goes on without when too many wait
            self._awaiting_humans.append((time.monotonic(), s))
            while len(self._awaiting_humans) > int(self.get_parameter("max_waiting_frames").value):
                self.counts["humans_wait_timeouts"] += 1
                self.process_guarded(self._awaiting_humans.popleft()[1])
            return
        self.process_guarded(s)

    def process_guarded(self, s: SyncedSet) -> None:
        """process() with every failure named, counted and survived (live and held frames alike)."""
        try:
            self.process(s)
        except ImageConversionError as e:
            self.counts["bad_input"] += 1
            self.in_mon.errors += 1
            line = self.guard.drop("bad_image", f"bad input at {s.stamp_ns} ns: {e}")
            if line:
                self.get_logger().warning(line)
        except Exception as e:  # a model/OpenCV failure on one frame must not end the node
            if not self.context.ok():  # stopped while this frame was in flight: not a fault of the frame
                self.guard.drop("shutdown", f"frame at {s.stamp_ns} ns not finished: the node is stopping")
                return
            self.counts["bad_input"] += 1
            self.in_mon.errors += 1
            line = self.guard.drop("processing_error", f"frame at {s.stamp_ns} ns failed: {e!r}")
            if line:
                self.get_logger().error(line)

    def process(self, s: SyncedSet) -> None:
        verdict = self.guard.admit_frame(s.stamp_ns)
        if verdict.time_jump:
            self.pipeline.tracker.reset()
            self.human_tracker.reset()
            self.get_logger().warning(verdict.log)
        elif verdict.log:
            self.get_logger().info(verdict.log)
        if not verdict.process:
            self.in_mon.drop("rate_limit")
            return
        t0 = time.perf_counter()
        img, dmsg = s.messages
        paired = self.guard.camera_info_for(s.stamp_ns)
        assert paired is not None  # frames wait in on_set until the first good camera_info
        frame = self.rgbd.from_messages(img, dmsg, paired[1])
        self.guard.processed(s.stamp_ns)
        cam = str(img.header.frame_id)
        world_from_cam = lookup_world_from_camera(self.static_tf, str(self.get_parameter("world_frame").value), cam)
        if world_from_cam is None:
            self.counts["no_world_tf"] += 1
        t_people = time.perf_counter()
        people = self._people(frame.rgb, frame.k, frame.depth, s.stamp_ns)
        people_ms = (time.perf_counter() - t_people) * 1e3
        ext = self._external_tracks(s.stamp_ns) if world_from_cam is not None else []
        res = self.pipeline.process(frame.rgb, frame.depth, frame.k, s.stamp_ns * 1e-9, people, world_from_cam, ext)
        res.timings_ms["people"] = people_ms
        header = img.header
        self.publish(header, s.stamp_ns, res)
        if self.pub_img is not None and self.pub_img.get_subscription_count() > 0:
            self.pub_img.publish(self.annotate(frame.rgb, res, header))
        self.counts["frames"] += 1
        self.counts["objects"] += len(res.objects)
        self.counts["hands"] += len(res.hands)
        self.object_ids.update(o.track_id for o in res.objects)
        ms = (time.perf_counter() - t0) * 1e3
        self.latency_ms.append(ms)
        for k_, v in res.timings_ms.items():
            self.stage_ms.setdefault(k_, []).append(v)
        self.out_mon.tick(ms)

    # -- outputs -------------------------------------------------------------
    def publish(self, header: Any, stamp_ns: int, res: Any) -> None:
        det_name = self.source
        objs = ObjectPoseArray(header=header)
        # the measured boxes first, so a consumer that sizes a pose by them has them when the pose comes
        self.pub_extents.publish(object_extents(header, res.objects))
        for o in res.objects:
            objs.objects.append(ObjectPose(header=header, track_id=int(o.track_id), object_name=o.hoi_class,
                                           mesh_resource=f"file://{o.mesh_path}" if o.mesh_path else "",
                                           pose=pose_from_matrix(o.cam_from_object), score=float(o.score),
                                           source=f"{det_name}+{o.method}"))
        self.pub_objects.publish(objs)
        hands = Hand3DArray(header=header)
        hand_src = self.pipeline.hands.backend_name if self.pipeline.hands else ""
        for h in res.hands:
            m = Hand3D(handedness=int(h.side), handedness_score=float(h.handedness_score),
                       person_track_id=int(h.person_track_id), score=float(h.score),
                       source=f"{hand_src}:{h.placement}")
            m.keypoints = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in h.keypoints_cam]
            m.keypoint_scores = [float(v) for v in h.keypoint_scores]
            m.depth_measured = [bool(v) for v in h.depth_measured]
            m.keypoints_2d = [Point2D(x=float(p[0]), y=float(p[1])) for p in h.keypoints_2d]
            b = h.box
            m.roi = BoundingBox2D(x_min=b[0], y_min=b[1], x_max=b[2], y_max=b[3])
            hands.hands.append(m)
        self.pub_hands.publish(hands)
        self.pub_markers.publish(self.markers(header, res))
        if self.tf is not None:
            tfs = [transform_stamped(header.frame_id, f"object_{o.track_id}", stamp_ns, matrix=o.cam_from_object)
                   for o in res.objects]
            for h in res.hands:
                m = hand_frame(h.keypoints_cam)
                if m is not None and h.person_track_id:
                    tfs.append(transform_stamped(header.frame_id, f"human_{h.person_track_id}_{SIDE_NAMES[h.side]}",
                                                 stamp_ns, matrix=m))
            if tfs:
                self.tf.send_transform(tfs)

    def markers(self, header: Any, res: Any) -> MarkerArray:
        out = MarkerArray()
        out.markers.append(Marker(header=header, action=Marker.DELETEALL))
        for i, o in enumerate(res.objects):
            mk = Marker(header=header, ns="objects", id=i, type=Marker.CUBE, action=Marker.ADD)
            mk.pose = pose_from_matrix(o.cam_from_object)
            mk.scale = vector3(np.maximum(o.size, 0.01))
            mk.color = ColorRGBA(r=0.2, g=0.6, b=1.0, a=0.5)
            out.markers.append(mk)
            txt = Marker(header=header, ns="object_labels", id=i, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD)
            txt.pose = pose_from_matrix(o.cam_from_object)
            txt.scale.z = 0.06
            txt.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
            txt.text = f"{o.hoi_class} {o.track_id}"
            out.markers.append(txt)
        from hoi_perception.hands.estimator import HAND_BONES

        for i, h in enumerate(res.hands):
            mk = Marker(header=header, ns="hands", id=i, type=Marker.LINE_LIST, action=Marker.ADD)
            mk.scale.x = 0.005
            mk.color = ColorRGBA(r=0.1, g=1.0, b=0.2, a=1.0) if h.side else ColorRGBA(r=1.0, g=0.2, b=0.1, a=1.0)
            for a, b in HAND_BONES:
                for j in (a, b):
                    p = h.keypoints_cam[j]
                    mk.points.append(Point(x=float(p[0]), y=float(p[1]), z=float(p[2])))
            out.markers.append(mk)
        return out

    def annotate(self, rgb: np.ndarray, res: Any, header: Any) -> Image:
        from hoi_perception.objects.drawing import draw_objects_hands

        img = draw_objects_hands(rgb, res, self.source)
        msg = numpy_to_image(img, "rgb8", factory=Image)
        msg.header = header
        return msg

    def status(self) -> tuple[bytes, str, dict[str, object]]:
        from hoi_perception.ros.diagnostics import OK, WARN

        values: dict[str, object] = dict(self.counters())
        values.update({f"{k}_ms_p50": float(np.median(v[-100:])) for k, v in self.stage_ms.items() if v})
        values.update({f"hands_{k}": v for k, v in (self.pipeline.hands.counters if self.pipeline.hands else {}).items()})
        values.update(self.guard.ledger.values())
        st = self.sync.stats()
        values.update({f"dropped.sync.{r}": sum(c) for r, c in st.dropped.items() if sum(c)})
        if sum(self.sync.not_taken):
            values["dropped.busy"] = sum(self.sync.not_taken)  # publisher sequence gaps
        values["time_jumps"] = self.guard.time_jumps
        warn = self.counts["bad_input"] or self.camera.missing_info or self.guard.ledger.total_rejected
        return (WARN if warn else OK), f"{self.counts['frames']} frames", values

    def summary(self) -> str:
        lat = np.array(self.latency_ms) if self.latency_ms else np.zeros(1)
        stages = ", ".join(f"{k} {np.median(v):.1f}" for k, v in self.stage_ms.items() if v)
        return (f"objects_hands summary: detector {self.source}; {self.counts['frames']} frames, "
                f"{self.counts['objects']} object poses ({len(self.object_ids)} track ids), {self.counts['hands']} hands;"
                f" latency p50 {np.percentile(lat, 50):.1f} ms, p90 {np.percentile(lat, 90):.1f} ms; stage p50 ms: "
                f"{stages or 'none'}; counters {self.counters()}; {self.guard.ledger.summary()}")


def main(argv: list[str] | None = None) -> int:
    return run_node(ObjectsHandsNode, "objects_hands", lambda node: node.summary(), argv)


if __name__ == "__main__":
    sys.exit(main())
