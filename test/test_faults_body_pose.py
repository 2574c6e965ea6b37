"""Fault injection into the body_pose node over real Fast DDS (issue 10).

The node runs as a subprocess; this test publishes with rclpy, as a user's
integration test would, one scripted sequence of faults between good frames
(OpenCV's basketball1.png), and checks that the node survived every one,
named it, counted it in /diagnostics and in its JSON report, and kept
processing the good frames:

* a 0x0 bgra8 image before the first camera_info (held frames are replayed
  inside the error guard), and a good frame held until camera_info comes;
* a 0x0 image after camera_info, an image with an empty frame_id (no output
  with parent frame ""), an 8000x8000 image (refused from its header);
* a camera_info with cx = NaN (refused; the last good one stays);
* stamps jumping 30 s back with max_rate_hz:=5.0 (rate limiter reset, one line);
* a burst of images (drops counted by reason: every good frame sent is either
  processed or counted as dropped).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from hoi_perception.bodypose.blazepose import default_model_dir
from hoi_perception.geometry.camera import intrinsics
from hoi_perception.imaging.encodings import numpy_to_image
from hoi_perception.ros.conversions import camera_info_msg
from hoi_perception.ros.qos import reliable_qos
from hoi_perception.ros.time import ns_from_stamp, stamp_from_ns
from sensor_msgs.msg import CameraInfo, Image

from hoi_msgs.msg import HumanPose3DArray

PHOTO = Path("/usr/share/doc/opencv-doc/examples/data/basketball1.png")
FRAME = "camera_optical_frame"
T0 = 1_700_000_100_000_000_000

pytestmark = pytest.mark.skipif(not PHOTO.is_file() or not (default_model_dir() / "pose_detection.tflite").is_file(),
                                reason="needs `make setup` (opencv-doc and the BlazePose models)")


class _Peer:
    def __init__(self) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("body_pose_faults", context=self.context)
        self.pub_img = self.node.create_publisher(Image, "/fault_cam/image_raw", reliable_qos(300))
        self.pub_info = self.node.create_publisher(CameraInfo, "/fault_cam/camera_info", reliable_qos(50))
        self.humans: list[HumanPose3DArray] = []
        self.diags: list[DiagnosticArray] = []
        self.node.create_subscription(HumanPose3DArray, "/body_pose/humans", self.humans.append, reliable_qos(500))
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diags.append, reliable_qos(50))
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin(self, seconds: float, until=None) -> None:  # noqa: ANN001
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until is not None and until()):
            self.executor.spin_once(timeout_sec=0.02)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _image(arr: np.ndarray, encoding: str, stamp_ns: int, frame_id: str = FRAME) -> Image:
    msg = numpy_to_image(arr, encoding, factory=Image) if arr.size else Image(encoding=encoding)
    msg.header.stamp = stamp_from_ns(stamp_ns)
    msg.header.frame_id = frame_id
    return msg


def _status(diags: list[DiagnosticArray], name: str) -> dict[str, str]:
    for arr in reversed(diags):
        for st in arr.status:
            if st.name == name:
                return {"message": st.message, "level": int.from_bytes(st.level, "little"),
                        **{kv.key: kv.value for kv in st.values}}
    return {}


def test_body_pose_survives_names_and_counts_every_input_fault(tmp_path: Path) -> None:
    report_path = tmp_path / "body_pose.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hoi_perception.nodes.body_pose", "--ros-args",
         "-p", "image_topic:=/fault_cam/image_raw", "-p", "camera_info_topic:=/fault_cam/camera_info",
         "-p", "depth_topic:=''", "-p", "use_depth:=false", "-p", "sync.qos_reliability:=reliable",
         "-p", "sync.inter_message_lower_bound_s:=0.002", "-p", "max_rate_hz:=5.0", "-p", "publish_annotated:=false",
         "-p", f"report_path:={report_path}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    peer = _Peer()
    try:
        bgr = cv2.imread(str(PHOTO))
        h, w = bgr.shape[:2]
        k = intrinsics(500.0, 500.0, w / 2, h / 2)
        good = 0  # good frames sent (each must end processed or counted as dropped)

        def send_good(stamp_ns: int, with_info: bool = True) -> None:
            nonlocal good
            if with_info:
                peer.pub_info.publish(camera_info_msg(k, w, h, FRAME, stamp_ns))
            peer.pub_img.publish(_image(bgr, "bgr8", stamp_ns))
            good += 1

        peer.spin(15, until=lambda: peer.pub_img.get_subscription_count() > 0
                  and peer.pub_info.get_subscription_count() > 0)
        assert peer.pub_img.get_subscription_count() > 0, proc.stdout.read() if proc.poll() is not None else ""
        # 1. before any camera_info: a 0x0 bgra8 image, then a good frame that is held
        peer.pub_img.publish(_image(np.zeros((0, 0, 4), np.uint8), "bgra8", T0))
        send_good(T0 + 100_000_000, with_info=False)
        peer.spin(0.5)
        peer.pub_info.publish(camera_info_msg(k, w, h, FRAME, T0 + 100_000_000))
        peer.spin(10, until=lambda: any(ns_from_stamp(a.header.stamp) == T0 + 100_000_000 for a in peer.humans))
        assert proc.poll() is None, proc.stdout.read()
        assert any(ns_from_stamp(a.header.stamp) == T0 + 100_000_000 for a in peer.humans), "held frame lost"
        # 2. after camera_info: 0x0, empty frame_id, 8000x8000 (64 MB mono8), NaN principal point
        peer.pub_img.publish(_image(np.zeros((0, 0, 3), np.uint8), "bgr8", T0 + 200_000_000))
        peer.pub_img.publish(_image(bgr, "bgr8", T0 + 300_000_000, frame_id=""))
        peer.pub_img.publish(_image(np.zeros((8000, 8000), np.uint8), "mono8", T0 + 400_000_000))
        bad_k = k.copy()
        bad_k[0, 2] = np.nan
        peer.pub_info.publish(camera_info_msg(bad_k, w, h, FRAME, T0 + 450_000_000))
        # the node may still be deserialising the 64 MB image: wait until /diagnostics counts the broken
        # camera_info before more (good) ones follow, so the order of events is the scripted one
        peer.spin(20, until=lambda: _status(peer.diags, "body_pose: synchronizer").get("rejected.bad_intrinsics")
                  == "1")
        # 3. good frames at 10 Hz with max_rate_hz 5, then 30 s back in time
        for i in range(10):
            send_good(T0 + 500_000_000 + i * 100_000_000)
            peer.spin(0.1)
        back = T0 - 30_000_000_000
        for i in range(10):
            send_good(back + i * 100_000_000)
            peer.spin(0.1)
        peer.spin(5, until=lambda: any(ns_from_stamp(a.header.stamp) >= back + 500_000_000
                                       and ns_from_stamp(a.header.stamp) < T0 for a in peer.humans))
        # 4. a burst: 100 frames in ~0.5 s (faster than the pose estimator)
        for i in range(100):
            send_good(back + 2_000_000_000 + i * 5_000_000, with_info=(i == 0))
            if i % 10 == 0:
                peer.spin(0.05)
        peer.spin(4.0)
        assert proc.poll() is None, f"body_pose died:\n{proc.stdout.read()}"
        diag = _status(peer.diags, "body_pose: synchronizer")
    finally:
        peer.close()
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    rep = json.loads(report_path.read_text())
    # every fault named and counted, once each in the log
    assert rep["rejected"].get("empty_image", 0) == 2, (rep, out)
    assert rep["rejected"].get("empty_frame_id", 0) == 1 and rep["rejected"].get("image_too_large", 0) == 1, rep
    assert rep["rejected"].get("bad_intrinsics", 0) == 1, rep
    assert out.count("empty image 0x0") == 1 and out.count("exceeds the limit") == 1, out
    assert "NaN" in out and "the last good camera_info stays in use" in out
    assert all(a.header.frame_id == FRAME for a in peer.humans)  # nothing with parent frame ""
    # the time jump: one line, and frames after it processed although older than the old maximum
    assert rep["time_jumps"] == 1 and out.count("stamps jumped") == 1, out
    assert any(back <= ns_from_stamp(a.header.stamp) < T0 for a in peer.humans)
    # drops by reason: every good frame sent was processed or counted
    drops = rep["dropped"]
    assert drops.get("rate_limit", 0) > 0, rep
    accounted = rep["frames"] + sum(drops.values())
    assert good - 2 <= accounted <= good, (good, rep)
    # /diagnostics carries the same counters
    assert int(diag["rejected.empty_image"]) == 2 and int(diag["rejected.image_too_large"]) == 1, diag
    assert int(diag["dropped.rate_limit"]) > 0 and int(diag["dropped"]) == sum(
        int(v) for k, v in diag.items() if k.startswith("dropped.")), diag
    assert diag["level"] == 1  # WARN: bad inputs were seen
