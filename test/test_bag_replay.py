"""Two processes over DDS: the bag player replays a small generated sample bag with /clock; a
use_sim_time node here receives the messages with their recorded stamps and a
monotonic /clock that its own clock follows. Bounded by timeouts and counts;
no timing assertions."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy
from hoi_perception.bag import BagReader
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

IMAGE_TOPIC = "/zed/zed_node/left/image_rect_color"
HUMANS_TOPIC = "/ground_truth/humans"
TIMEOUT_S = 40.0


def _ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


@pytest.fixture()
def small_bag(tmp_path) -> tuple[Path, dict[str, list[int]], tuple[int, int]]:
    """A small generated sample bag (tiny images, 0.6 s, one static camera, some dropped frames)."""
    from hoi_perception.bag.sample import generate_sample_bag
    from hoi_perception.scene import SceneConfig

    cfg = SceneConfig(seed=1, num_static_cameras=1, width=80, height=48, zed_width=80, zed_height=48,
                      duration_s=0.6, drop_probability=0.2)
    bag = generate_sample_bag(tmp_path / "replay_bag", cfg, progress=False).path
    stamps: dict[str, list[int]] = {IMAGE_TOPIC: [], HUMANS_TOPIC: [], "/tf_static": []}
    with BagReader(bag) as r:
        for m in r.messages(topics=list(stamps)):
            stamps[m.topic].append(m.log_time_ns)
        span = (r.start_time_ns, r.end_time_ns)
    assert all(stamps.values())
    return bag, stamps, span


@pytest.mark.parametrize("by_name", [False, True], ids=["bag_path", "bag_path_sample"])
def test_two_process_replay_with_sim_time(small_bag, by_name):
    """bag_path names the bag, or is ``sample`` with $HOI_SAMPLE_BAG naming it (launch files' default)."""
    from sensor_msgs.msg import Image
    from tf2_msgs.msg import TFMessage

    from hoi_msgs.msg import HumanPose3DArray

    bag, expected, (bag_start, bag_end) = small_bag
    context = rclpy.Context()
    rclpy.init(context=context)
    proc = None
    try:
        node = rclpy.create_node("bag_replay_test", context=context,
                                 parameter_overrides=[Parameter("use_sim_time", value=True)])
        got: dict[str, list[int]] = {IMAGE_TOPIC: [], HUMANS_TOPIC: [], "/tf_static": []}
        images: list[Image] = []
        clocks: list[int] = []
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)

        def on_image(m: Image) -> None:
            images.append(m)
            got[IMAGE_TOPIC].append(_ns(m.header.stamp))

        node.create_subscription(Image, IMAGE_TOPIC, on_image, reliable)
        node.create_subscription(HumanPose3DArray, HUMANS_TOPIC,
                                 lambda m: got[HUMANS_TOPIC].append(_ns(m.header.stamp)), reliable)
        node.create_subscription(TFMessage, "/tf_static",
                                 lambda m: got["/tf_static"].append(_ns(m.transforms[0].header.stamp)), latched)
        node.create_subscription(Clock, "/clock", lambda m: clocks.append(_ns(m.clock)),
                                 QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE))
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)

        proc = subprocess.Popen(
            [sys.executable, "-m", "hoi_perception.nodes.bag_player", "--ros-args",
             "-p", f"bag_path:={'sample' if by_name else bag}",
             "-p", f"topics_include:=[{IMAGE_TOPIC}, {HUMANS_TOPIC}, /tf_static]",
             "-p", "wait_for_subscribers:=true",
             "-p", "wait_for_subscribers_timeout_s:=20.0",
             "-p", "clock_rate_hz:=50.0",
             "-p", "linger_s:=1.0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "HOI_SAMPLE_BAG": str(bag)} if by_name else os.environ.copy(),
        )

        # The player ends by itself (no loop); spin until it has, then drain what is in flight.
        end = time.monotonic() + TIMEOUT_S
        while proc.poll() is None and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        for _ in range(20):
            executor.spin_once(timeout_sec=0.01)
        out = proc.communicate(timeout=10)[0]
        assert proc.returncode == 0, out
        assert "done:" in out, out

        assert got[IMAGE_TOPIC] == expected[IMAGE_TOPIC], out
        assert got[HUMANS_TOPIC] == expected[HUMANS_TOPIC], out
        assert got["/tf_static"] == expected["/tf_static"], out
        assert all(m.encoding == "bgra8" and m.header.frame_id == "zed_left_camera_optical_frame" for m in images)

        assert clocks, "no /clock received"
        assert clocks == sorted(clocks), "/clock went backwards"
        assert clocks[0] >= bag_start and clocks[-1] <= bag_end
        assert clocks[-1] >= max(expected[IMAGE_TOPIC])
        # every recorded stamp was announced on /clock before/with its message
        assert set(expected[IMAGE_TOPIC]) <= set(clocks)
        # the node's ROS clock follows /clock
        assert node.get_clock().now().nanoseconds == clocks[-1]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        rclpy.try_shutdown(context=context)
