"""TF publishing and listening without tf2_ros (not on PyPI).

Behaves like tf2_ros' broadcasters so RViz, tf2 listeners and rosbag2 on a
full ROS 2 install see the same thing:

* :class:`TransformBroadcaster` publishes on ``/tf`` with tf2_ros'
  ``DynamicBroadcasterQoS``: reliable, volatile, keep last 100;
* :class:`StaticTransformBroadcaster` publishes on ``/tf_static`` with
  ``StaticBroadcasterQoS``: reliable, transient local, keep last 1. Because
  only one message is kept per publisher, every static transform this
  broadcaster ever sent is merged (keyed by child frame) into that one
  message, so a late joiner gets all of them;
* :class:`TfListener` fills a :class:`hoi_perception.geometry.tf_buffer.TfBuffer`
  (transforms over time, tf2 lookup semantics) from /tf and /tf_static.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
from geometry_msgs.msg import TransformStamped
from numpy.typing import ArrayLike
from rclpy.node import Node
from rclpy.qos import QoSProfile
from tf2_msgs.msg import TFMessage

from hoi_perception.geometry.rotations import matrix_to_quat
from hoi_perception.geometry.tf_buffer import InvalidTransform, TfBuffer
from hoi_perception.ros.qos import TF_QOS, TF_STATIC_LISTENER_QOS, TF_STATIC_QOS
from hoi_perception.ros.time import ns_from_stamp, stamp_from_ns

TF_TOPIC = "/tf"
TF_STATIC_TOPIC = "/tf_static"

def transform_stamped(
    parent: str,
    child: str,
    stamp_ns: int,
    matrix: ArrayLike | None = None,
    translation: ArrayLike | None = None,
    quaternion_xyzw: ArrayLike | None = None,
) -> TransformStamped:
    """A TransformStamped from a 4x4 matrix or a translation + (x, y, z, w).

    The transform maps points from ``child`` into ``parent`` (parent_from_child),
    as tf2 defines it.
    """
    if matrix is not None:
        m = np.asarray(matrix, dtype=np.float64)
        translation = m[:3, 3]
        quaternion_xyzw = matrix_to_quat(m[:3, :3])
    t = np.zeros(3) if translation is None else np.asarray(translation, dtype=np.float64)
    q = np.array([0.0, 0.0, 0.0, 1.0]) if quaternion_xyzw is None else np.asarray(quaternion_xyzw, dtype=np.float64)
    msg = TransformStamped()
    msg.header.stamp = stamp_from_ns(stamp_ns)
    msg.header.frame_id = parent
    msg.child_frame_id = child
    msg.transform.translation.x, msg.transform.translation.y, msg.transform.translation.z = (float(v) for v in t)
    r = msg.transform.rotation
    r.x, r.y, r.z, r.w = (float(v) for v in q)
    return msg


class TransformBroadcaster:
    """Publishes dynamic transforms on /tf (tf2_ros.TransformBroadcaster)."""

    def __init__(self, node: Node, topic: str = TF_TOPIC, qos: QoSProfile = TF_QOS) -> None:
        self._pub = node.create_publisher(TFMessage, topic, qos)

    def send_transform(self, transforms: TransformStamped | Sequence[TransformStamped]) -> None:
        if isinstance(transforms, TransformStamped):
            transforms = [transforms]
        if transforms:
            self._pub.publish(TFMessage(transforms=list(transforms)))

    # tf2_ros spelling, so code written against tf2_ros reads the same.
    sendTransform = send_transform  # noqa: N815


class StaticTransformBroadcaster:
    """Publishes static transforms on /tf_static (tf2_ros.StaticTransformBroadcaster).

    All transforms sent so far are merged by child frame and republished as
    one message, because the transient-local publisher keeps only the last.
    """

    def __init__(self, node: Node, topic: str = TF_STATIC_TOPIC, qos: QoSProfile = TF_STATIC_QOS) -> None:
        self._pub = node.create_publisher(TFMessage, topic, qos)
        self._by_child: dict[str, TransformStamped] = {}

    def send_transform(self, transforms: TransformStamped | Iterable[TransformStamped]) -> None:
        if isinstance(transforms, TransformStamped):
            transforms = [transforms]
        for t in transforms:
            self._by_child[t.child_frame_id] = t
        self._pub.publish(TFMessage(transforms=list(self._by_child.values())))

    sendTransform = send_transform  # noqa: N815

    @property
    def frames(self) -> list[str]:
        return list(self._by_child)


def add_transform_msg(buffer: TfBuffer, t: TransformStamped, static: bool) -> bool:
    """Store one geometry_msgs/TransformStamped (raises InvalidTransform)."""
    tr, q = t.transform.translation, t.transform.rotation
    return buffer.set_transform(t.header.frame_id, t.child_frame_id, ns_from_stamp(t.header.stamp),
                                [tr.x, tr.y, tr.z], [q.x, q.y, q.z, q.w], static=static)


class TfListener:
    """Fills a :class:`TfBuffer` from /tf and /tf_static (tf2_ros.TransformListener
    with its QoS: /tf reliable volatile keep last 100, /tf_static transient
    local). Refused transforms are counted and logged, throttled."""

    def __init__(self, node: Node, buffer: TfBuffer | None = None, static_only: bool = False,
                 on_update: Callable[[], None] | None = None) -> None:
        self.node = node
        self.buffer = buffer if buffer is not None else TfBuffer()
        self.invalid = 0
        # child frame -> why its last transform was refused (a NaN rotation, ...), for "camera X lacks what"
        self.refused: dict[str, str] = {}
        self.refused_old = 0
        self.on_update = on_update  # called after each message is stored (a late transform releases waiting work)
        node.create_subscription(TFMessage, TF_STATIC_TOPIC, lambda m: self._on(m, True), TF_STATIC_LISTENER_QOS)
        if not static_only:
            node.create_subscription(TFMessage, TF_TOPIC, lambda m: self._on(m, False), TF_QOS)

    def _on(self, msg: TFMessage, static: bool) -> None:
        for t in msg.transforms:
            try:
                if not add_transform_msg(self.buffer, t, static):
                    self.refused_old += 1
                    self.node.get_logger().warning(
                        f"{TF_STATIC_TOPIC if static else TF_TOPIC}: {t.header.frame_id} -> {t.child_frame_id} "
                        "older than the buffer's cache time, ignored", throttle_duration_sec=5.0)
            except InvalidTransform as e:
                self.invalid += 1
                self.refused[str(t.child_frame_id)] = f"{TF_STATIC_TOPIC if static else TF_TOPIC}: {e}"
                self.node.get_logger().warning(f"{TF_STATIC_TOPIC if static else TF_TOPIC}: {e} ({self.invalid} so far)",
                                               throttle_duration_sec=2.0)
        if self.on_update is not None:
            self.on_update()
