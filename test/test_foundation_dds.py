"""Two processes exchange every hoi_msgs type, /tf and /tf_static over Fast DDS
on the loopback (conftest.py confines discovery to LOCALHOST)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy
from msg_fill import HOI_MSG_TYPES, fill, msg_class
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

HERE = Path(__file__).resolve().parent
OFFICIAL_TFMESSAGE_HASH = "RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087"
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
SEED = 5


@pytest.fixture()
def peer():
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "dds_peer.py"), str(SEED), "40"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "published", proc.stderr.read()
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _spin_until(node, done, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not done() and time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)


def test_every_hoi_msg_type_tf_and_late_tf_static_cross_processes(peer):
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("hoi_dds_test", context=context)
        received: dict[str, object] = {}
        for name in HOI_MSG_TYPES:
            node.create_subscription(msg_class("hoi_msgs", name), f"/foundation_test/{name}",
                                     lambda m, n=name: received.setdefault(n, m), LATCHED)
        tf_msgs: list[TFMessage] = []
        node.create_subscription(TFMessage, "/tf", tf_msgs.append,
                                 QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        end = time.monotonic() + 30
        while (len(received) < len(HOI_MSG_TYPES) or len(tf_msgs) < 3) and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        assert sorted(received) == sorted(HOI_MSG_TYPES)
        for name in HOI_MSG_TYPES:
            expected = fill(msg_class("hoi_msgs", name), SEED)
            # field-wise equality: byte comparison would also compare CDR padding (after Hand3D's uint8
            # handedness), which the serializer need not zero
            assert received[name] == expected, name
        assert len(tf_msgs) >= 3
        assert tf_msgs[0].transforms[0].child_frame_id == "human_1"
        assert tf_msgs[0].transforms[0].header.frame_id == "world"

        # Late joiner: subscribe to /tf_static well after the peer published it.
        static_msgs: list[TFMessage] = []
        node.create_subscription(TFMessage, "/tf_static", static_msgs.append, LATCHED)
        end = time.monotonic() + 20
        while not static_msgs and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        assert static_msgs, "late-joining subscriber got no /tf_static"
        frames = {t.child_frame_id: t for t in static_msgs[-1].transforms}
        assert set(frames) == {"cam_00_optical_frame", "cam_01_optical_frame"}
        assert frames["cam_00_optical_frame"].transform.translation.z == 3.0
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_tfmessage_type_hash_is_the_official_one():
    # make setup installs interface packages into the venv prefix
    share = Path(sys.prefix) / "share" / "tf2_msgs"
    desc = json.loads((share / "msg" / "TFMessage.json").read_text())
    hashes = {h["type_name"]: h["hash_string"] for h in desc["type_hashes"]}
    assert hashes["tf2_msgs/msg/TFMessage"] == OFFICIAL_TFMESSAGE_HASH


def test_static_broadcaster_merges_by_child_frame():
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        from hoi_perception.ros.tf import StaticTransformBroadcaster, transform_stamped

        node = rclpy.create_node("hoi_static_merge", context=context)
        b = StaticTransformBroadcaster(node)
        b.send_transform(transform_stamped("world", "a", 1, translation=[1, 0, 0]))
        b.send_transform(transform_stamped("world", "b", 1, translation=[2, 0, 0]))
        b.send_transform(transform_stamped("world", "a", 2, translation=[3, 0, 0]))  # replaces a
        assert b.frames == ["a", "b"]
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
