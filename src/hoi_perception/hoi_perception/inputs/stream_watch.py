"""Which of a node's input streams (the cameras of a group) have stopped.

``seen(name)`` on every message of a stream; ``check()`` (from a timer)
returns the transitions since the last call: a stream silent for longer than
``stopped_after_s`` is reported stopped once, and resumed once when it sends
again, so the node logs one line per change instead of nothing (the
synchronizer's "partial" sets hide a missing camera) or one per set.
A stream that never sent is not "stopped" (it is reported by what the group
lacks); ROS-free, the clock is injectable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StreamChange:
    name: str
    stopped: bool  # False: resumed
    silent_s: float


@dataclass
class StreamWatch:
    names: Sequence[str]
    stopped_after_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    last_seen: dict[str, float] = field(default_factory=dict)
    stopped: set[str] = field(default_factory=set)
    stops: int = 0

    def __post_init__(self) -> None:
        if not self.stopped_after_s > 0:
            raise ValueError(f"stopped_after_s must be > 0, got {self.stopped_after_s}")

    def seen(self, name: str) -> None:
        self.last_seen[name] = self.clock()

    def silent_s(self, name: str) -> float | None:
        """Seconds since the stream's last message (None: it never sent)."""
        t = self.last_seen.get(name)
        return None if t is None else self.clock() - t

    def check(self) -> list[StreamChange]:
        out = []
        for n in self.names:
            silent = self.silent_s(n)
            if silent is None:
                continue
            if silent > self.stopped_after_s and n not in self.stopped:
                self.stopped.add(n)
                self.stops += 1
                out.append(StreamChange(n, True, silent))
            elif silent <= self.stopped_after_s and n in self.stopped:
                self.stopped.discard(n)
                out.append(StreamChange(n, False, silent))
        return out
