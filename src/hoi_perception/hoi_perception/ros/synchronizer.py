"""rclpy adapter of the approximate-time synchronizer (message_filters is not on PyPI).

Subscribes to K topics with sensor-data QoS (best effort, keep last, depth
from :class:`SyncConfig`), feeds ``header.stamp`` of each message to
:class:`hoi_perception.sync.ApproximateTimeSynchronizer` and calls the user
callback with every :class:`SyncedSet`. Drop counters come from the core
(per stream and reason) plus the DDS ``message_lost`` events where the RMW
reports them.

Example (a node)::

    cfg = SyncConfig.declare(self, "sync")
    self.sync = TopicSynchronizer(
        self, [(Image, "/zed/zed_node/left/image_rect_color"), (Image, "/zed/zed_node/depth/depth_registered"),
               (CameraInfo, "/zed/zed_node/left/camera_info")], self.on_set, cfg)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from rclpy.callback_groups import CallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile

from hoi_perception.inputs.sequence_gaps import SequenceGapCounter
from hoi_perception.ros.parameters import Param, declare_parameters
from hoi_perception.ros.qos import reliable_qos, sensor_data_qos
from hoi_perception.sync.approximate import ApproximateTimeSynchronizer, StreamPolicy, SyncedSet, SyncStats
from hoi_perception.sync.stamps import header_ns


@dataclass
class SyncConfig:
    queue_size: int = 10  # per-stream synchronizer queue
    qos_depth: int = 5  # subscription history depth
    max_interval_s: float = 0.0  # 0: unbounded, as message_filters' default
    age_penalty: float = 0.1
    stream_policy: str = StreamPolicy.WAIT.value  # "wait" | "partial"
    stream_timeout_s: float = 1.0  # "partial": message time a silent stream is waited for
    reset_threshold_s: float = 1.0  # a stream going back in time by more than this resets the state
    # Smallest spacing of two messages of one stream (e.g. 0.8 / fps). With it the
    # policy publishes a set as soon as no later message can beat it, instead of
    # waiting for the next frame (message_filters' setInterMessageLowerBound).
    inter_message_lower_bound_s: float = 0.0
    # "best_effort" (sensor data, drops under load rather than queueing) or
    # "reliable" (replays and file sources, where every frame should arrive;
    # large best-effort samples can also be lost in transport).
    qos_reliability: str = "best_effort"

    @classmethod
    def parameters(cls, defaults: SyncConfig | None = None) -> tuple[Param, ...]:
        """The fields as node parameters (without the prefix), defaults from ``defaults``."""
        base = defaults if defaults is not None else cls()
        return tuple(Param(f.name, getattr(base, f.name), *_SYNC_DOCS[f.name]) for f in fields(cls))

    @classmethod
    def declare(cls, node: Node, prefix: str = "sync", defaults: SyncConfig | None = None) -> SyncConfig:
        """Declare ``<prefix>.<field>`` parameters on the node (with descriptors) and read them."""
        values = declare_parameters(node, cls.parameters(defaults), prefix)
        return cls(**values)

    def synchronizer(self, num_streams: int) -> ApproximateTimeSynchronizer:
        return ApproximateTimeSynchronizer(
            num_streams,
            int(self.queue_size),
            max_interval_ns=int(self.max_interval_s * 1e9) if self.max_interval_s > 0 else None,
            age_penalty=float(self.age_penalty),
            stream_policy=StreamPolicy(self.stream_policy),
            stream_timeout_ns=int(self.stream_timeout_s * 1e9),
            reset_threshold_ns=int(self.reset_threshold_s * 1e9),
            inter_message_lower_bounds_ns=[int(self.inter_message_lower_bound_s * 1e9)] * num_streams,
        )


# field -> (description, min, max[, choices]) of the sync.* parameters
_SYNC_DOCS: dict[str, tuple[Any, ...]] = {
    "queue_size": ("messages kept per stream while waiting for a set (message_filters queue_size)", 1, 10000),
    "qos_depth": ("subscription history depth (keep last)", 1, 10000),
    "max_interval_s": ("largest stamp spread within one set, seconds; 0: unbounded (message_filters' default)",
                       0.0, 3600.0),
    "age_penalty": ("weight against older messages when choosing a set (message_filters age_penalty)", 0.0, 1000.0),
    "stream_policy": ("wait: a silent stream blocks sets (message_filters); partial: it is named missing after "
                      "stream_timeout_s", None, None, ("wait", "partial")),
    "stream_timeout_s": ("partial policy: message time a silent stream is waited for, seconds", 0.0, 3600.0),
    "reset_threshold_s": ("a stream going back in time by more than this (a bag loop) resets the synchronizer, "
                          "seconds", 0.0, 3600.0),
    "inter_message_lower_bound_s": ("smallest spacing of two messages of one stream (e.g. 0.8 / fps); lets a set "
                                    "out without waiting for the next frame, seconds", 0.0, 3600.0),
    "qos_reliability": ("best_effort (sensor data, drops under load) or reliable (replays, file sources)",
                        None, None, ("best_effort", "reliable")),
}


class TopicSynchronizer:
    """K subscriptions -> synchronized sets -> ``callback(SyncedSet)``.

    ``topics``: (message type, topic name) per stream; stream i of every set
    is ``topics[i]``. Types without a header are stamped with the node clock
    on arrival (message_filters' allow_headerless). Exceptions raised by the
    callback are logged and counted (``callback_errors``), never propagated
    into the executor.
    """

    def __init__(
        self,
        node: Node,
        topics: Sequence[tuple[type, str]],
        callback: Callable[[SyncedSet], None],
        config: SyncConfig | None = None,
        *,
        qos: QoSProfile | None = None,
        callback_group: CallbackGroup | None = None,
        admit: Callable[[int, Any], bool] | None = None,
    ) -> None:
        if not topics:
            raise ValueError("TopicSynchronizer needs at least one topic")
        self.config = config if config is not None else SyncConfig()
        self._node = node
        # admit(stream, msg) -> False keeps a message out of the queues (a 0x0 or
        # oversized image is rejected from its header before it is held or converted)
        self._admit = admit
        self._callback = callback
        self._sync = self.config.synchronizer(len(topics))
        self._lock = threading.Lock()
        self.topics = [name for _, name in topics]
        self.callback_errors = 0
        self._lost = [0] * len(topics)
        # per stream: messages the node never took (its subscription history overwrote them while it was
        # busy, or the transport lost them), from the publishers' sequence numbers
        self._gaps = [SequenceGapCounter() for _ in topics]
        if qos is not None:
            profile = qos
        elif self.config.qos_reliability == "reliable":
            profile = reliable_qos(int(self.config.qos_depth))
        elif self.config.qos_reliability == "best_effort":
            profile = sensor_data_qos(int(self.config.qos_depth))
        else:
            raise ValueError(f"qos_reliability must be best_effort or reliable, got {self.config.qos_reliability!r}")
        self._subs = []
        for i, (msg_type, name) in enumerate(topics):
            has_header = "header" in getattr(msg_type, "get_fields_and_field_types", dict)()
            self._subs.append(
                node.create_subscription(
                    msg_type,
                    name,
                    self._make_handler(i, has_header),
                    profile,
                    callback_group=callback_group,
                    event_callbacks=self._event_callbacks(i),
                )
            )

    # --------------------------------------------------------------- public

    def stats(self) -> SyncStats:
        with self._lock:
            return self._sync.stats()

    @property
    def not_taken(self) -> tuple[int, ...]:
        """Per stream, messages published but never taken by the node (sequence-number gaps: the keep-last
        subscription history overwrote them while the node was busy, or transport loss)."""
        return tuple(g.lost for g in self._gaps)

    @property
    def lost_messages(self) -> tuple[int, ...]:
        """Per stream, messages the middleware reported lost before delivery."""
        return tuple(self._lost)

    def reset(self) -> None:
        with self._lock:
            self._sync.reset()

    def destroy(self) -> None:
        for sub in self._subs:
            self._node.destroy_subscription(sub)
        self._subs = []

    # ------------------------------------------------------------ internals

    def _make_handler(self, index: int, has_header: bool) -> Callable[[Any], None]:
        clock = self._node.get_clock()

        gaps = self._gaps[index]

        def handler(msg: Any, info: Any) -> None:
            gid = info.get("publisher_gid") if isinstance(info, dict) else None
            key = bytes(gid["data"]) if isinstance(gid, dict) and "data" in gid else None
            gaps.update(key, info.get("publication_sequence_number") if isinstance(info, dict) else None)
            if self._admit is not None and not self._admit(index, msg):
                return
            stamp = header_ns(msg) if has_header else clock.now().nanoseconds
            self.on_message(index, stamp, msg)

        return handler

    def on_message(self, index: int, stamp_ns: int, msg: Any) -> None:
        """Feed one message (what the subscriptions call; usable directly, e.g. from a bag)."""
        with self._lock:
            sets = self._sync.add(index, stamp_ns, msg)
        for s in sets:
            try:
                self._callback(s)
            except Exception as exc:  # a callback bug must not kill the executor
                self.callback_errors += 1
                self._node.get_logger().error(
                    f"synchronized callback failed ({self.callback_errors} so far): {exc!r}",
                    throttle_duration_sec=5.0,
                )

    def _event_callbacks(self, index: int) -> Any:
        try:
            from rclpy.event_handler import SubscriptionEventCallbacks
        except ImportError:  # older rclpy
            return None

        def lost(info: Any) -> None:
            self._lost[index] += int(getattr(info, "total_count_change", 0))

        return SubscriptionEventCallbacks(message_lost=lost)  # defaults still log incompatible QoS
