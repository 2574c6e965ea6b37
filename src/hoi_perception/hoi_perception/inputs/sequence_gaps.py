"""Messages a subscriber never took, from the publishers' sequence numbers.

A busy node's keep-last subscription history overwrites samples it has not
taken yet, and a best-effort transport loses some; neither shows up in any
callback. Each received message carries its publisher's id and publication
sequence number (rmw message info), so the gaps per publisher are exactly the
messages lost before the node saw them. A sequence number that goes back
means the publisher restarted: a new baseline, nothing counted.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field


@dataclass
class SequenceGapCounter:
    lost: int = 0
    _last: dict[Hashable, int] = field(default_factory=dict)

    def update(self, publisher: Hashable, seq: int | None) -> int:
        """Record one received message; returns how many of this publisher's were skipped before it."""
        if seq is None or seq <= 0:  # the RMW does not report sequence numbers
            return 0
        last = self._last.get(publisher)
        self._last[publisher] = seq
        if last is None or seq <= last:
            return 0
        gap = seq - last - 1
        self.lost += gap
        return gap
