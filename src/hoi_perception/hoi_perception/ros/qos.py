"""QoS profiles of the stack, one place for all nodes.

Why each:

* :func:`sensor_data_qos` (``SENSOR_DATA_QOS``, depth 5): camera images,
  depth, camera_info subscriptions. Best effort + keep last: a late frame is
  worth less than the next one, and a slow subscriber must never make the
  publisher block or resend (the ZED wrapper and image_transport publish best
  effort / sensor-data QoS too; a *reliable* subscription would not match a
  best-effort publisher, while best effort matches both). Volatile: old
  frames are useless to a late joiner. The depth is small on purpose; the
  synchronizer holds its own bounded queues.
* ``TF_QOS``: ``/tf``, as tf2_ros' Dynamic{Broadcaster,Listener}QoS:
  reliable, volatile, keep last 100. Transforms are small and a lost one
  leaves a gap in the buffer that lookups interpolate over badly.
* ``TF_STATIC_QOS``: ``/tf_static`` publisher, as tf2_ros'
  StaticBroadcasterQoS: reliable, transient local, keep last 1, so a node
  started later still receives the static tree (the broadcaster merges all
  static transforms into that one message). ``TF_STATIC_LISTENER_QOS`` is
  the listener side (keep last 100, transient local) so several static
  publishers are all received.
* ``LATCHED_QOS``: reliable, transient local, keep last 1: outputs whose last
  value stays valid until replaced and must reach late joiners (e.g. a
  calibration, a model/engine description, static markers).
* :func:`reliable_qos` (``RELIABLE_QOS``, depth 10): the perception outputs
  (``/hoi/humans``, ``/hoi/tracks``, markers, ``/diagnostics``): low rate,
  every message matters to a recorder or a downstream tracker; volatile since
  stale results should not be replayed to a new subscriber. A reliable
  publisher still matches best-effort subscribers (RViz default).
"""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy


def sensor_data_qos(depth: int = 5) -> QoSProfile:
    """Best effort, keep last ``depth``, volatile (rclpy's qos_profile_sensor_data with a chosen depth)."""
    if depth < 1:
        raise ValueError(f"QoS depth must be >= 1, got {depth}")
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=int(depth),
        reliability=ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.VOLATILE,
    )


def reliable_qos(depth: int = 10) -> QoSProfile:
    """Reliable, keep last ``depth``, volatile."""
    if depth < 1:
        raise ValueError(f"QoS depth must be >= 1, got {depth}")
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=int(depth),
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )


SENSOR_DATA_QOS = sensor_data_qos(5)

# camera_info is ~400 bytes and comes with every frame; a node blocked for a few seconds (a large
# image being deserialised, a slow first inference) must not let a changed or broken one be
# overwritten unseen, so its queue is deeper than an image queue.
CAMERA_INFO_DEPTH = 50
RELIABLE_QOS = reliable_qos(10)

TF_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=100,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

TF_STATIC_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

TF_STATIC_LISTENER_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=100,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
