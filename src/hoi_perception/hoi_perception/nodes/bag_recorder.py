"""Record topics into a rosbag2 MCAP bag (rosbag2_py / `ros2 bag record`
are not on PyPI).

Subscribes to every configured topic as serialized CDR (no deserialization,
so any message type is recorded as it was sent), creating subscriptions as
topics appear in the graph, and writes them with the receive time as log time
through hoi_perception.bag (rosbags, metadata.yaml included). Message types
must be known to the bag typestore (ROS 2 standard types + hoi_msgs); a topic
of an unknown type is reported and skipped, never silently lost. The bag is
closed properly on Ctrl-C, so what was recorded stays readable.
"""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from hoi_perception.bag.io import BagWriter
from hoi_perception.nodes.sync_monitor import message_type
from hoi_perception.ros.node_main import run_node


class BagRecorder(Node):
    def __init__(self) -> None:
        super().__init__("bag_recorder")
        self.out = str(self.declare_parameter("output", "").value)
        self.patterns = list(self.declare_parameter("topics", ["/hoi/*"]).value)
        self.compress = bool(self.declare_parameter("compress", True).value)
        period = float(self.declare_parameter("discovery_period_s", 0.5).value)
        if not self.out:
            raise ValueError("parameter 'output' (bag directory to create) is required")
        if Path(self.out).exists():
            raise ValueError(f"output {self.out} exists; refusing to overwrite a recording")
        self.writer = BagWriter(self.out, compress=self.compress).open()
        self.counts: dict[str, int] = {}
        self.skipped: dict[str, str] = {}
        self.write_errors = 0
        self.create_timer(period, self.discover)
        self.discover()
        self.get_logger().info(f"recording {self.patterns} into {self.out}")

    def discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self.counts or topic in self.skipped:
                continue
            if not any(fnmatch.fnmatchcase(topic, p) for p in self.patterns):
                continue
            type_name = types[0]
            try:
                cls = message_type(type_name)
                self.writer.add_topic(topic, type_name)
            except Exception as e:  # unknown type in the typestore, or not importable
                self.skipped[topic] = f"{type_name}: {e}"
                self.get_logger().error(f"cannot record {topic} ({type_name}): {e}")
                continue
            # transient local catches latched topics (/tf_static) published before we joined
            latched = any(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
                          for i in self.get_publishers_info_by_topic(topic))
            qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)
            self.counts[topic] = 0
            self.create_subscription(cls, topic, lambda data, t=topic: self.on_message(t, data), qos, raw=True)
            self.get_logger().info(f"recording {topic} ({type_name})")

    def on_message(self, topic: str, data: bytes) -> None:
        try:
            self.writer.write_raw(topic, self.get_clock().now().nanoseconds, data)
            self.counts[topic] += 1
        except Exception as e:
            self.write_errors += 1
            self.get_logger().error(f"write failed on {topic}: {e} ({self.write_errors} errors)",
                                    throttle_duration_sec=2.0)

    def close(self) -> None:
        self.writer.close()

    def summary(self) -> str:
        lines = [f"bag_recorder: wrote {sum(self.counts.values())} messages to {self.out}"]
        lines += [f"  {t}: {n}" for t, n in sorted(self.counts.items())]
        lines += [f"  skipped {t}: {why}" for t, why in sorted(self.skipped.items())]
        if self.write_errors:
            lines.append(f"  {self.write_errors} write errors")
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return run_node(BagRecorder, "bag_recorder", lambda node: node.summary(), argv)


if __name__ == "__main__":
    sys.exit(main())
