"""Two processes over DDS: the bag player replays a small bag with /clock; a
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
from hoi_perception.bag import LATCHED_QOS, BagReader, BagWriter
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

IMAGE_TOPIC = "/test_replay/image"
HUMANS_TOPIC = "/test_replay/humans"
T0 = 1_700_000_000_000_000_000
N = 12
PERIOD_NS = 40_000_000  # 25 Hz, 0.44 s of bag
TIMEOUT_S = 40.0


def _stamp(ts, t_ns: int):
    sec, nsec = divmod(t_ns, 1_000_000_000)
    return ts.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nsec)


def _make_bag(path: Path) -> dict[str, list[int]]:
    """Camera images with jittered stamps, ground-truth humans, one /tf_static; log time = stamp."""
    import numpy as np
    from hoi_perception.bag import default_typestore

    ts = default_typestore()
    T = ts.types
    stamps: dict[str, list[int]] = {IMAGE_TOPIC: [], HUMANS_TOPIC: [], "/tf_static": []}
    with BagWriter(path) as w:
        w.add_topic("/tf_static", "tf2_msgs/msg/TFMessage", LATCHED_QOS)
        w.add_topic(IMAGE_TOPIC, "sensor_msgs/msg/Image")
        w.add_topic(HUMANS_TOPIC, "hoi_msgs/msg/HumanPose3DArray")
        tf = T["geometry_msgs/msg/TransformStamped"](
            header=T["std_msgs/msg/Header"](stamp=_stamp(ts, T0), frame_id="world"),
            child_frame_id="cam_00_optical_frame",
            transform=T["geometry_msgs/msg/Transform"](
                translation=T["geometry_msgs/msg/Vector3"](x=1.0, y=2.0, z=3.0),
                rotation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
        )
        w.write("/tf_static", T0, T["tf2_msgs/msg/TFMessage"](transforms=[tf]))
        stamps["/tf_static"].append(T0)
        for i in range(N):
            t_img = T0 + i * PERIOD_NS + (i * 7919) % 3_000_000  # jitter
            hdr = T["std_msgs/msg/Header"](stamp=_stamp(ts, t_img), frame_id="cam_00_optical_frame")
            data = np.full((4, 6, 3), i, np.uint8)
            w.write(IMAGE_TOPIC, t_img, T["sensor_msgs/msg/Image"](
                header=hdr, height=4, width=6, encoding="rgb8", is_bigendian=0, step=18, data=data.reshape(-1)))
            stamps[IMAGE_TOPIC].append(t_img)
            if i % 2 == 0:  # a dropped-frame pattern: ground truth at half the rate
                t_gt = T0 + i * PERIOD_NS
                hdr = T["std_msgs/msg/Header"](stamp=_stamp(ts, t_gt), frame_id="world")
                w.write(HUMANS_TOPIC, t_gt, T["hoi_msgs/msg/HumanPose3DArray"](header=hdr, humans=[]))
                stamps[HUMANS_TOPIC].append(t_gt)
    return stamps


def _ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


@pytest.fixture()
def small_bag(tmp_path) -> tuple[Path, dict[str, list[int]]]:
    bag = tmp_path / "replay_bag"
    stamps = _make_bag(bag)
    with BagReader(bag) as r:
        assert r.message_count == sum(len(v) for v in stamps.values())
    return bag, stamps


def test_two_process_replay_with_sim_time(small_bag):
    from sensor_msgs.msg import Image
    from tf2_msgs.msg import TFMessage

    from hoi_msgs.msg import HumanPose3DArray

    bag, expected = small_bag
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
             "-p", f"bag_path:={bag}",
             "-p", "topics_include:=[/test_replay/*, /tf_static]",
             "-p", "wait_for_subscribers:=true",
             "-p", "wait_for_subscribers_timeout_s:=20.0",
             "-p", "clock_rate_hz:=50.0",
             "-p", "linger_s:=1.0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy(),
        )

        def complete() -> bool:
            return all(len(got[t]) >= len(expected[t]) for t in expected) and clocks and clocks[-1] >= max(
                expected[IMAGE_TOPIC])

        end = time.monotonic() + TIMEOUT_S
        while not complete() and time.monotonic() < end and proc.poll() is None:
            executor.spin_once(timeout_sec=0.05)
        # drain what is still in flight, briefly
        for _ in range(20):
            executor.spin_once(timeout_sec=0.01)
        out = proc.communicate(timeout=TIMEOUT_S)[0]
        assert proc.returncode == 0, out
        assert "done:" in out, out

        assert got[IMAGE_TOPIC] == expected[IMAGE_TOPIC], out
        assert got[HUMANS_TOPIC] == expected[HUMANS_TOPIC], out
        assert got["/tf_static"] == expected["/tf_static"], out
        assert [bytes(m.data)[0] for m in images] == list(range(N))

        assert clocks, "no /clock received"
        assert clocks == sorted(clocks), "/clock went backwards"
        assert clocks[0] >= T0 and clocks[-1] == max(expected[IMAGE_TOPIC])
        # every recorded stamp was announced on /clock before/with its message
        assert set(expected[IMAGE_TOPIC]) <= set(clocks)
        # the node's ROS clock follows /clock
        assert node.get_clock().now().nanoseconds == clocks[-1]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        rclpy.try_shutdown(context=context)
