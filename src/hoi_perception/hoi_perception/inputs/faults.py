"""Counting rejected inputs and dropped frames by reason, and logging each once.

A node owns one :class:`FaultLedger`. Every input fault and every frame it
drops (rate limit, busy, queue overflow, sync) goes through ``record()``,
which counts it under its reason and says whether it should be logged: the
first occurrence of a reason is logged in full, later ones at most every
``relog_every_s`` seconds with the running count, so a faulty camera at 30 Hz
cannot flood the log but is never silent.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class FaultLedger:
    relog_every_s: float = 10.0
    clock: Callable[[], float] = time.monotonic
    rejected: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    _last_log: dict[str, float] = field(default_factory=dict)

    def reject(self, reason: str) -> bool:
        """Count a rejected input; True when this occurrence should be logged."""
        self.rejected[reason] += 1
        return self._should_log("reject:" + reason)

    def drop(self, reason: str, n: int = 1) -> bool:
        """Count frames dropped for ``reason``; True when worth a log line."""
        self.dropped[reason] += n
        return self._should_log("drop:" + reason)

    def _should_log(self, key: str) -> bool:
        now = self.clock()
        last = self._last_log.get(key)
        if last is None or now - last >= self.relog_every_s:
            self._last_log[key] = now
            return True
        return False

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    def values(self) -> dict[str, int]:
        """Flat key/value pairs for a DiagnosticStatus (``rejected.<reason>``, ``dropped.<reason>``)."""
        out: dict[str, int] = {"rejected": self.total_rejected, "dropped": self.total_dropped}
        out.update({f"rejected.{k}": v for k, v in sorted(self.rejected.items())})
        out.update({f"dropped.{k}": v for k, v in sorted(self.dropped.items())})
        return out

    def summary(self) -> str:
        parts = [f"{k}={v}" for k, v in sorted(self.rejected.items())]
        parts += [f"dropped:{k}={v}" for k, v in sorted(self.dropped.items())]
        return ", ".join(parts) if parts else "no faults"
