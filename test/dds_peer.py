"""Peer process for test_foundation_dds.py: publishes one deterministic
message of every hoi_msgs type, /tf and /tf_static, then idles until killed
or until its time limit (it never outlives the test by more than that)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rclpy  # noqa: E402
from msg_fill import HOI_MSG_TYPES, fill, msg_class  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def main() -> None:
    seed = int(sys.argv[1])
    limit_s = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    rclpy.init()
    from hoi_perception.ros.tf import StaticTransformBroadcaster, TransformBroadcaster, transform_stamped

    node = rclpy.create_node("hoi_dds_peer")
    pubs = []
    for name in HOI_MSG_TYPES:
        pub = node.create_publisher(msg_class("hoi_msgs", name), f"/foundation_test/{name}", LATCHED)
        pub.publish(fill(msg_class("hoi_msgs", name), seed))
        pubs.append(pub)
    static = StaticTransformBroadcaster(node)
    # Two separate sends: the broadcaster must merge them into one message.
    static.send_transform(transform_stamped("world", "cam_00_optical_frame", 1_000, translation=[1.0, 2.0, 3.0]))
    static.send_transform(transform_stamped("world", "cam_01_optical_frame", 1_000, translation=[-1.0, 0.5, 2.0]))
    tf = TransformBroadcaster(node)
    print("published", flush=True)
    t0 = time.monotonic()
    i = 0
    while rclpy.ok() and time.monotonic() - t0 < limit_s:
        tf.send_transform(transform_stamped("world", "human_1", 2_000_000_000 + i, translation=[0.1 * i, 0.0, 0.9]))
        rclpy.spin_once(node, timeout_sec=0.05)
        i += 1
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
