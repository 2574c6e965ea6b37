"""Raw subscriptions to every topic matching fnmatch patterns, made as the topics appear.

What bag_recorder and episode_recorder share: the patterns are checked once
at start-up; ``discover()`` (a steady timer calls it) subscribes each new
matching topic with its stored CDR bytes (no deserialisation); latched topics
(any publisher offering transient local, e.g. /tf_static) are subscribed
transient local so samples published before the recorder joined arrive; a
topic whose type cannot be loaded is skipped with one ERROR line and kept in
``skipped``; messages DDS dropped before the recorder took them are counted
per topic from the publishers' sequence numbers (inputs/sequence_gaps.py).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from hoi_perception.inputs.sequence_gaps import SequenceGapCounter
from hoi_perception.nodes.sync_monitor import message_type

_PATTERN_OK = re.compile(r"^/?[A-Za-z0-9_/~{}*?\[\]!]+$")
LATCHED_DEPTH = 100


def check_patterns(patterns: Sequence[object], what: str = "'topics'") -> list[str]:
    """The patterns as strings; ValueError (one line, the node exits 2) if empty or not topic-like."""
    if not patterns or not all(isinstance(t, str) and t for t in patterns):
        raise ValueError(f"parameter {what} must be a non-empty list of topic names or patterns, got {list(patterns)!r}")
    bad = [t for t in patterns if not _PATTERN_OK.match(str(t))]
    if bad:
        raise ValueError(f"parameter {what}: not a topic name or pattern: {bad}")
    return [str(t) for t in patterns]


class PatternSubscriber:
    """``add_topic(topic, type_name, latched)`` is called before a topic is subscribed (raising
    skips it); ``on_message(topic, cdr_bytes)`` for each message; ``on_lost(topic, n)`` when n
    messages of a publisher were skipped before one that arrived."""

    def __init__(self, node: Node, patterns: Sequence[str], qos_depth: int,
                 add_topic: Callable[[str, str, bool], None], on_message: Callable[[str, bytes], None],
                 on_lost: Callable[[str, int], None] | None = None) -> None:
        self._node = node
        self.patterns = list(patterns)
        self.qos_depth = int(qos_depth)
        self._add_topic, self._on_message, self._on_lost = add_topic, on_message, on_lost
        self.received: dict[str, int] = {}
        self.skipped: dict[str, str] = {}  # topic -> why
        self.transport_lost: dict[str, int] = {}
        self._gaps: dict[str, SequenceGapCounter] = {}

    def discover(self) -> None:
        node = self._node
        for topic, types in node.get_topic_names_and_types():
            if topic in self.received or topic in self.skipped:
                continue
            if not any(fnmatch.fnmatchcase(topic, p) for p in self.patterns):
                continue
            type_name = types[0]
            try:
                cls = message_type(type_name)
                latched = any(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
                              for i in node.get_publishers_info_by_topic(topic))
                self._add_topic(topic, type_name, latched)
            except Exception as e:  # noqa: BLE001 - unknown type in the typestore, or not importable
                self.skipped[topic] = f"{type_name}: {e}"
                node.get_logger().error(f"cannot record {topic} ({type_name}): {e}")
                continue
            qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=LATCHED_DEPTH if latched else self.qos_depth,
                             reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)
            self.received[topic] = 0
            self._gaps[topic] = SequenceGapCounter()
            node.create_subscription(cls, topic, self._callback(topic), qos, raw=True)
            node.get_logger().info(f"recording {topic} ({type_name}{', latched' if latched else ''})")

    def _callback(self, topic: str) -> Callable[[bytes, Any], None]:
        gaps = self._gaps[topic]

        # Two parameters: rclpy then passes the MessageInfo with the publisher's sequence number.
        def on_message(data: bytes, info: Any) -> None:
            self.received[topic] += 1
            if isinstance(info, dict):
                gid = info.get("publisher_gid")
                key = bytes(gid["data"]) if isinstance(gid, dict) and "data" in gid else repr(gid)
                lost = gaps.update(key, info.get("publication_sequence_number"))
                if lost:
                    self.transport_lost[topic] = gaps.lost
                    if self._on_lost is not None:
                        self._on_lost(topic, lost)
            self._on_message(topic, data)

        return on_message
