"""CoCoNet node: streaming windowed HOI refinement (SMPL human + rigid object + hand contacts).

Inputs: the ZED RGB + depth (+ camera_info), the body pose node's
HumanPose3DArray (34 joints, camera frame, stamped with the image stamp) and
an ObjectPoseArray with the object's initial pose (the objects node's
output; any frame that /tf_static links to the camera) and, optionally, the
ObjectExtentArray the objects node measured beside it (render primitives of
objects without an ``object_shapes`` entry, coconet/shapes.py). The executor
only receives messages. Per frame, on a thread of its own (so images keep
arriving while a fit runs; a frame waits up to ``frame_wait_s`` for its humans
message, and beyond ``max_pending_frames`` the oldest is dropped and counted):
SMPL fit to the 34 joints, object initial pose, window frame (crop,
observation, synthetic render). Per window, on a second worker thread (so a
slow window never blocks the per-frame path; a bounded queue, the oldest
window is dropped and counted when it falls behind): engine, decoding,
publishing

* ``~/hoi_state`` hoi_msgs/HoiStateArray (refined SMPL + object + contacts),
  ``~/initial`` the same for the initial estimates (before/after comparisons);
* ``~/objects`` hoi_msgs/ObjectPoseArray (refined object poses);
* TF ``coconet_human_<id>`` (SMPL root joint) and ``coconet_object_<id>``;
* ``~/markers`` posed body mesh and object mesh;
* /diagnostics: window latency split fit / render / engine / decode, drops.

End of a stream: when no input has come for ``end_of_stream_s``, the frames
after the last window run as one shrunk window (CARI4D shrinks its last clip
to the frames left); frames still unpublished at shutdown are counted
(``tail_frames_unpublished``).

Every ``source`` field names the engine (``stand-in:...`` without a model)
and the body model (the user's SMPL file or the synthetic SMPL-format body).
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
from geometry_msgs.msg import Point, Vector3
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import ColorRGBA, Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from hoi_msgs.msg import (
    HoiState,
    HoiStateArray,
    HumanPose3DArray,
    ObjectExtentArray,
    ObjectPose,
    ObjectPoseArray,
    SmplParams,
)
from hoi_perception.coconet.evaluation import BeforeAfter, human_joint_error_mm, object_errors
from hoi_perception.coconet.pipeline import CocoNetPipeline, WindowResult
from hoi_perception.coconet.shapes import RenderShapes, parse_object_shapes
from hoi_perception.coconet.window import ObjectShape
from hoi_perception.engine.factory import BACKENDS
from hoi_perception.geometry.rotations import (
    axis_angle_to_matrix,
    invert_transform,
    matrix_to_rotation_6d_columns,
)
from hoi_perception.geometry.tf_buffer import TfBuffer, add_transform, lookup_or_none
from hoi_perception.imaging.encodings import ImageConversionError
from hoi_perception.imaging.rgbd import RgbdIngest
from hoi_perception.ros.conversions import matrix_from_pose, points_from_msgs, pose_from_matrix
from hoi_perception.ros.diagnostics import OK, WARN, DiagnosticsPublisher
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.parameters import Param, declare_parameters
from hoi_perception.ros.qos import TF_STATIC_LISTENER_QOS, reliable_qos
from hoi_perception.ros.synchronizer import SyncConfig, TopicSynchronizer
from hoi_perception.ros.tf import TransformBroadcaster, transform_stamped
from hoi_perception.ros.time import ns_from_stamp
from hoi_perception.scene.meshes import box_mesh, cylinder_mesh
from hoi_perception.sync.approximate import SyncedSet


def load_body_model(path: str, allow_pickle: bool) -> Any:
    """The user's SMPL file, or the synthetic SMPL-format body when none is named."""
    if path:
        from hoi_perception.smpl.model import load_smpl

        return load_smpl(path, allow_pickle=allow_pickle)
    from hoi_perception.smpl.synthetic import synthetic_smpl_model

    return synthetic_smpl_model()


def make_engine(model_path: str, backend: str) -> Any:
    from hoi_perception.engine import create_engine, load_contract

    contract = load_contract("coconet")
    if not model_path:
        from hoi_perception.coconet.standin import CocoNetStandIn

        return CocoNetStandIn(contract)
    if not Path(model_path).is_file():
        raise ValueError(f"parameter 'model_path' names {model_path!r}, which does not exist (engines/README.md)")
    return create_engine(model_path, contract, backend=backend)


def perturbation(seed: int, deg: float, metres: float) -> np.ndarray:
    """A fixed rigid perturbation (for a ground-truth object stream used as the initial estimate)."""
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    d = rng.normal(size=3)
    m = np.eye(4)
    m[:3, :3] = axis_angle_to_matrix(axis * np.radians(deg))
    m[:3, 3] = d / np.linalg.norm(d) * metres
    return m

PARAMETERS = (
    Param("model_path", "", "CoCoNet ONNX model or TensorRT plan meeting contracts/coconet.yaml; empty: STAND-IN "
          "(zero deltas)"),
    Param("engine", "auto", "engine backend for model_path", choices=BACKENDS),
    Param("smpl_model_path", "", "your licensed SMPL .npz (never shipped); empty: the synthetic SMPL-format body"),
    Param("smpl_allow_pickle", False, ".pkl SMPL model files are unpickled only when this is true"),
    Param("image_topic", "/zed/zed_node/left/image_rect_color", "RGB(A)/BGR(A) image topic"),
    Param("depth_topic", "/zed/zed_node/depth/depth_registered", "depth image topic registered to the image (m)"),
    Param("camera_info_topic", "/zed/zed_node/left/camera_info", "sensor_msgs/CameraInfo of the image"),
    Param("humans_topic", "/hoi/humans", "body_pose output: HumanPose3DArray (34 joints, camera frame)"),
    Param("objects_topic", "/hoi/objects_init", "ObjectPoseArray of the objects' initial poses"),
    Param("object_shapes", ["Box=box:0.40,0.36,0.30", "Bin=cylinder:0.22,0.65"],
          "render primitive per object_name: name=box:x,y,z or name=cylinder:radius,height [m]; an object "
          "without one is rendered as the box the objects node measured (object_extents_topic)"),
    Param("object_extents_topic", "/hoi/object_extents", "ObjectExtentArray beside objects_topic (objects_hands "
          "~/object_extents): measured boxes that render objects without an object_shapes entry; empty: off"),
    Param("object_extent_max_age_s", 1.0, "a measured box of the pose's track is used within this of the frame "
          "[s]", 0.0, 60.0),
    Param("object_name", "", "only this object; empty: the object nearest the hands"),
    Param("object_max_distance_m", 1.0, "hands -> object centre limit of the nearest-object rule [m]", 0.0, 10.0),
    Param("object_stamp_tolerance_s", 0.06, "object pose stamp tolerance to the frame [s]", 0.0, 10.0),
    Param("object_init_noise_deg", 0.0, "perturb the object stream by this rotation (ground truth used as the "
          "initial estimate) [deg]", 0.0, 180.0),
    Param("object_init_noise_m", 0.0, "perturb the object stream by this translation [m]", 0.0, 10.0),
    Param("window", 10, "T: frames per CoCoNet window (contract T max 180)", 1, 180),
    Param("stride", 10, "frames between window starts, at most window (= window: non-overlapping)", 1, 180),
    Param("object_rotation", "delta", "delta: the engine's rotation is a delta (CARI4D demo use_intermediate); "
          "abs: absolute (trainer compute_abspose)", choices=("delta", "abs")),
    Param("crop_scale", 1.1, "HOI crop: max side x this (CARI4D run_horefine.py)", 1.0, 4.0),
    Param("mask_margin_m", 0.06, "observed masks without segmentation: depth within this of the initial "
          "estimate [m]", 0.0, 1.0),
    Param("end_of_stream_s", 2.0, "no input for this long ends the stream (no frame built for this long while "
          "inputs come: a pause): the frames after the last window run as one shrunk window; 0: never (they are "
          "counted at shutdown) [s]", 0.0, 3600.0),
    Param("max_pending_windows", 2, "windows waiting for the engine; beyond, the oldest is dropped (counted)",
          1, 100),
    Param("frame_wait_s", 1.0, "a frame waits this long for its humans message [s]", 0.0, 60.0),
    Param("max_pending_frames", 30, "frames waiting for the per-frame path; beyond, the oldest is dropped",
          1, 10000),
    Param("publish_tf", True, "broadcast the refined object and human frames"),
    Param("publish_markers", True, "publish RViz markers of the refined bodies and objects"),
    Param("gt_humans_topic", "", "evaluation: ground-truth skeletons (e.g. /ground_truth/humans); empty: off"),
    Param("gt_objects_topic", "", "evaluation: ground-truth object poses; empty: off"),
    Param("report_json", "", "evaluation: write the error report here at shutdown; empty: none"),
)
SYNC_DEFAULTS = SyncConfig()


class CocoNetNode(Node):
    def __init__(self) -> None:
        super().__init__("coconet")
        declare_parameters(self, PARAMETERS)
        gp = self.get_parameter
        window, stride = int(gp("window").value), int(gp("stride").value)
        if stride > window:
            raise ValueError(f"stride must be in [1, window]; got window {window}, stride {stride}")
        mode = str(gp("object_rotation").value)
        self.shapes = RenderShapes(parse_object_shapes(list(gp("object_shapes").value)),
                                   int(float(gp("object_extent_max_age_s").value) * 1e9))
        self.shapes_logged: set[str] = set()
        self.end_of_stream_s = float(gp("end_of_stream_s").value)
        self._last_frame_mono = self._last_input_mono = 0.0
        self._meta: tuple[str, int, ObjectPose] | None = None
        self.body_model = load_body_model(str(gp("smpl_model_path").value), bool(gp("smpl_allow_pickle").value))
        self.engine = make_engine(str(gp("model_path").value), str(gp("engine").value))
        self.pipeline = CocoNetPipeline(self.body_model, self.engine, window, stride, mode,
                                        float(gp("crop_scale").value), float(gp("mask_margin_m").value))
        stand = "STAND-IN " if self.engine.is_stand_in else ""
        self.source = f"coconet:{stand}{self.engine.backend_name} body_model={self.body_model.name}"
        self.object_name = str(gp("object_name").value)
        self.object_max_distance = float(gp("object_max_distance_m").value)
        self.object_tol_ns = int(float(gp("object_stamp_tolerance_s").value) * 1e9)
        noise_deg, noise_m = float(gp("object_init_noise_deg").value), float(gp("object_init_noise_m").value)
        self.object_noise = perturbation(7, noise_deg, noise_m) if (noise_deg or noise_m) else None
        self.frame_wait_ns = int(float(gp("frame_wait_s").value) * 1e9)
        self.max_pending_frames = max(1, int(gp("max_pending_frames").value))
        self.static_tf = TfBuffer()
        self.rgbd = RgbdIngest(compute_xyz=False)
        self.camera_info: CameraInfo | None = None
        self.frames: dict[int, tuple[SyncedSet, Any]] = {}
        self.humans: dict[int, HumanPose3DArray] = {}
        self.objects: deque[ObjectPoseArray] = deque(maxlen=60)
        self.gt_humans: dict[int, HumanPose3DArray] = {}
        self.gt_objects: dict[int, ObjectPoseArray] = {}
        self.counters = {k: 0 for k in ("frames_in", "frames_built", "bad_input", "no_camera_info", "no_human",
                                        "no_object", "no_object_shape", "shape_measured", "no_transform",
                                        "fit_failed", "out_of_view", "windows_run", "tail_windows_run",
                                        "windows_dropped", "frames_published", "engine_errors",
                                        "frames_dropped_behind", "tail_frames_unpublished",
                                        "windows_not_run_at_close")}
        self.latency: dict[str, list[float]] = {k: [] for k in ("fit", "render", "engine", "decode", "window_total")}
        self.errors = BeforeAfter()
        self.lock = threading.Lock()
        self.frame_ready = threading.Event()

        topics = [(Image, gp("image_topic").value), (Image, gp("depth_topic").value)]
        self.sync = TopicSynchronizer(self, topics, self.on_set, SyncConfig.declare(self, "sync"))
        self.create_subscription(CameraInfo, str(gp("camera_info_topic").value), self.on_camera_info, reliable_qos(1))
        self.create_subscription(HumanPose3DArray, str(gp("humans_topic").value), self.on_humans, reliable_qos(30))
        self.create_subscription(ObjectPoseArray, str(gp("objects_topic").value),
                                 lambda m: self.objects.append(m), reliable_qos(30))
        if gp("object_extents_topic").value:
            self.create_subscription(ObjectExtentArray, str(gp("object_extents_topic").value), self.on_extents,
                                     reliable_qos(30))
        self.create_subscription(TFMessage, "/tf_static", self.on_tf_static, TF_STATIC_LISTENER_QOS)
        self.evaluate = bool(gp("gt_humans_topic").value) or bool(gp("gt_objects_topic").value)
        if gp("gt_humans_topic").value:
            self.create_subscription(HumanPose3DArray, str(gp("gt_humans_topic").value),
                                     lambda m: self.gt_humans.__setitem__(ns_from_stamp(m.header.stamp), m),
                                     reliable_qos(60))
        if gp("gt_objects_topic").value:
            self.create_subscription(ObjectPoseArray, str(gp("gt_objects_topic").value),
                                     lambda m: self.gt_objects.__setitem__(ns_from_stamp(m.header.stamp), m),
                                     reliable_qos(60))
        q = reliable_qos(10)
        self.pub_state = self.create_publisher(HoiStateArray, "~/hoi_state", q)
        self.pub_initial = self.create_publisher(HoiStateArray, "~/initial", q)
        self.pub_objects = self.create_publisher(ObjectPoseArray, "~/objects", q)
        self.pub_markers = self.create_publisher(MarkerArray, "~/markers", q) if gp("publish_markers").value else None
        self.tf = TransformBroadcaster(self) if gp("publish_tf").value else None
        self.diag = DiagnosticsPublisher(self)
        self.diag.add("windows", self.window_status)
        self.windows: queue.Queue = queue.Queue(maxsize=max(1, int(gp("max_pending_windows").value)))
        self._stop = threading.Event()
        self.worker = threading.Thread(target=self.window_worker, name="coconet_windows", daemon=True)
        self.worker.start()
        self.frame_thread = threading.Thread(target=self.frame_worker, name="coconet_frames", daemon=True)
        self.frame_thread.start()
        self.get_logger().info(f"{self.source}; T={window} stride={stride} object_rotation={mode}; "
                               f"humans {gp('humans_topic').value}, objects {gp('objects_topic').value}")

    # ------------------------------------------------------------------ inputs
    def on_camera_info(self, msg: CameraInfo) -> None:
        self.camera_info = msg

    def on_tf_static(self, msg: TFMessage) -> None:
        for t in msg.transforms:
            try:
                add_transform(self.static_tf, t, static=True)
            except ValueError as e:
                self.counters["bad_input"] += 1
                self.get_logger().warning(f"/tf_static: {e}")

    def on_set(self, s: SyncedSet) -> None:
        with self.lock:
            self.counters["frames_in"] += 1
            self.frames[s.stamp_ns] = (s, None)
        self._last_input_mono = time.monotonic()
        self.frame_ready.set()

    def on_extents(self, msg: ObjectExtentArray) -> None:
        stamp = ns_from_stamp(msg.header.stamp)
        with self.lock:
            for e in msg.extents:
                if not self.shapes.add_extent(stamp, int(e.track_id), str(e.object_name),
                                              (e.size.x, e.size.y, e.size.z), str(e.method)):
                    self.counters["bad_input"] += 1
            self.shapes.drop_older_than(stamp)

    def on_humans(self, msg: HumanPose3DArray) -> None:
        with self.lock:
            self.humans[ns_from_stamp(msg.header.stamp)] = msg
        self._last_input_mono = time.monotonic()
        self.frame_ready.set()

    def frame_worker(self) -> None:
        """The per-frame path on a thread of its own, so the executor keeps receiving
        images while a fit runs: process frames whose humans message has arrived, in
        stamp order; frames that wait too long, or pile up beyond max_pending_frames,
        are dropped and counted."""
        while not self._stop.is_set():
            if not self.frame_ready.wait(timeout=0.2):
                self._end_of_stream()
                continue
            self.frame_ready.clear()
            while True:
                with self.lock:
                    newest = max(list(self.frames) + list(self.humans), default=0)
                    ready = None
                    for stamp in sorted(self.frames):
                        if stamp in self.humans and (self._object_near(stamp) or newest - stamp > self.frame_wait_ns):
                            ready = (self.frames.pop(stamp)[0], self.humans.pop(stamp))
                            break
                        if newest - stamp > self.frame_wait_ns:
                            self.frames.pop(stamp)
                            self.counters["no_human"] += 1
                    for stamp in [h for h in self.humans if newest - h > self.frame_wait_ns]:
                        self.humans.pop(stamp)
                    while len(self.frames) > self.max_pending_frames:
                        self.frames.pop(min(self.frames))
                        self.counters["frames_dropped_behind"] += 1
                if ready is None:
                    break
                self._process_safe(*ready)

    def _process_safe(self, s: SyncedSet, humans: HumanPose3DArray) -> None:
        try:
            self.process(s, humans)
        except Exception as e:  # a bad frame is reported, the stream goes on
            self.counters["bad_input"] += 1
            self.get_logger().error(f"frame failed: {e!r}")

    def _end_of_stream(self) -> None:
        """Run the unpublished tail as one shrunk window when the stream has ended or paused.

        No input (images, humans) for end_of_stream_s: the stream has ended; frames still
        waiting (for an objects message, or for newer stamps to expire them) are processed
        now, or dropped as no_human, and the tail runs. Inputs still coming but no frame
        built for end_of_stream_s and none waiting: a pause; the tail runs too."""
        if self.end_of_stream_s <= 0:
            return
        now = time.monotonic()
        ended = now - self._last_input_mono >= self.end_of_stream_s
        with self.lock:
            if ended:
                left = [(self.frames.pop(st)[0], self.humans.pop(st, None)) for st in sorted(self.frames)]
                self.counters["no_human"] += sum(h is None for _, h in left)
            else:
                left = []
            waiting = bool(self.frames)
        for s, h in left:
            if h is not None:
                self._process_safe(s, h)
        if waiting or self.pipeline.pending_frames == 0:
            return
        if ended or now - self._last_frame_mono >= self.end_of_stream_s:
            due = self.pipeline.flush()
            if due is not None and self._meta is not None:  # _meta: set with the first frame built
                self._queue_window((due, *self._meta, True))

    def _queue_window(self, item: tuple) -> None:
        try:
            self.windows.put_nowait(item)
        except queue.Full:  # behind: drop the oldest window, keep the newest
            try:
                self.windows.get_nowait()
                self.counters["windows_dropped"] += 1
            except queue.Empty:
                pass
            self.windows.put_nowait(item)

    def _object_near(self, stamp_ns: int) -> bool:
        """An objects message within tolerance of the stamp has arrived (they may trail the humans)."""
        return any(abs(ns_from_stamp(m.header.stamp) - stamp_ns) <= self.object_tol_ns for m in list(self.objects))

    def object_for(self, stamp_ns: int, camera_frame: str, hands_cam: np.ndarray
                   ) -> tuple[ObjectPose, np.ndarray] | None | str:
        best = min(self.objects, key=lambda m: abs(ns_from_stamp(m.header.stamp) - stamp_ns), default=None)
        if best is None or abs(ns_from_stamp(best.header.stamp) - stamp_ns) > self.object_tol_ns:
            return None
        frame_from_cam = lookup_or_none(self.static_tf, best.header.frame_id, camera_frame) if best.header.frame_id != camera_frame else np.eye(4)
        if frame_from_cam is None:
            return "no_transform"
        cam_from_frame = invert_transform(frame_from_cam)
        cands = []
        for o in best.objects:
            if self.object_name and o.object_name != self.object_name:
                continue
            pose = cam_from_frame @ matrix_from_pose(o.pose)
            d = float(np.min(np.linalg.norm(hands_cam - pose[:3, 3], axis=1)))
            if self.object_name or d <= self.object_max_distance:
                cands.append((d, o, pose))
        if not cands:
            return None
        _, o, pose = min(cands, key=lambda c: c[0])
        if self.object_noise is not None:
            pose = pose @ self.object_noise
        return o, pose

    def process(self, s: SyncedSet, humans: HumanPose3DArray) -> None:
        if self.camera_info is None:
            self.counters["no_camera_info"] += 1
            return
        try:
            frame = self.rgbd.from_messages(s.messages[0], s.messages[1], self.camera_info)
        except ImageConversionError as e:
            self.counters["bad_input"] += 1
            self.get_logger().warning(f"bad input at {s.stamp_ns} ns: {e}", throttle_duration_sec=2.0)
            return
        if not humans.humans:
            self.counters["no_human"] += 1
            return
        h = max(humans.humans, key=lambda x: x.score)
        joints = points_from_msgs(h.joints)
        conf = np.asarray(h.joint_confidence, dtype=np.float64)
        if joints.shape != (34, 3) or conf.shape != (34,):
            self.counters["bad_input"] += 1
            self.get_logger().warning(f"humans message with {len(h.joints)} joints (34 expected)", throttle_duration_sec=2.0)
            return
        camera_frame = s.messages[0].header.frame_id
        from hoi_perception.skeleton.bodypose34 import JOINT_INDEX

        hands = joints[[JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]]]
        found = self.object_for(s.stamp_ns, camera_frame, hands)
        if found is None or isinstance(found, str):
            self.counters["no_transform" if found == "no_transform" else "no_object"] += 1
            return
        obj_msg, obj_pose = found
        with self.lock:
            choice = self.shapes.resolve(obj_msg.object_name, int(obj_msg.track_id), s.stamp_ns)
        if choice is None:
            self.counters["no_object_shape"] += 1
            self.get_logger().warning(f"no shape for object {obj_msg.object_name!r} (parameter object_shapes) and "
                                      f"no measured box of its track {obj_msg.track_id} (object_extents_topic)",
                                      throttle_duration_sec=5.0)
            return
        if choice.measured:
            self.counters["shape_measured"] += 1
            if obj_msg.object_name not in self.shapes_logged:  # once per object name
                self.shapes_logged.add(obj_msg.object_name)
                self.get_logger().info(f"object {obj_msg.object_name!r} has no object_shapes entry: rendering it as "
                                       f"the {choice.detail} (counted as shape_measured)")
        try:
            est, fit_ms = self.pipeline.initial_estimate(joints, conf, int(h.track_id), obj_pose, choice.shape,
                                                         choice.detail)
        except ValueError as e:
            self.counters["fit_failed"] += 1
            self.get_logger().warning(f"SMPL fit failed: {e}", throttle_duration_sec=2.0)
            return
        due = self.pipeline.add_frame(s.stamp_ns, frame.rgb, frame.depth, frame.k, est, fit_ms)
        if due is False:
            self.counters["out_of_view"] += 1
            return
        self.counters["frames_built"] += 1
        self._last_frame_mono = time.monotonic()
        self._meta = (camera_frame, int(h.track_id), obj_msg)
        if due:
            self._queue_window((due, camera_frame, int(h.track_id), obj_msg, False))

    # ------------------------------------------------------------------ windows
    def window_worker(self) -> None:
        while not self._stop.is_set():
            try:
                (frames, n_new), camera_frame, track_id, obj_msg, tail = self.windows.get(timeout=0.2)
            except queue.Empty:
                continue
            t0 = time.perf_counter()
            try:
                res = self.pipeline.run_window(frames, n_new)
            except Exception as e:  # a bad window is reported, the stream goes on
                self.counters["engine_errors"] += 1
                self.get_logger().error(f"window failed: {e!r}")
                continue
            self.publish(res, camera_frame, track_id, obj_msg)
            with self.lock:
                for k, v in res.timings_ms.items():
                    self.latency[k].append(v)
                self.latency["window_total"].append((time.perf_counter() - t0) * 1e3 + res.timings_ms["fit"]
                                                    + res.timings_ms["render"])
                self.counters["windows_run"] += 1
                self.counters["tail_windows_run"] += int(tail)
                self.counters["frames_published"] += len(res.frames)

    def state_msg(self, header: Header, track_id: int, obj_msg: ObjectPose, rotmats: np.ndarray, betas: np.ndarray,
                  transl: np.ndarray, obj_pose: np.ndarray, logits: np.ndarray | None, source: str) -> HoiState:
        smpl = SmplParams(track_id=track_id, gender="neutral",
                          pose_6d=matrix_to_rotation_6d_columns(rotmats).reshape(-1).astype(np.float32),
                          betas=np.asarray(betas, np.float32)[:10], translation=Vector3(x=float(transl[0]),
                                                                                        y=float(transl[1]),
                                                                                        z=float(transl[2])))
        obj = ObjectPose(header=header, track_id=obj_msg.track_id, object_name=obj_msg.object_name,
                         mesh_resource=obj_msg.mesh_resource, pose=pose_from_matrix(obj_pose), score=1.0, source=source)
        st = HoiState(header=header, smpl=smpl, object=obj, source=source)
        if logits is not None:
            prob = 1.0 / (1.0 + np.exp(-logits))
            st.left_hand_contact_prob, st.right_hand_contact_prob = float(prob[0]), float(prob[1])
            st.left_hand_contact, st.right_hand_contact = bool(logits[0] > 0), bool(logits[1] > 0)
        return st

    def publish(self, res: WindowResult, camera_frame: str, track_id: int, obj_msg: ObjectPose) -> None:
        from hoi_perception.ros.time import stamp_from_ns

        out, init, objs, tfs = HoiStateArray(), HoiStateArray(), ObjectPoseArray(), []
        markers = MarkerArray()
        for r, f in zip(res.frames, res.initial, strict=True):
            header = Header(frame_id=camera_frame, stamp=stamp_from_ns(r.stamp_ns))
            e = f.estimate
            st = self.state_msg(header, track_id, obj_msg, r.smpl_rotmats, r.betas, r.transl, r.obj_pose,
                                r.contact_logits, self.source)
            out.states.append(st)
            init.states.append(self.state_msg(header, track_id, obj_msg, e.smpl_rotmats, e.betas, e.transl,
                                              e.obj_pose, None, f"initial: fit to {self.body_model.name}; "
                                              f"object from {obj_msg.source or 'objects topic'}; rendered as {e.shape_source}; "
                                              f"masks {f.mask_source}"))
            objs.objects.append(st.object)
            if self.tf is not None:
                _, joints = self.body_model.forward(rotmats=r.smpl_rotmats, betas=r.betas, transl=r.transl)
                root = np.eye(4)
                root[:3, :3], root[:3, 3] = r.smpl_rotmats[0], joints[0]
                tfs.append(transform_stamped(camera_frame, f"coconet_human_{track_id}", r.stamp_ns, matrix=root))
                tfs.append(transform_stamped(camera_frame, f"coconet_object_{obj_msg.track_id}", r.stamp_ns,
                                             matrix=r.obj_pose))
            if self.evaluate:
                self.score(r, e, camera_frame)
        last = res.frames[-1]
        out.header = init.header = objs.header = Header(frame_id=camera_frame, stamp=stamp_from_ns(last.stamp_ns))
        self.pub_state.publish(out)
        self.pub_initial.publish(init)
        self.pub_objects.publish(objs)
        if tfs:
            self.tf.send_transform(tfs)
        if self.pub_markers is not None:
            markers.markers = self.mesh_markers(out.header, last, res.initial[-1].estimate.object_shape, track_id)
            self.pub_markers.publish(markers)

    def mesh_markers(self, header: Header, r: Any, shape: ObjectShape, track_id: int) -> list[Marker]:
        verts, _ = self.body_model.forward(rotmats=r.smpl_rotmats, betas=r.betas, transl=r.transl)
        body = Marker(header=header, ns="coconet_body", id=track_id, type=Marker.TRIANGLE_LIST, action=Marker.ADD)
        body.scale.x = body.scale.y = body.scale.z = 1.0
        body.pose.orientation.w = 1.0
        body.color = ColorRGBA(r=0.2, g=0.4, b=0.9, a=0.8)
        body.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in verts[self.body_model.faces.reshape(-1)]]
        v, f = box_mesh(shape.size, max_edge=1.0) if shape.kind == "box" else cylinder_mesh(shape.size[0], shape.size[1], max_edge=0.2)
        vo = v @ r.obj_pose[:3, :3].T + r.obj_pose[:3, 3]
        obj = Marker(header=header, ns="coconet_object", id=track_id, type=Marker.TRIANGLE_LIST, action=Marker.ADD)
        obj.scale = body.scale
        obj.pose.orientation.w = 1.0
        obj.color = ColorRGBA(r=0.8, g=0.55, b=0.2, a=0.9)
        obj.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in vo[f.reshape(-1)]]
        return [body, obj]

    # ------------------------------------------------------------------ evaluation
    def score(self, r: Any, e: Any, camera_frame: str) -> None:
        gt_h = self._nearest(self.gt_humans, r.stamp_ns)
        gt_o = self._nearest(self.gt_objects, r.stamp_ns)
        j_before = j_after = o_before = o_after = None
        if gt_h is not None and gt_h.humans:
            cam_from = self._cam_from(gt_h.header.frame_id, camera_frame)
            if cam_from is not None:
                gt_j = [points_from_msgs(h.joints) @ cam_from[:3, :3].T + cam_from[:3, 3] for h in gt_h.humans]
                ours = e.joints[0]
                gj = min(gt_j, key=lambda j: float(np.linalg.norm(j[0] - ours)))
                ids = self.pipeline.fitter.vertex_ids
                j_before = human_joint_error_mm(self.body_model, ids, e.smpl_rotmats, e.betas, e.transl, gj)
                j_after = human_joint_error_mm(self.body_model, ids, r.smpl_rotmats, r.betas, r.transl, gj)
        if gt_o is not None:
            cam_from = self._cam_from(gt_o.header.frame_id, camera_frame)
            if cam_from is not None and gt_o.objects:
                poses = [cam_from @ matrix_from_pose(o.pose) for o in gt_o.objects]
                g = min(poses, key=lambda m: float(np.linalg.norm(m[:3, 3] - e.obj_pose[:3, 3])))
                o_before, o_after = object_errors(e.obj_pose, g), object_errors(r.obj_pose, g)
        with self.lock:
            self.errors.add("before", j_before, o_before)
            self.errors.add("after", j_after, o_after)

    def _nearest(self, by_stamp: dict[int, Any], stamp_ns: int) -> Any:
        best = min(list(by_stamp), key=lambda t: abs(t - stamp_ns), default=None)
        return None if best is None or abs(best - stamp_ns) > self.object_tol_ns else by_stamp[best]

    def _cam_from(self, frame: str, camera_frame: str) -> np.ndarray | None:
        if frame == camera_frame:
            return np.eye(4)
        m = lookup_or_none(self.static_tf, frame, camera_frame)
        return None if m is None else invert_transform(m)

    # ------------------------------------------------------------------ reporting
    def window_status(self) -> tuple[bytes, str, dict[str, object]]:
        with self.lock:
            vals: dict[str, object] = dict(self.counters)
            for k, v in self.latency.items():
                vals[f"{k}_ms_p50"] = round(float(np.median(v)), 2) if v else -1
        vals["source"] = self.source
        level = WARN if (self.counters["windows_dropped"] or self.counters["bad_input"] or self.engine.is_stand_in) else OK
        return level, f"{self.counters['windows_run']} windows ({self.source})", vals

    def report(self) -> dict[str, Any]:
        with self.lock:
            lat = {k: {"p50": float(np.median(v)), "mean": float(np.mean(v)), "n": len(v)} for k, v in self.latency.items() if v}
            return {"source": self.source, "body_model": self.body_model.name, "engine": self.engine.backend_name,
                    "stand_in": self.engine.is_stand_in, "counters": dict(self.counters),
                    "window_latency_ms": lat, "render_shapes": self.shapes.summary(),
                    "errors": self.errors.summary() if self.evaluate else None}

    def close(self) -> None:
        self._stop.set()
        self.frame_thread.join(timeout=5.0)
        self.worker.join(timeout=5.0)
        with self.lock:  # the end of the stream that no window published (no end_of_stream_s pause came)
            self.counters["tail_frames_unpublished"] = self.pipeline.pending_frames
            self.counters["windows_not_run_at_close"] = self.windows.qsize()
        path = str(self.get_parameter("report_json").value)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(json.dumps(self.report(), indent=2))

    def summary(self) -> str:
        rep = self.report()
        lat = ", ".join(f"{k} {v['p50']:.1f}" for k, v in rep["window_latency_ms"].items())
        err = ""
        if rep["errors"]:
            e = rep["errors"]
            err = (f"; joint error before {e['joint_error_mm']['before']:.1f} mm / after {e['joint_error_mm']['after']:.1f} mm"
                   f" ({e['joint_error_mm']['frames']} frames); object {e['object_translation_error_m']['before']:.3f} m "
                   f"{e['object_rotation_error_deg']['before']:.1f} deg before / {e['object_translation_error_m']['after']:.3f} m "
                   f"{e['object_rotation_error_deg']['after']:.1f} deg after")
        return f"coconet summary: {self.source}; counters {rep['counters']}; window latency p50 ms: {lat or 'none'}{err}"


def main(argv: list[str] | None = None) -> int:
    return run_node(CocoNetNode, "coconet", lambda node: node.summary(), argv)


if __name__ == "__main__":
    sys.exit(main())
