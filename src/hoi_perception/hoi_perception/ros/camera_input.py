"""The camera side of a one-camera node (body_pose, objects_hands), ROS half.

The checks live in core (inputs/camera_guard.CameraInputGuard); this shell
wires them to ROS: header checks before the synchronizer queues an image (an
8000x8000 one is never converted), camera_info kept by stamp (each frame
takes the one whose stamp matches, else the newest not newer), and frames
that came before the first good camera_info (discovery order) held and then
processed through the node's own error guard. camera_info is not a
synchronized stream: one lost info sample must not cost a frame.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from hoi_perception.inputs.camera_guard import CameraInputGuard
from hoi_perception.ros.diagnostics import RateMonitor
from hoi_perception.ros.qos import CAMERA_INFO_DEPTH, reliable_qos, sensor_data_qos
from hoi_perception.ros.time import ns_from_stamp
from hoi_perception.sync.approximate import SyncedSet


class CameraInput:
    def __init__(self, node: Node, guard: CameraInputGuard[Any], info_topic: str, reliable: bool,
                 monitor: RateMonitor, process: Callable[[SyncedSet], None], max_held: int = 10) -> None:
        self._node, self.guard, self.info_topic = node, guard, info_topic
        self._monitor, self._process = monitor, process
        self._held: deque[SyncedSet] = deque(maxlen=max_held)
        self.missing_info = 0  # held frames given up before any camera_info came
        qos = reliable_qos(CAMERA_INFO_DEPTH) if reliable else sensor_data_qos(CAMERA_INFO_DEPTH)
        node.create_subscription(CameraInfo, info_topic, self.on_camera_info, qos)

    def admit(self, topic: str, msg: Image) -> bool:
        """Header checks (empty frame_id, 0x0, oversized); a refused image is counted and named."""
        ok, line = self.guard.admit_image(msg, topic)
        if not ok:
            self._monitor.errors += 1
            if line:
                self._node.get_logger().warning(line)
        return ok

    def on_camera_info(self, msg: CameraInfo) -> None:
        first = not self.guard.has_camera_info
        ok, line = self.guard.add_camera_info(ns_from_stamp(msg.header.stamp), msg.k, msg.width, msg.height, msg,
                                              self.info_topic)
        if line:
            self._node.get_logger().warning(line + "; the last good camera_info stays in use")
        if ok and first and self._held:
            held, self._held = list(self._held), deque(maxlen=self._held.maxlen)
            for s in held:
                self._process(s)

    def hold_until_info(self, s: SyncedSet) -> bool:
        """True if the frame is held (no camera_info yet); the oldest held one is given up, counted."""
        if self.guard.has_camera_info:
            return False
        if len(self._held) == self._held.maxlen:
            self.missing_info += 1
            self._monitor.drop("no_camera_info")
            line = self.guard.drop("no_camera_info", f"no camera_info on {self.info_topic} yet: oldest held "
                                   "frame dropped")
            if line:
                self._node.get_logger().warning(line)
        self._held.append(s)
        return True
