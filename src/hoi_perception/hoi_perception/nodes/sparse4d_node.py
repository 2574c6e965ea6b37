"""Sparse4D node: one camera group (BEV group) -> 3D tracks in the world frame.

Thin shell over :class:`hoi_perception.sparse4d.Sparse4DTracker` (no tensor
layouts here): synchronizes the group's cameras (``/cameras/<name>/image_raw``,
"partial" stream policy: a dropped frame becomes None for that camera), takes
intrinsics from ``/cameras/<name>/camera_info`` and extrinsics world -> optical
frame from ``/tf_static`` (read here, tf2_ros is not available) or from an MTMC
``calibration.json``, runs the tracker and publishes:

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
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from hoi_msgs.msg import TrackedObject3DArray
from hoi_perception.geometry.camera import PinholeCamera
from hoi_perception.imaging.encodings import ImageConversionError, image_to_numpy, to_rgb8
from hoi_perception.ros.conversions import (
    gt_boxes_from_msg,
    k_from_camera_info,
    track_to_msg,
)
from hoi_perception.ros.diagnostics import ERROR, OK, WARN, DiagnosticsPublisher, RateMonitor
from hoi_perception.ros.markers import track_markers
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.qos import TF_STATIC_LISTENER_QOS, reliable_qos, sensor_data_qos
from hoi_perception.ros.synchronizer import SyncConfig, TopicSynchronizer
from hoi_perception.ros.tf import StaticTransforms, TransformBroadcaster, transform_stamped
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
from hoi_perception.sync.approximate import SyncedSet

TRACKS_TOPIC = "/hoi/tracks"
MARKERS_TOPIC = "/hoi/markers/tracks"
GT_TRACKS_TOPIC = "/ground_truth/tracks"

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


@dataclass
class _PendingSet:
    stamp_ns: int
    images: list[np.ndarray | None]
    decode_ms: float


# ------------------------------------------------------------------ the node


class Sparse4DNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sparse4d_node", **kwargs)
        dp = self.declare_parameter
        self.cameras = [str(c) for c in dp("cameras", ["cam_00", "cam_01", "cam_02", "cam_03"]).value]
        self.camera_group = str(dp("camera_group", "bev_group_0").value)
        self.model_path = str(dp("model_path", "").value)
        self.backend = str(dp("backend", "auto").value)
        self.world_frame = str(dp("world_frame", "world").value)
        self.calibration_path = str(dp("calibration_path", "").value)
        self.image_topic_fmt = str(dp("image_topic", "/cameras/{camera}/image_raw").value)
        self.info_topic_fmt = str(dp("camera_info_topic", "/cameras/{camera}/camera_info").value)
        self.tracks_topic = str(dp("tracks_topic", TRACKS_TOPIC).value)
        self.markers_topic = str(dp("markers_topic", MARKERS_TOPIC).value)
        self.publish_markers = bool(dp("publish_markers", True).value)
        self.publish_tf = bool(dp("publish_tf", False).value)
        self.score_threshold = float(dp("score_threshold", 0.2).value)
        self.reset_gap_s = float(dp("reset_gap_s", 2.0).value)
        origin = [float(v) for v in dp("origin_xy", [0.0, 0.0]).value]
        num_threads = int(dp("num_threads", 0).value)
        self.gt_topic = str(dp("standin_gt_topic", GT_TRACKS_TOPIC).value)
        self.gt_tolerance_ns = int(float(dp("standin_gt_tolerance_s", 0.02).value) * 1e9)
        # Sets held while calibration (camera_info, /tf_static) or, for the stand-in, their ground truth is
        # still on the way; beyond this the oldest is dropped (calibration) or stepped without it (ground truth).
        self.max_pending = int(dp("max_pending_sets", 10).value)
        standin_seed = int(dp("standin_seed", 0).value)
        standin_dropout = float(dp("standin_dropout_prob", 0.05).value)
        standin_pos_sigma = float(dp("standin_pos_sigma_m", 0.05).value)
        report_period = float(dp("report_period_s", 5.0).value)
        # best_effort matches every camera driver (sensor-data QoS); reliable loses no frame of a
        # reliable publisher such as the bag player (large best-effort images do get lost in DDS).
        self.image_reliability = str(dp("image_reliability", "best_effort").value)
        self._validate(origin, num_threads, standin_dropout, standin_pos_sigma, report_period)
        self.standin = not self.model_path

        log = self.get_logger()
        # The FIRST log line says what produces the tracks.
        if self.standin:
            log.warning(
                "STAND-IN: model_path is empty, so this node runs the noisy-ground-truth stand-in "
                f"('stand-in:noisy-ground-truth') fed from {self.gt_topic}, not a Sparse4D network (no TAO "
                "weights are available here); every track it publishes says so in its source")
        else:
            log.info(f"Sparse4D engine from {self.model_path} (backend {self.backend})")

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
        self.source = str(getattr(self.engine, "backend_name", "unknown"))

        # state
        self.tracker: Sparse4DTracker | None = None
        self.k: dict[str, tuple[np.ndarray, int, int, str]] = {}  # camera -> (K, width, height, frame_id)
        self.calibration: dict[str, PinholeCamera] = {}
        self.static_tf = StaticTransforms()
        self.counters: dict[str, int] = {
            "sets": 0, "partial_sets": 0, "frames": 0, "tracks": 0, "resets": 0, "bad_encoding": 0,
            "bad_image": 0, "size_mismatch": 0, "missing_camera_info": 0, "bad_camera_info": 0,
            "no_extrinsics": 0, "bad_transform": 0, "engine_errors": 0, "gt_unmatched": 0, "gt_frames": 0,
            "tracker_rebuilds": 0, "sync_callback_errors": 0,
        }
        self.reset_log: list[tuple[int, str]] = []
        self.track_ids: set[int] = set()
        self.latency = LatencyStats()
        self.input_rate = RateMonitor()
        self.output_rate = RateMonitor()
        self._gt_frames: deque[tuple[int, list[GtBox]]] = deque(maxlen=64)
        self._pending: deque[_PendingSet] = deque()
        self._last_gt_ns: int | None = None
        self._warned: set[str] = set()

        if self.calibration_path:
            self._load_calibration(self.calibration_path)

        qos_out = reliable_qos(10)
        self.pub_tracks = self.create_publisher(TrackedObject3DArray, self.tracks_topic, qos_out)
        self.pub_markers = self.create_publisher(MarkerArray, self.markers_topic, qos_out) if self.publish_markers \
            else None
        self.tf_broadcaster = TransformBroadcaster(self) if self.publish_tf else None

        sync_defaults = SyncConfig(qos_depth=5, max_interval_s=0.05, stream_policy="partial", stream_timeout_s=0.5,
                                   reset_threshold_s=1.0)
        sync_cfg = SyncConfig.declare(self, "sync", sync_defaults)
        depth = max(1, int(sync_cfg.qos_depth))
        image_qos = reliable_qos(depth) if self.image_reliability == "reliable" else sensor_data_qos(depth)
        for cam in self.cameras:
            self.create_subscription(CameraInfo, self.info_topic_fmt.format(camera=cam),
                                     lambda m, cam=cam: self.on_camera_info(cam, m), image_qos)
        self.create_subscription(TFMessage, "/tf_static", self.on_tf_static, TF_STATIC_LISTENER_QOS)
        if self.standin:
            self.create_subscription(TrackedObject3DArray, self.gt_topic, self.on_ground_truth, reliable_qos(50))
        if sync_cfg.stream_policy != "partial":
            log.warning(f"sync.stream_policy={sync_cfg.stream_policy!r}: a dropped camera frame will stall sets; "
                        "'partial' is the intended policy")
        self.sync = TopicSynchronizer(
            self, [(Image, self.image_topic_fmt.format(camera=c)) for c in self.cameras], self.on_set, sync_cfg,
            qos=image_qos)

        self.diagnostics = DiagnosticsPublisher(self)
        self.diagnostics.add("input", self._input_status)
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
        for fmt in (self.image_topic_fmt, self.info_topic_fmt):
            if "{camera}" not in fmt:
                raise ValueError(f"topic pattern {fmt!r} must contain '{{camera}}'")

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
        self.counters[key] += 1
        k = once_key or key
        if k not in self._warned:
            self._warned.add(k)
            self.get_logger().warning(f"{message} (counted as '{key}'; further ones only counted)")

    def on_camera_info(self, cam: str, msg: CameraInfo) -> None:
        try:
            k = k_from_camera_info(msg)
            if msg.width <= 0 or msg.height <= 0:
                raise ValueError(f"camera_info of {cam} has size {msg.width}x{msg.height}")
        except ValueError as exc:
            self._count("bad_camera_info", f"{cam}: {exc}", f"bad_camera_info:{cam}")
            return
        frame = str(msg.header.frame_id) or f"{cam}_optical_frame"
        entry = (k, int(msg.width), int(msg.height), frame)
        old = self.k.get(cam)
        if old is not None and old[1:] == entry[1:] and np.allclose(old[0], k):
            return
        self.k[cam] = entry
        if old is not None and self.tracker is not None and not self.calibration:
            self.get_logger().warning(f"{cam}: camera_info changed ({old[1]}x{old[2]} -> {entry[1]}x{entry[2]}); "
                                      "rebuilding the tracker (instance bank reset)")
            self._close_tracker()
        if self.tracker is None:
            self._flush_pending()

    def on_tf_static(self, msg: TFMessage) -> None:
        if not len(self.static_tf):
            self.get_logger().info(f"/tf_static: {len(msg.transforms)} transforms")
        for t in msg.transforms:
            try:
                self.static_tf.add(t)
            except ValueError as exc:
                self._count("bad_transform", str(exc))
        self._flush_pending()

    def on_ground_truth(self, msg: TrackedObject3DArray) -> None:
        stamp = ns_from_stamp(msg.header.stamp)
        if self._last_gt_ns is not None and stamp < self._last_gt_ns - self.gt_tolerance_ns:
            self.get_logger().info("ground truth went back in time (bag loop?): stand-in buffer cleared")
            self._gt_frames.clear()
        if self._last_gt_ns is None:
            self.get_logger().info(f"first ground truth for the stand-in at stamp {stamp}")
        self._last_gt_ns = stamp
        self.counters["gt_frames"] += 1
        self._gt_frames.append((stamp, gt_boxes_from_msg(msg, self.cameras)))
        self._flush_pending()

    def _gt_for(self, stamp_ns: int) -> list[GtBox] | None:
        best: tuple[int, list[GtBox]] | None = None
        for s, boxes in self._gt_frames:
            d = abs(s - stamp_ns)
            if d <= self.gt_tolerance_ns and (best is None or d < best[0]):
                best = (d, boxes)
        return best[1] if best is not None else None

    def _flush_pending(self) -> None:
        """Step the pending sets in order once the tracker can be built (calibration complete) and, for the
        stand-in, their ground truth is here (or can no longer come)."""
        while self._pending:
            p = self._pending[0]
            if self.tracker is None:
                cams = self._cameras_ready(count=len(self._pending) > self.max_pending)
                if cams is None:
                    if len(self._pending) > self.max_pending:
                        self._pending.popleft()  # counted by _cameras_ready
                        continue
                    return
                self.tracker = Sparse4DTracker(self.engine, cams, self.tracker_params, contract=self.contract)
                self.counters["tracker_rebuilds"] += 1
                self.get_logger().info(
                    "tracker ready: " + ", ".join(f"{c.name} {c.width}x{c.height}" for c in cams))
            if self.standin:
                gt = self._gt_for(p.stamp_ns)
                if gt is None:
                    gt_passed = self._last_gt_ns is not None and self._last_gt_ns > p.stamp_ns + self.gt_tolerance_ns
                    if not (gt_passed or len(self._pending) > self.max_pending):
                        return
                    self._count("gt_unmatched", f"no ground truth within {self.gt_tolerance_ns / 1e6:.0f} ms of "
                                f"the set at {p.stamp_ns}: the stand-in sees no objects for it")
                    gt = []
                self._gt_current[:] = gt
            self._pending.popleft()
            self._process(p.stamp_ns, p.images, p.decode_ms)

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
        info = self.k.get(cam)
        if info is not None and (img.shape[1], img.shape[0]) != (info[1], info[2]):
            self._count("size_mismatch", f"{cam}: image {img.shape[1]}x{img.shape[0]} but camera_info "
                        f"{info[1]}x{info[2]} (resized anyway)", f"size_mismatch:{cam}")
        return img

    def _cameras_ready(self, count: bool = True) -> list[PinholeCamera] | None:
        """The group's cameras when intrinsics and extrinsics are all known; else None (counted if ``count``)."""
        if self.calibration:
            return [self.calibration[c] for c in self.cameras]
        missing_info = [c for c in self.cameras if c not in self.k]
        if missing_info:
            if not count:
                return None
            self._count("missing_camera_info", f"no camera_info yet for {missing_info}; the oldest set beyond "
                        "max_pending_sets was dropped")
            return None
        cams = []
        missing_tf = []
        for c in self.cameras:
            k, w, h, frame = self.k[c]
            m = self.static_tf.lookup(self.world_frame, frame)
            if m is None:
                missing_tf.append(frame)
                continue
            cams.append(PinholeCamera(c, w, h, k, m))
        if missing_tf:
            if not count:
                return None
            self._count("no_extrinsics", f"no /tf_static chain {self.world_frame} -> {missing_tf} "
                        f"({len(self.static_tf)} static transforms known); sets wait, the oldest beyond max_pending_sets are dropped")
            return None
        return cams

    def _close_tracker(self) -> None:
        if self.tracker is not None:
            self.tracker.close()
            self.tracker = None

    def on_set(self, s: SyncedSet) -> None:
        t0 = time.perf_counter()
        self.counters["sets"] += 1
        if s.missing:
            self.counters["partial_sets"] += 1
        images = [self._decode(c, m) for c, m in zip(self.cameras, s.messages, strict=True)]
        decode_ms = (time.perf_counter() - t0) * 1e3
        self.input_rate.tick()
        if all(im is None for im in images):
            self.input_rate.errors += 1
        self._pending.append(_PendingSet(int(s.stamp_ns), images, decode_ms))
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
        return sum(self.counters[k] for k in ("bad_encoding", "bad_image", "bad_camera_info", "bad_transform"))

    def _input_status(self) -> tuple[bytes, str, dict[str, object]]:
        st = self.sync.stats()
        values: dict[str, object] = {"rate_hz": self.input_rate.rate_hz(), "sync_resets": st.resets,
                                     "sync_dropped": st.dropped_total()}
        values.update(self.counters)
        if self.tracker is None and self.counters["sets"]:
            return ERROR, "waiting for camera_info / extrinsics", values
        bad = self._bad_inputs()
        if bad:
            return WARN, f"{bad} bad inputs", values
        return OK, f"{self.input_rate.rate_hz():.1f} sets/s", values

    def _latency_status(self) -> tuple[bytes, str, dict[str, object]]:
        mean = self.latency.mean()
        values: dict[str, object] = {f"{k}_mean": v for k, v in mean.items()}
        values.update({f"{k}_last": v for k, v in self.latency.last.items()})
        values["frames"] = self.latency.count
        values["source"] = self.source
        if not self.latency.count:
            return WARN, "no frame processed yet", values
        return OK, (f"preprocess {mean['preprocess_ms']:.1f} ms, engine {mean['engine_ms']:.1f} ms, bank+decode "
                    f"{mean['bank_decode_ms']:.1f} ms, publish {mean['publish_ms']:.1f} ms"), values

    def _log_progress(self) -> None:
        m = self.latency.mean()
        self.get_logger().info(
            f"{self.counters['frames']} frames, {self.counters['tracks']} tracks ({len(self.track_ids)} ids), "
            f"{self.counters['resets']} resets, mean {m['total_ms']:.1f} ms/frame")

    def report(self) -> dict[str, Any]:
        st = self.sync.stats()
        rep: dict[str, Any] = {"camera_group": self.camera_group, "source": self.source, **self.counters,
                               "track_ids": len(self.track_ids), "sync_resets": st.resets,
                               "received": dict(zip(self.cameras, st.received, strict=True)),
                               "sync_dropped": st.dropped_total(),
                               "latency_ms_mean": {k: round(v, 3) for k, v in self.latency.mean().items()},
                               "resets_at": [{"stamp_ns": s, "reason": r} for s, r in self.reset_log]}
        if self.tracker is not None:
            rep["preprocess_counters"] = dict(self.tracker.preprocess.counters)
            rep["bank_counters"] = dict(self.tracker.bank.counters)
        return rep

    def close(self) -> None:
        # Sets still waiting for their ground truth are not stepped: the context may be shut down already.
        self.counters["pending_at_shutdown"] = len(self._pending)
        self._pending.clear()
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
                               "gt_unmatched", "sync_callback_errors") if rep.get(k)}
    lines.append("  bad input / skipped: " + (", ".join(f"{k}={v}" for k, v in bad.items()) if bad else "none"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return run_node(Sparse4DNode, "sparse4d_node", lambda node: format_report(node.report()), argv)


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Sparse4DNode", "main"]
