"""The body_pose node as a separate process over Fast DDS: a real photo
(OpenCV's basketball1.png) goes in as Image + CameraInfo, 3D poses come out
on hoi_msgs/HumanPose3DArray stamped with the image stamp, with TF frames
per tracked human and skeleton markers."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import rclpy
from hoi_perception.bodypose.blazepose import default_model_dir
from hoi_perception.geometry.camera import intrinsics
from hoi_perception.imaging.encodings import numpy_to_image
from hoi_perception.ros.conversions import camera_info_msg
from hoi_perception.ros.qos import TF_QOS, reliable_qos
from hoi_perception.ros.time import ns_from_stamp, stamp_from_ns
from hoi_perception.skeleton.bodypose34 import JOINT_INDEX, NUM_JOINTS, SKELETON_NAME
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from hoi_msgs.msg import HumanPose3DArray

PHOTO = Path("/usr/share/doc/opencv-doc/examples/data/basketball1.png")
FRAME = "camera_optical_frame"

pytestmark = pytest.mark.skipif(not PHOTO.is_file() or not (default_model_dir() / "pose_detection.tflite").is_file(),
                                reason="needs `make setup` (opencv-doc and the BlazePose models)")


def test_body_pose_node_publishes_stamped_poses_tf_and_markers(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        ["body_pose", "--ros-args", "-p", "image_topic:=/test_cam/image_raw", "-p", "camera_info_topic:=/test_cam/camera_info",
         "-p", "depth_topic:=''", "-p", "use_depth:=false", "-p", "sync.qos_reliability:=reliable",
         "-p", "sync.inter_message_lower_bound_s:=0.05", "-r", "~/humans:=/hoi/humans"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("body_pose_test", context=context)
        bgr = cv2.imread(str(PHOTO))
        h, w = bgr.shape[:2]
        k = intrinsics(500.0, 500.0, w / 2, h / 2)
        pub_img = node.create_publisher(Image, "/test_cam/image_raw", reliable_qos(5))
        pub_info = node.create_publisher(CameraInfo, "/test_cam/camera_info", reliable_qos(5))
        poses: list[HumanPose3DArray] = []
        tfs: list[TFMessage] = []
        markers: list[MarkerArray] = []
        node.create_subscription(HumanPose3DArray, "/hoi/humans", poses.append, reliable_qos(10))
        node.create_subscription(TFMessage, "/tf", tfs.append, TF_QOS)
        node.create_subscription(MarkerArray, "/body_pose/markers", markers.append, reliable_qos(10))
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        sent: list[int] = []
        end = time.monotonic() + 60
        next_pub = 0.0
        while time.monotonic() < end and not (poses and any(p.humans for p in poses) and tfs and markers):
            if time.monotonic() > next_pub and len(sent) < 100:
                stamp_ns = 1_700_000_000_000_000_000 + len(sent) * 100_000_000
                msg = numpy_to_image(bgr, "bgr8", factory=Image)
                msg.header.stamp = stamp_from_ns(stamp_ns)
                msg.header.frame_id = FRAME
                pub_info.publish(camera_info_msg(k, w, h, FRAME, stamp_ns))
                pub_img.publish(msg)
                sent.append(stamp_ns)
                next_pub = time.monotonic() + 0.3
            executor.spin_once(timeout_sec=0.05)
        with_people = [p for p in poses if p.humans]
        assert with_people, f"no poses received; node output:\n{_output(proc)}"
        arr = with_people[0]
        assert ns_from_stamp(arr.header.stamp) in sent  # stamped with the source image's stamp
        assert arr.header.frame_id == FRAME
        human = arr.humans[0]
        assert human.skeleton == SKELETON_NAME and len(human.joints) == NUM_JOINTS
        assert len(human.joint_confidence) == NUM_JOINTS and len(human.joints_2d) == NUM_JOINTS
        assert human.track_id > 0 and human.source.startswith("blazepose")
        j = np.array([[p.x, p.y, p.z] for p in human.joints])
        assert np.all(j[:, 2] > 0.3)  # in front of the camera, metres
        # optical frame: y down, so the head is above (smaller y than) the pelvis
        assert j[JOINT_INDEX["nose"], 1] < j[JOINT_INDEX["pelvis"], 1]
        children = {t.child_frame_id: t for m in tfs for t in m.transforms}
        assert f"human_{human.track_id}" in children
        assert children[f"human_{human.track_id}"].header.frame_id == FRAME
        assert any(m.markers for m in markers)
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _output(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out
