"""Messages of several topics grouped into frames by stamp, without ROS (the
track_fusion node's alignment).

A message joins the pending frame within ``tolerance_ns`` of its stamp that
has nothing from its topic yet, else opens a new frame. A frame is released,
oldest first, when every topic has either sent its message for it or moved
past it (sent a newer one: it dropped that frame), or when the newest message
is ``max_wait_ns`` ahead of it in message time (a silent topic). A message
older than the last released frame is late (counted, dropped); a stamp going
back by more than ``loop_threshold_ns`` (a bag loop) resets the aligner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class AlignedFrame:
    stamp_ns: int  # the first message's stamp
    messages: dict[str, Any] = field(default_factory=dict)  # topic -> message
    complete: bool = False  # every topic is in it


class FrameAligner:
    def __init__(self, topics: Sequence[str], tolerance_ns: int, max_wait_ns: int,
                 loop_threshold_ns: int = 1_000_000_000) -> None:
        if not topics or len(set(topics)) != len(topics):
            raise ValueError(f"topics must be distinct and not empty, got {list(topics)}")
        if tolerance_ns <= 0 or max_wait_ns < 0:
            raise ValueError("tolerance_ns must be > 0 and max_wait_ns >= 0")
        self.topics = list(topics)
        self.tolerance_ns = int(tolerance_ns)
        self.max_wait_ns = int(max_wait_ns)
        self.loop_threshold_ns = int(loop_threshold_ns)
        self.pending: list[AlignedFrame] = []
        self.newest_ns: int | None = None
        self.latest_by_topic: dict[str, int] = {}
        self.last_released_ns: int | None = None
        self.counters = {"messages": 0, "late_messages": 0, "resets": 0, "incomplete_frames": 0}

    def reset(self) -> None:
        self.pending.clear()
        self.newest_ns = None
        self.last_released_ns = None
        self.latest_by_topic.clear()

    def add(self, topic: str, stamp_ns: int, message: Any) -> tuple[bool, list[AlignedFrame]]:
        """(reset happened, frames released now, oldest first)."""
        if topic not in self.topics:
            raise ValueError(f"unknown topic {topic!r}")
        self.counters["messages"] += 1
        reset = self.newest_ns is not None and stamp_ns < self.newest_ns - self.loop_threshold_ns
        if reset:
            self.reset()
            self.counters["resets"] += 1
        if self.last_released_ns is not None and stamp_ns <= self.last_released_ns - self.tolerance_ns:
            self.counters["late_messages"] += 1  # its frame was released without it already
            return reset, []
        self.newest_ns = stamp_ns if self.newest_ns is None else max(self.newest_ns, stamp_ns)
        self.latest_by_topic[topic] = max(stamp_ns, self.latest_by_topic.get(topic, stamp_ns))
        frame = next((f for f in self.pending if abs(f.stamp_ns - stamp_ns) <= self.tolerance_ns
                      and topic not in f.messages), None)
        if frame is None:
            frame = AlignedFrame(stamp_ns)
            self.pending.append(frame)
            self.pending.sort(key=lambda f: f.stamp_ns)
        frame.messages[topic] = message
        return reset, self._release()

    def _release(self) -> list[AlignedFrame]:
        out = []
        while self.pending:
            f = self.pending[0]
            f.complete = len(f.messages) == len(self.topics)
            passed = all(t in f.messages or self.latest_by_topic.get(t, f.stamp_ns) > f.stamp_ns + self.tolerance_ns
                         for t in self.topics)
            expired = self.newest_ns is not None and self.newest_ns - f.stamp_ns > self.max_wait_ns
            if not (f.complete or passed or expired):
                break
            self.pending.pop(0)
            if not f.complete:
                self.counters["incomplete_frames"] += 1
            self.last_released_ns = f.stamp_ns
            out.append(f)
        return out
