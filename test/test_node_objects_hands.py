"""objects_hands node start-up: a parameter out of range exits 2 with one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest


def test_out_of_range_parameter_exits_2_with_one_line() -> None:
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "hoi_perception.nodes.objects_hands", "--ros-args", "-p", "min_detection_score:=1.5"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2, r.stderr
    err = [ln for ln in r.stderr.splitlines() if "min_detection_score" in ln]
    assert len(err) == 1 and "[0.0, 1.0]" in err[0]


def test_unknown_people_source_exits_2() -> None:
    cmd = [sys.executable, "-m", "hoi_perception.nodes.objects_hands", "--ros-args", "-p", "people_source:=kinect"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert r.returncode == 2 and "people_source" in r.stderr


def test_node_publishes_object_poses_hands_and_tf_over_dds() -> None:
    """skimage's coffee photo + a synthetic depth (a cup-sized bump 0.6 m away on a table plane)
    go in as Image/Image/CameraInfo; ObjectPoseArray (the cup, tracked), Hand3DArray and the
    object's TF frame come back, stamped with the image stamp."""
    import time

    import numpy as np
    import pytest
    import rclpy
    import skimage.data
    from hoi_perception.geometry.camera import intrinsics
    from hoi_perception.imaging.encodings import numpy_to_image
    from hoi_perception.ros.conversions import camera_info_msg
    from hoi_perception.ros.qos import TF_QOS, reliable_qos
    from hoi_perception.ros.time import ns_from_stamp, stamp_from_ns
    from sensor_msgs.msg import CameraInfo, Image
    from tf2_msgs.msg import TFMessage

    from hoi_msgs.msg import Hand3DArray, ObjectPoseArray
    from hoi_perception import paths

    try:
        paths.models_dir("objects")
    except paths.ResourceNotFound:
        pytest.skip("object models missing: python -m hoi_perception.objects.fetch_models")
    rgb = skimage.data.coffee()
    h, w = rgb.shape[:2]
    k = intrinsics(500.0, 500.0, w / 2, h / 2)
    depth = np.full((h, w), 0.75, np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    cup = ((xx - 300) / 110.0) ** 2 + ((yy - 200) / 110.0) ** 2 < 1.0
    depth[cup] = 0.6
    frame = "coffee_optical_frame"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hoi_perception.nodes.objects_hands", "--ros-args",
         "-p", "image_topic:=/t/image", "-p", "depth_topic:=/t/depth", "-p", "camera_info_topic:=/t/info",
         "-p", "people_source:=none", "-p", "track_min_hits:=1", "-p", "min_detection_score:=0.3",
         "-p", "sync.inter_message_lower_bound_s:=0.05", "-r", "~/objects:=/t/objects", "-r", "~/hands:=/t/hands"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("objects_hands_test", context=context)
        pub_i = node.create_publisher(Image, "/t/image", reliable_qos(5))
        pub_d = node.create_publisher(Image, "/t/depth", reliable_qos(5))
        pub_c = node.create_publisher(CameraInfo, "/t/info", reliable_qos(5))
        objs: list = []
        hands: list = []
        tfs: list = []
        node.create_subscription(ObjectPoseArray, "/t/objects", objs.append, reliable_qos(10))
        node.create_subscription(Hand3DArray, "/t/hands", hands.append, reliable_qos(10))
        node.create_subscription(TFMessage, "/tf", tfs.append, TF_QOS)
        ex = rclpy.executors.SingleThreadedExecutor(context=context)
        ex.add_node(node)
        sent = []
        end = time.monotonic() + 60
        stamp = 1_000_000_000
        while time.monotonic() < end and not (any(m.objects for m in objs) and tfs and hands):
            stamp += 100_000_000
            st = stamp_from_ns(stamp)
            im = numpy_to_image(rgb, "rgb8", factory=Image)
            dm = numpy_to_image(depth, "32FC1", factory=Image)
            for m in (im, dm):
                m.header.stamp, m.header.frame_id = st, frame
            pub_c.publish(camera_info_msg(k, w, h, frame, stamp))
            pub_i.publish(im)
            pub_d.publish(dm)
            sent.append(stamp)
            t_end = time.monotonic() + 0.3
            while time.monotonic() < t_end:
                ex.spin_once(timeout_sec=0.05)
        with_obj = [m for m in objs if m.objects]
        assert with_obj, "no ObjectPoseArray with objects came back"
        o = with_obj[-1].objects[0]
        assert o.object_name == "cup" and o.track_id > 0 and "obb" in o.source
        assert 0.55 < o.pose.position.z < 0.7  # the bump's depth, not the table plane's
        assert ns_from_stamp(with_obj[-1].header.stamp) in sent and with_obj[-1].header.frame_id == frame
        assert any(t.child_frame_id == f"object_{o.track_id}" for m in tfs for t in m.transforms)
        assert hands and all(len(m.hands) == 0 for m in hands)  # no people: no hands, still published
    finally:
        rclpy.shutdown(context=context)
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "objects_hands summary" in out, out[-2000:]


def test_blazepose_people_keep_their_ids_across_frames() -> None:
    """people_source blazepose: a person keeps the id of the frame before (the hands'
    person_track_id and the human_<id>_*_hand frames), also when someone before them in
    the detector's order leaves the frame (ids were the index in the frame)."""
    import numpy as np
    import rclpy
    from hoi_perception.bodypose.types import PoseResult
    from hoi_perception.nodes.objects_hands import ObjectsHandsNode

    def person(x0: float) -> PoseResult:
        j2 = np.stack([np.linspace(x0, x0 + 60, 34), np.linspace(100, 400, 34)], axis=1)
        return PoseResult(joints_cam=np.ones((34, 3)), confidence=np.ones(34), derived=np.zeros(34, bool),
                          joints_2d=j2, box=(x0, 100.0, x0 + 60, 400.0), score=0.9, depth_used=False,
                          source="test")

    frames = [[person(50), person(400)], [person(52), person(402)], [person(404)], [person(406), person(54)]]
    rclpy.init()
    try:
        node = ObjectsHandsNode()
        try:
            if node.bodypose is None:
                pytest.skip("BlazePose models missing")
            node.bodypose.estimate = lambda rgb, k, depth: frames.pop(0)  # type: ignore[method-assign]
            rgb, k = np.zeros((480, 640, 3), np.uint8), np.eye(3)
            ids = [[p.track_id for p in node._people(rgb, k, None, (i + 1) * 100_000_000)] for i in range(4)]
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown()
    left, right = ids[0]
    assert left != right
    assert ids[1] == [left, right]
    assert ids[2] == [right]  # the left person left; the right one keeps its id
    assert ids[3] == [right, left]


def test_hand_frames_of_objects_hands_and_body_pose_do_not_collide() -> None:
    """Both nodes run in one graph; a child frame with two publishers (different origins and
    orientations) would jump between them in every TF consumer."""
    import numpy as np
    from hoi_perception.nodes.objects_hands import SIDE_NAMES
    from hoi_perception.skeleton.frames import hand_frames

    body_pose_names = set(hand_frames(np.zeros((34, 3)), np.eye(4)))
    assert body_pose_names == {"left_hand", "right_hand"}
    assert not body_pose_names & set(SIDE_NAMES)
