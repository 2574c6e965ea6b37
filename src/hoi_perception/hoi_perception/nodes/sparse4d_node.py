"""Sparse4D node: one camera group (BEV group) -> 3D tracks in the world frame.

Thin shell over :class:`hoi_perception.sparse4d.Sparse4DTracker` (no tensor
layouts here): synchronizes the group's cameras (``/cameras/<name>/image_raw``,
"partial" stream policy: a dropped frame becomes None for that camera), takes
intrinsics from ``/cameras/<name>/camera_info`` and extrinsics world -> optical
frame from TF (/tf_static or /tf, looked up at the set's stamp by
geometry/tf_buffer.py; tf2_ros is not on PyPI) or from an MTMC
``calibration.json``, runs the tracker and publishes (the queue of sets waiting
for calibration and the stand-in's ground-truth pairing: sparse4d/set_queue.py):

* ``/hoi/tracks`` hoi_msgs/TrackedObject3DArray (frame ``world``, stamp of the set,
  ``source`` = the engine's backend name, ``camera_group`` set);
* ``/hoi/markers/tracks`` visualization_msgs/MarkerArray (DELETEALL, then per track a
  CUBE coloured by class with its yaw, a TEXT "id class", an ARROW for the velocity);
* optional TF ``world -> track_<id>`` per track (``publish_tf``);
* ``/diagnostics``: input rate and bad-input counters, and the latency split
  (preprocess = image conversion + core pre-processing, engine, instance bank +
  decoding, publishing).

``model_path`` empty: the engine is the labelled stand-in
(``stand-in:noisy-ground-truth``) fed from the bag's ``/ground_truth/tracks``; the
node's first log line says so. Every track it publishes carries that source.

Run::

    sparse4d_node --ros-args -p cameras:="[cam_00, cam_01]" -p model_path:=model.onnx

Bad input (unknown encoding, missing camera_info, broken transforms) is a log
line and a counter, never a crash. Ctrl-C prints a summary (frames, tracks,
resets, mean latency split).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import MarkerArray

from hoi_msgs.msg import TrackedObject3DArray
from hoi_perception.geometry.camera import PinholeCamera
from hoi_perception.imaging.encodings import ImageConversionError, image_to_numpy, to_rgb8
from hoi_perception.inputs.checks import DEFAULT_MAX_PIXELS, InputRejected, check_image_header, check_intrinsics
from hoi_perception.inputs.faults import FaultLedger
from hoi_perception.inputs.stream_watch import StreamWatch
from hoi_perception.ros.conversions import (
    gt_boxes_from_msg,
    track_to_msg,
)
from hoi_perception.ros.diagnostics import ERROR, OK, STALE, WARN, DiagnosticsPublisher, RateMonitor
from hoi_perception.ros.markers import track_markers
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.parameters import Param, check_topic_name, declare_parameters
from hoi_perception.ros.qos import reliable_qos, sensor_data_qos
from hoi_perception.ros.synchronizer import SyncConfig, TopicSynchronizer
from hoi_perception.ros.tf import TfListener, TransformBroadcaster, transform_stamped
from hoi_perception.ros.time import ns_from_stamp, stamp_from_ns
from hoi_perception.sparse4d import (
    GtBox,
    InstanceBankParams,
    Sparse4DParams,
    Sparse4DStandIn,
    Sparse4DTracker,
    StandInParams,
    StepResult,
    Track3D,
)
from hoi_perception.sparse4d.set_queue import (
    BuildTracker,
    CalibrationGate,
    Intrinsics,
    PendingSet,
    Problem,
    SetQueue,
    describe_lacking,
)
from hoi_perception.sync.approximate import SyncedSet
from hoi_perception.sync.nearest import NearestStampBuffer

TRACKS_TOPIC = "/hoi/tracks"
MARKERS_TOPIC = "/hoi/markers/tracks"
GT_TRACKS_TOPIC = "/ground_truth/tracks"

# The node's parameters and their defaults (the one place they live; config/sparse4d.yaml only holds
# values that differ).
PARAMETERS = (
    Param("cameras", ["cam_00", "cam_01", "cam_02", "cam_03"], "the camera group's cameras, in the order the "
          "model sees them (at most 20)"),
    Param("camera_group", "bev_group_0", "name of the camera (BEV) group, published in each track"),
    Param("image_topic", "/cameras/{camera}/image_raw", "image topic pattern; {camera} is each camera's name"),
    Param("camera_info_topic", "/cameras/{camera}/camera_info", "camera_info topic pattern; {camera} as above"),
    Param("image_reliability", "best_effort", "best_effort matches every camera driver; reliable loses no frame of "
          "a reliable publisher (the bag player)", choices=("best_effort", "reliable")),
    Param("model_path", "", "ONNX model or TensorRT plan satisfying the sparse4d contract; EMPTY = the labelled "
          "noisy-ground-truth STAND-IN fed from standin_gt_topic"),
    Param("backend", "auto", "engine backend (auto, onnxruntime, tensorrt or onnxruntime:<provider>)"),
    Param("num_threads", 0, "pre-processing threads, 0 = one per camera", 0, 256),
    Param("world_frame", "world", "frame of the published tracks; camera extrinsics are looked up in TF from it"),
    Param("calibration_path", "", "an MTMC_Tracking_2025 calibration.json giving intrinsics and extrinsics "
          "(camera names = its sensor ids) instead of camera_info and TF"),
    Param("origin_xy", [0.0, 0.0], "BEV group origin [x, y] of a recentred model (config/camera_groups.yaml)"),
    Param("score_threshold", 0.2, "cls score a track needs to be reported (TAO tracking_threshold)", 0.0, 1.0),
    Param("reset_gap_s", 2.0, "a gap longer than this resets the instance bank (time backwards always does), "
          "seconds", 0.001, 3600.0),
    Param("tracks_topic", TRACKS_TOPIC, "hoi_msgs/TrackedObject3DArray output"),
    Param("markers_topic", MARKERS_TOPIC, "visualization_msgs/MarkerArray output"),
    Param("publish_markers", True, "publish track markers"),
    Param("publish_tf", False, "broadcast world -> track_<id> per track on /tf"),
    Param("report_period_s", 5.0, "progress log line period, seconds (0: none)", 0.0, 3600.0),
    Param("report_path", "", "write the summary (counters, latency split, resets) as JSON here at shutdown"),
    Param("standin_gt_topic", GT_TRACKS_TOPIC, "stand-in only: ground-truth TrackedObject3DArray topic"),
    Param("standin_gt_tolerance_s", 0.02, "stand-in only: ground truth within this of the set's stamp is its "
          "frame, seconds", 1e-6, 10.0),
    Param("max_pending_sets", 10, "sets held while calibration (or the stand-in's ground truth) is on the way",
          1, 10000),
    Param("max_image_pixels", DEFAULT_MAX_PIXELS, "images with more pixels (width x height) are rejected from "
          "their header, before any conversion (0: no limit)", 0, 2**31 - 1),
    Param("camera_stopped_after_s", 1.0, "a camera silent this long while it sent before is reported stopped "
          "(one log line, its /diagnostics status WARN, STALE after 5 s), seconds", 0.05, 3600.0),
    Param("standin_seed", 0, "stand-in only: random seed", 0, 2**31 - 1),
    Param("standin_dropout_prob", 0.05, "stand-in only: probability an object is missed in a frame", 0.0, 1.0),
    Param("standin_pos_sigma_m", 0.05, "stand-in only: position noise, metres", 0.0, 100.0),
)
# the cameras of one set lie within 50 ms; a dropped camera frame becomes None, not a stall;
# a bag loop resets the synchronizer instead of stalling it
SYNC_DEFAULTS = SyncConfig(queue_size=10, qos_depth=5, max_interval_s=0.05, age_penalty=0.1,
                           stream_policy="partial", stream_timeout_s=0.5, reset_threshold_s=1.0)

# input rates count arrivals of the last 2 s once a stream pauses, and turn STALE after 3 s of silence
INPUT_HORIZON_S = 2.0
INPUT_STALE_S = 3.0

# ------------------------------------------------------------------ latency bookkeeping


@dataclass
class LatencyStats:
    """Sums of the per-frame latency split (ms) for means."""

    keys: tuple[str, ...] = ("preprocess_ms", "engine_ms", "bank_decode_ms", "publish_ms", "total_ms")
    sums: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    count: int = 0

    def add(self, values: dict[str, float]) -> None:
        self.count += 1
        for k in self.keys:
            self.sums[k] = self.sums.get(k, 0.0) + float(values.get(k, 0.0))
        self.last = dict(values)

    def mean(self) -> dict[str, float]:
        return {k: (self.sums.get(k, 0.0) / self.count if self.count else 0.0) for k in self.keys}


# ------------------------------------------------------------------ the node


class Sparse4DNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sparse4d_node", **kwargs)
        v = declare_parameters(self, PARAMETERS)
        self.cameras = [str(c) for c in v["cameras"]]
        self.camera_group = str(v["camera_group"])
        self.model_path = str(v["model_path"])
        self.backend = str(v["backend"])
        self.world_frame = str(v["world_frame"])
        self.calibration_path = str(v["calibration_path"])
        self.image_topic_fmt = str(v["image_topic"])
        self.info_topic_fmt = str(v["camera_info_topic"])
        self.tracks_topic = str(v["tracks_topic"])
        self.markers_topic = str(v["markers_topic"])
        self.publish_markers = bool(v["publish_markers"])
        self.publish_tf = bool(v["publish_tf"])
        self.score_threshold = float(v["score_threshold"])
        self.reset_gap_s = float(v["reset_gap_s"])
        origin = [float(x) for x in v["origin_xy"]]
        num_threads = int(v["num_threads"])
        self.gt_topic = str(v["standin_gt_topic"])
        self.gt_tolerance_ns = int(float(v["standin_gt_tolerance_s"]) * 1e9)
        self.max_pending = int(v["max_pending_sets"])
        standin_seed = int(v["standin_seed"])
        standin_dropout = float(v["standin_dropout_prob"])
        standin_pos_sigma = float(v["standin_pos_sigma_m"])
        report_period = float(v["report_period_s"])
        self.report_path = str(v["report_path"])
        self.image_reliability = str(v["image_reliability"])
        self.max_image_pixels = int(v["max_image_pixels"])
        self._validate(origin, num_threads, standin_dropout, standin_pos_sigma, report_period)
        # every parameter is checked before the first log line, so a bad one is the only line
        sync_cfg = SyncConfig.declare(self, "sync", SYNC_DEFAULTS)
        self.standin = not self.model_path

        log = self.get_logger()
        # The FIRST log line says what produces the tracks.
        if self.standin:
            log.warning(
                "STAND-IN: model_path is empty, so this node runs the noisy-ground-truth stand-in "
                f"('stand-in:noisy-ground-truth') fed from {self.gt_topic}, not a Sparse4D network (no TAO "
                "weights are available here); every track it publishes says so in its source")

        self.tracker_params = Sparse4DParams(
            score_threshold=self.score_threshold,
            bank=InstanceBankParams(reset_gap_s=self.reset_gap_s, origin_xy=(origin[0], origin[1])),
            num_threads=num_threads or None,
        )
        self.contract: Any = None
        self._gt_current: list[GtBox] = []
        if self.standin:
            self.engine: Any = Sparse4DStandIn(
                lambda: self._gt_current,
                StandInParams(seed=standin_seed, dropout_prob=standin_dropout, pos_sigma_m=standin_pos_sigma,
                              origin_xy=(origin[0], origin[1])))
        else:
            from hoi_perception.engine import create_engine, load_contract

            path = Path(self.model_path).expanduser()
            if not path.exists():
                raise ValueError(f"model_path {path} does not exist")
            self.contract = load_contract("sparse4d")
            self.engine = create_engine(str(path), self.contract, backend=self.backend)
            log.info(f"Sparse4D engine from {self.model_path} (backend {self.backend})")
        self.source = str(getattr(self.engine, "backend_name", "unknown"))

        # state
        self.tracker: Sparse4DTracker | None = None
        self.calibration: dict[str, PinholeCamera] = {}
        self._partial_bank_warned = False
        self.counters: dict[str, int] = {
            "sets": 0, "partial_sets": 0, "frames": 0, "tracks": 0, "resets": 0, "bad_encoding": 0,
            "bad_image": 0, "size_mismatch": 0, "missing_camera_info": 0, "bad_camera_info": 0,
            "no_extrinsics": 0, "bad_transform": 0, "engine_errors": 0, "gt_unmatched": 0, "gt_frames": 0,
            "tracker_rebuilds": 0, "sync_callback_errors": 0,
        }
        self.reset_log: list[tuple[int, str]] = []
        self.track_ids: set[int] = set()
        self.latency = LatencyStats()
        # a stopped stream reads 0 Hz within INPUT_HORIZON_S and STALE after INPUT_STALE_S
        self.input_rate = RateMonitor(horizon_s=INPUT_HORIZON_S, stale_after_s=INPUT_STALE_S)
        self.output_rate = RateMonitor()
        self._last_gt_ns: int | None = None
        self._last_set_ns: int | None = None
        # every refused input and dropped set counted by reason, logged first then every 10 s
        self.faults = FaultLedger()
        self.watch = StreamWatch(self.cameras, float(v["camera_stopped_after_s"]))
        self.camera_rates = {c: RateMonitor(horizon_s=INPUT_HORIZON_S, stale_after_s=INPUT_STALE_S)
                             for c in self.cameras}

        if self.calibration_path:
            self._load_calibration(self.calibration_path)
        # extrinsics world -> each camera's optical frame from /tf and /tf_static (over time)
        # (a transform arriving late releases the sets waiting for it)
        self.tf_listener = TfListener(self, on_update=self._flush_pending)
        self.gate = CalibrationGate(self.cameras, self.world_frame, self.tf_listener.buffer, self.calibration)
        self.gate.refused_transforms = self.tf_listener.refused  # shared: refusals name what a camera lacks
        self.queue = SetQueue(self.gate, self.max_pending,
                              NearestStampBuffer(self.gt_tolerance_ns, maxlen=64) if self.standin else None)

        qos_out = reliable_qos(10)
        self.pub_tracks = self.create_publisher(TrackedObject3DArray, self.tracks_topic, qos_out)
        self.pub_markers = self.create_publisher(MarkerArray, self.markers_topic, qos_out) if self.publish_markers \
            else None
        self.tf_broadcaster = TransformBroadcaster(self) if self.publish_tf else None

        depth = max(1, int(sync_cfg.qos_depth))
        image_qos = reliable_qos(depth) if self.image_reliability == "reliable" else sensor_data_qos(depth)
        for cam in self.cameras:
            self.create_subscription(CameraInfo, self.info_topic_fmt.format(camera=cam),
                                     lambda m, cam=cam: self.on_camera_info(cam, m), image_qos)
        if self.standin:
            self.create_subscription(TrackedObject3DArray, self.gt_topic, self.on_ground_truth, reliable_qos(50))
        if sync_cfg.stream_policy != "partial":
            log.warning(f"sync.stream_policy={sync_cfg.stream_policy!r}: a dropped camera frame will stall sets; "
                        "'partial' is the intended policy")
        self.sync = TopicSynchronizer(
            self, [(Image, self.image_topic_fmt.format(camera=c)) for c in self.cameras], self.on_set, sync_cfg,
            qos=image_qos, admit=self._admit_image)

        self.diagnostics = DiagnosticsPublisher(self)
        self.diagnostics.add("input", self._input_status)
        for cam in self.cameras:
            self.diagnostics.add(f"camera {cam}", lambda cam=cam: self._camera_status(cam))
        self.create_timer(min(1.0, self.watch.stopped_after_s / 2), self._check_streams)
        self.diagnostics.add("latency", self._latency_status)
        self.diagnostics.add("output", self.output_rate.status)
        if report_period > 0:
            self.create_timer(report_period, self._log_progress)
        log.info(f"camera group {self.camera_group}: {len(self.cameras)} cameras ({', '.join(self.cameras)}); "
                 f"publishing {self.tracks_topic} in frame {self.world_frame}, source {self.source!r}")

    # ---------------------------------------------------------------- parameters

    def _validate(self, origin: list[float], num_threads: int, dropout: float, sigma: float, period: float) -> None:
        if not self.cameras:
            raise ValueError("parameter 'cameras' must name at least one camera")
        if len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"parameter 'cameras' lists a camera twice: {self.cameras}")
        if len(self.cameras) > 20:
            raise ValueError(f"at most 20 cameras per group (sparse4d contract), got {len(self.cameras)}")
        if self.backend not in ("auto", "onnxruntime", "tensorrt") and not self.backend.startswith("onnxruntime:"):
            raise ValueError(f"parameter 'backend' must be auto|onnxruntime|tensorrt, got {self.backend!r}")
        if len(origin) != 2:
            raise ValueError(f"parameter 'origin_xy' must have 2 values, got {origin}")
        if not 0.0 <= self.score_threshold <= 1.0:
            raise ValueError(f"parameter 'score_threshold' must be in [0, 1], got {self.score_threshold}")
        if self.reset_gap_s <= 0:
            raise ValueError(f"parameter 'reset_gap_s' must be > 0, got {self.reset_gap_s}")
        if num_threads < 0:
            raise ValueError("parameter 'num_threads' must be >= 0 (0: one per camera)")
        if not 0.0 <= dropout <= 1.0 or sigma < 0:
            raise ValueError("standin_dropout_prob must be in [0, 1] and standin_pos_sigma_m >= 0")
        if self.gt_tolerance_ns <= 0 or self.max_pending < 1:
            raise ValueError("standin_gt_tolerance_s must be > 0 and max_pending_sets >= 1")
        if period < 0:
            raise ValueError("report_period_s must be >= 0")
        if self.image_reliability not in ("best_effort", "reliable"):
            raise ValueError(f"image_reliability must be best_effort or reliable, got {self.image_reliability!r}")
        for param, fmt in (("image_topic", self.image_topic_fmt), ("camera_info_topic", self.info_topic_fmt)):
            if "{camera}" not in fmt:
                raise ValueError(f"topic pattern {fmt!r} must contain '{{camera}}'")
            for cam in self.cameras:
                check_topic_name(self, param, fmt.format(camera=cam))
        for param, topic in (("tracks_topic", self.tracks_topic), ("markers_topic", self.markers_topic),
                             ("standin_gt_topic", self.gt_topic)):
            check_topic_name(self, param, topic)

    def _load_calibration(self, path: str) -> None:
        from hoi_perception.mtmc import read_calibration

        sensors = read_calibration(path)
        missing = [c for c in self.cameras if c not in sensors]
        if missing:
            raise ValueError(f"calibration {path} has no camera {missing}; it has {sorted(sensors)}")
        for c in self.cameras:
            cam = sensors[c].camera
            self.calibration[c] = PinholeCamera(c, cam.width, cam.height, cam.k, cam.world_from_camera)
        self.get_logger().info(f"intrinsics and extrinsics of {len(self.cameras)} cameras from {path}")

    # ---------------------------------------------------------------- callbacks

    def _count(self, key: str, message: str, once_key: str | None = None) -> None:
        """Count under ``key``; log the first one of ``once_key`` (default: key), then at most every 10 s."""
        self.counters[key] = self.counters.get(key, 0) + 1
        if self.faults.reject(once_key or key):
            self.get_logger().warning(f"{message} (counted as '{key}', {self.counters[key]} so far; repeats are "
                                      "logged at most every 10 s)")

    def _admit_image(self, stream: int, msg: Image) -> bool:
        """Header checks before the synchronizer queues an image: a 0x0, oversized or frame_id-less image of
        one camera is refused here (its set goes on partial) and never converted."""
        cam = self.cameras[stream]
        self.watch.seen(cam)
        self.camera_rates[cam].tick()
        try:
            check_image_header(msg, self.max_image_pixels, self.image_topic_fmt.format(camera=cam))
        except InputRejected as exc:
            self.camera_rates[cam].errors += 1
            self._count(exc.reason, f"{cam}: image refused: {exc}", f"{exc.reason}:{cam}")
            return False
        return True

    def _check_streams(self) -> None:
        changes = self.watch.check()
        if changes and all(ch.stopped for ch in changes) and len(self.watch.stopped) == len(self.cameras):
            self.get_logger().warning(f"all cameras stopped: no image for {max(c.silent_s for c in changes):.1f} s "
                                      f"({', '.join(c.name for c in changes)} just now)")
            return
        for ch in changes:
            others = [c for c in self.cameras if c != ch.name and c not in self.watch.stopped
                      and self.watch.silent_s(c) is not None]
            if ch.stopped:
                self.get_logger().warning(
                    f"camera {ch.name} stopped: no image for {ch.silent_s:.1f} s"
                    + (f"; sets go on without it from {', '.join(others)}" if others else "; no camera is sending"))
            else:
                self.get_logger().info(f"camera {ch.name} is sending again")

    def _camera_status(self, cam: str) -> tuple[bytes, str, dict[str, object]]:
        level, message, values = self.camera_rates[cam].status()
        silent = self.watch.silent_s(cam)
        intr = self.gate.intrinsics.get(cam)
        values["camera_info"] = f"{intr.width}x{intr.height} {intr.frame_id}" if intr else "none"
        if cam in self.gate.rejected_info:
            values["camera_info_refused"] = self.gate.rejected_info[cam]
        if cam in self.watch.stopped and level != STALE and silent is not None:
            return WARN, f"stopped: no image for {silent:.1f} s", values
        if level == OK and intr is None:
            return WARN, "no valid camera_info", values
        return level, message, values

    def on_camera_info(self, cam: str, msg: CameraInfo) -> None:
        try:
            checked = check_intrinsics(msg.k, int(msg.width), int(msg.height), cam)
        except InputRejected as exc:
            # refused per camera; the last good intrinsics stay and the tracker is not rebuilt
            self.gate.rejected_info[cam] = str(exc)
            self._count("bad_camera_info", f"{cam}: camera_info refused: {exc}", f"bad_camera_info:{cam}")
            return
        intr = Intrinsics(checked.k, checked.width, checked.height,
                          str(msg.header.frame_id) or f"{cam}_optical_frame")
        old = self.gate.intrinsics.get(cam)
        if old is not None and old.same(intr):
            return
        if self.gate.set_intrinsics(cam, intr) and self.tracker is not None and not self.calibration:
            self.get_logger().warning(f"{cam}: camera_info changed ({old.width}x{old.height} -> "
                                      f"{intr.width}x{intr.height}); rebuilding the tracker (instance bank reset)")
            self._close_tracker()
        self._flush_pending()

    def on_ground_truth(self, msg: TrackedObject3DArray) -> None:
        stamp = ns_from_stamp(msg.header.stamp)
        gt = self.queue.ground_truth
        assert gt is not None
        if self._last_gt_ns is not None and stamp < self._last_gt_ns - self.gt_tolerance_ns:
            self.get_logger().info("ground truth went back in time (bag loop?): stand-in buffer cleared")
            gt.clear()
        if self._last_gt_ns is None:
            self.get_logger().info(f"first ground truth for the stand-in at stamp {stamp}")
        self._last_gt_ns = stamp
        self.counters["gt_frames"] += 1
        gt.add(stamp, gt_boxes_from_msg(msg, self.cameras))
        self._flush_pending()

    def _flush_pending(self) -> None:
        """Step the sets the queue releases (core: sparse4d/set_queue.py)."""
        for ev in self.queue.drain():
            if isinstance(ev, Problem):
                self._count(ev.counter, ev.message)
            elif isinstance(ev, BuildTracker):
                self._close_tracker()
                self.queue.tracker_ready = True
                self.tracker = Sparse4DTracker(self.engine, ev.cameras, self.tracker_params, contract=self.contract)
                self.counters["tracker_rebuilds"] += 1
                self.get_logger().info(
                    "tracker ready: " + ", ".join(f"{c.name} {c.width}x{c.height}" for c in ev.cameras))
            else:
                if ev.ground_truth is not None:
                    self._gt_current[:] = ev.ground_truth
                self._process(ev.pending.stamp_ns, ev.pending.images, ev.pending.decode_ms)

    def _decode(self, cam: str, msg: Image | None) -> np.ndarray | None:
        if msg is None:
            return None
        try:
            enc = str(msg.encoding)
            arr = image_to_numpy(msg)
            img = arr if enc == "rgb8" else to_rgb8(arr, enc)
        except ImageConversionError as exc:
            key = "bad_encoding" if exc.reason in ("unknown_encoding", "not_colour") else "bad_image"
            self._count(key, f"{cam}: image dropped: {exc}", f"{key}:{cam}")
            return None
        except (ValueError, KeyError) as exc:
            self._count("bad_encoding", f"{cam}: image dropped: {exc}", f"bad_encoding:{cam}")
            return None
        info = self.gate.intrinsics.get(cam)
        if info is not None and (img.shape[1], img.shape[0]) != (info.width, info.height):
            self._count("size_mismatch", f"{cam}: image {img.shape[1]}x{img.shape[0]} but camera_info "
                        f"{info.width}x{info.height} (resized anyway)", f"size_mismatch:{cam}")
        return img

    def _close_tracker(self) -> None:
        if self.tracker is not None:
            self.tracker.close()
            self.tracker = None
        self.queue.invalidate()

    def on_set(self, s: SyncedSet) -> None:
        t0 = time.perf_counter()
        self.counters["sets"] += 1
        self._last_set_ns = int(s.stamp_ns)
        if s.missing:
            self.counters["partial_sets"] += 1
        images = [self._decode(c, m) for c, m in zip(self.cameras, s.messages, strict=True)]
        decode_ms = (time.perf_counter() - t0) * 1e3
        self.input_rate.tick()
        if all(im is None for im in images):
            self.input_rate.errors += 1
        self.queue.push(PendingSet(int(s.stamp_ns), images, decode_ms))
        self._flush_pending()

    def _process(self, stamp_ns: int, images: list[np.ndarray | None], decode_ms: float) -> None:
        assert self.tracker is not None
        res: StepResult = self.tracker.step(images, stamp_ns)
        self.counters["frames"] += 1
        if not res.ok:
            self.counters["engine_errors"] += 1
            self.output_rate.errors += 1
        if res.reset_reason is not None:
            self.counters["resets"] += 1
            self.reset_log.append((stamp_ns, res.reset_reason))
            why = "time went backwards (bag loop?)" if res.reset_reason == "time_backwards" else res.reset_reason
            self.get_logger().info(f"instance bank reset at stamp {stamp_ns}: {why}")
        t_pub = time.perf_counter()
        self.publish(stamp_ns, res.tracks)
        publish_ms = (time.perf_counter() - t_pub) * 1e3
        split = {
            "preprocess_ms": decode_ms + res.timing.preprocess_ms,
            "engine_ms": res.timing.engine_ms,
            "bank_decode_ms": res.timing.bank_decode_ms,
            "publish_ms": publish_ms,
        }
        split["total_ms"] = sum(split.values())
        self.latency.add(split)
        self.output_rate.tick(split["total_ms"])

    def publish(self, stamp_ns: int, tracks: Sequence[Track3D]) -> None:
        arr = TrackedObject3DArray()
        arr.header.stamp = stamp_from_ns(stamp_ns)
        arr.header.frame_id = self.world_frame
        arr.source = self.source
        arr.objects = [track_to_msg(t, self.camera_group) for t in tracks]
        self.pub_tracks.publish(arr)
        self.counters["tracks"] += len(tracks)
        self.track_ids.update(int(t.track_id) for t in tracks)
        if self.pub_markers is not None:
            self.pub_markers.publish(track_markers(tracks, self.world_frame, stamp_ns))
        if self.tf_broadcaster is not None and tracks:
            self.tf_broadcaster.send_transform([
                transform_stamped(self.world_frame, f"track_{t.track_id}", stamp_ns, translation=t.position,
                                  quaternion_xyzw=t.quaternion_xyzw) for t in tracks])

    # ---------------------------------------------------------------- diagnostics and report

    def _bad_inputs(self) -> int:
        self.counters["bad_transform"] = self.tf_listener.invalid
        return sum(self.counters.get(k, 0) for k in ("bad_encoding", "bad_image", "bad_camera_info", "bad_transform",
                                                     "empty_image", "empty_frame_id", "image_too_large"))

    def _input_status(self) -> tuple[bytes, str, dict[str, object]]:
        st = self.sync.stats()
        hz = self.input_rate.rate_hz()
        values: dict[str, object] = {"rate_hz": hz, "sync_resets": st.resets, "sync_dropped": st.dropped_total()}
        values.update(self.counters)
        drops = self.drops_by_reason()
        values["dropped"] = sum(drops.values())
        values.update({f"dropped.{r}": n for r, n in sorted(drops.items())})
        if self.counters["sets"] == 0:
            return STALE, "no synchronized set yet", values
        rate_level, rate_message, _ = self.input_rate.status()
        if rate_level == STALE:
            return STALE, rate_message, values
        if self.tracker is None:
            lacking = self.gate.lacking(self._last_set_ns or 0)
            return ERROR, ("camera group cannot run: " + describe_lacking(lacking)) if lacking else \
                "waiting for calibration", values
        if self.watch.stopped:
            return WARN, f"cameras stopped: {', '.join(sorted(self.watch.stopped))}; {hz:.1f} sets/s", values
        bad = self._bad_inputs()
        if bad:
            return WARN, f"{bad} bad inputs", values
        return OK, f"{hz:.1f} sets/s", values

    def drops_by_reason(self) -> dict[str, int]:
        """Images and sets not processed, by reason: refused images, sets dropped while the group lacked
        calibration, the synchronizer's drops (sync.<reason>) and DDS losses."""
        out = {r: self.counters.get(r, 0) for r in ("empty_image", "empty_frame_id", "image_too_large",
                                                     "missing_camera_info", "no_extrinsics")
               if self.counters.get(r, 0)}
        out.update({f"sync.{r}": sum(c) for r, c in self.sync.stats().dropped.items() if sum(c)})
        not_taken = sum(self.sync.not_taken)  # publisher sequence gaps: overwritten while busy, or lost
        if not_taken:
            out["busy"] = not_taken
        return out

    def _latency_status(self) -> tuple[bytes, str, dict[str, object]]:
        mean = self.latency.mean()
        values: dict[str, object] = {f"{k}_mean": v for k, v in mean.items()}
        values.update({f"{k}_last": v for k, v in self.latency.last.items()})
        values["frames"] = self.latency.count
        values["source"] = self.source
        if not self.latency.count:
            return WARN, "no frame processed yet", values
        partial = self.tracker.bank.counters.get("partial_bank", 0) if self.tracker is not None else 0
        values["partial_bank"] = partial
        if partial:
            # Frames after these ran without temporal queries: ids cannot carry over through the model.
            if not self._partial_bank_warned:
                self._partial_bank_warned = True
                self.get_logger().warning(
                    "instance bank: the engine returned fewer than 600 cached rows and no output_cached_anchor/"
                    "feature, so frames run without the previous frame's queries (prev_exists=0); export the "
                    "model with its cached outputs (engines/README.md)")
            return WARN, (f"{partial} frame(s) left the next frame without temporal queries (partial instance "
                          f"bank); preprocess {mean['preprocess_ms']:.1f} ms"), values
        return OK, (f"preprocess {mean['preprocess_ms']:.1f} ms, engine {mean['engine_ms']:.1f} ms, bank+decode "
                    f"{mean['bank_decode_ms']:.1f} ms, publish {mean['publish_ms']:.1f} ms"), values

    def _log_progress(self) -> None:
        m = self.latency.mean()
        self.get_logger().info(
            f"{self.counters['frames']} frames, {self.counters['tracks']} tracks ({len(self.track_ids)} ids), "
            f"{self.counters['resets']} resets, mean {m['total_ms']:.1f} ms/frame")

    def report(self) -> dict[str, Any]:
        self.counters["bad_transform"] = self.tf_listener.invalid
        st = self.sync.stats()
        rep: dict[str, Any] = {"camera_group": self.camera_group, "source": self.source, **self.counters,
                               "track_ids": len(self.track_ids), "sync_resets": st.resets,
                               "received": dict(zip(self.cameras, st.received, strict=True)),
                               "sync_dropped": st.dropped_total(), "dropped": self.drops_by_reason(),
                               "cameras_stopped": sorted(self.watch.stopped), "camera_stops": self.watch.stops,
                               "lacking": self.gate.lacking(self._last_set_ns or 0) if self.tracker is None else {},
                               "latency_ms_mean": {k: round(v, 3) for k, v in self.latency.mean().items()},
                               "resets_at": [{"stamp_ns": s, "reason": r} for s, r in self.reset_log]}
        if self.tracker is not None:
            rep["preprocess_counters"] = dict(self.tracker.preprocess.counters)
            rep["bank_counters"] = dict(self.tracker.bank.counters)
        return rep

    def close(self) -> None:
        # Sets still waiting for their ground truth are not stepped: the context may be shut down already.
        self.counters["pending_at_shutdown"] = self.queue.clear()
        self._close_tracker()


def format_report(rep: dict[str, Any]) -> str:
    lat = rep["latency_ms_mean"]
    lines = [
        f"sparse4d_node summary ({rep['camera_group']}, source {rep['source']})",
        f"  frames {rep['frames']} of {rep['sets']} synchronized sets ({rep['partial_sets']} partial), "
        f"tracks {rep['tracks']} ({rep['track_ids']} ids), resets {rep['resets']}"
        + (" [" + ", ".join(r["reason"] for r in rep["resets_at"]) + "]" if rep["resets_at"] else ""),
        "  images received: " + ", ".join(f"{c} {n}" for c, n in rep["received"].items())
        + f"; {rep['sync_dropped']} dropped by the synchronizer, {rep['sync_resets']} synchronizer resets",
        f"  mean latency per frame: preprocess {lat['preprocess_ms']:.2f} ms | engine {lat['engine_ms']:.2f} ms | "
        f"instance bank + decoding {lat['bank_decode_ms']:.2f} ms | publishing {lat['publish_ms']:.2f} ms | "
        f"total {lat['total_ms']:.2f} ms",
    ]
    bad = {k: rep[k] for k in ("bad_encoding", "bad_image", "size_mismatch", "missing_camera_info",
                               "bad_camera_info", "no_extrinsics", "bad_transform", "engine_errors",
                               "gt_unmatched", "sync_callback_errors", "empty_image", "empty_frame_id",
                               "image_too_large") if rep.get(k)}
    lines.append("  bad input / skipped: " + (", ".join(f"{k}={v}" for k, v in bad.items()) if bad else "none"))
    if rep.get("lacking"):
        lines.append("  camera group could not run: " + describe_lacking(rep["lacking"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return run_node(Sparse4DNode, "sparse4d_node", lambda node: format_report(node.report()), argv,
                    json_report=Sparse4DNode.report)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Sparse4DNode", "main"]
