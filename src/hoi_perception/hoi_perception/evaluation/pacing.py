"""Deterministic replay pacing, free of ROS.

A replay is deterministic when every input frame reaches every node and is
processed: no queue overflows, no frame skipped because the node was busy.
:class:`FramePacer` gets that by pacing the player on the graph's outputs
instead of on the wall clock. Each *await* pairs an output topic with the
bag topic whose frames it answers (``/hoi/humans`` answers
``/zed/zed_node/left/image_rect_color``). Before the player publishes frame
``k`` of a trigger topic it waits until each output paced on it has answered
frame ``k - window``: the output has a message stamped at or after that
frame's stamp minus a tolerance. ``window`` > 1 lets nodes whose
approximate-time synchronizer holds a set until the next frame arrives
(message_filters' policy) keep going; ``window`` frames in flight stay below
any subscriber queue depth, so nothing is lost on the way.

A wait that runs past ``frame_timeout_s`` is counted (``timeouts``) and the
player goes on: a node that skips a frame must not stall the replay. After
the run, :meth:`FramePacer.summary` pairs every trigger frame with its first
output (latency = output arrival - frame publication, wall clock) and counts
frames without one (``missing``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

CDR_LE = b"\x00\x01"
CDR_BE = b"\x00\x00"


def header_stamp_ns(cdr: bytes) -> int | None:
    """Header stamp of a CDR message that starts with std_msgs/Header (every
    sensor and hoi_msgs message does), read without deserializing: the 4-byte
    encapsulation header, then int32 sec and uint32 nanosec. None if the
    encapsulation is not plain CDR or the bytes are too short."""
    if len(cdr) < 12:
        return None
    kind = cdr[:2]
    if kind == CDR_LE:
        sec, nsec = struct.unpack_from("<iI", cdr, 4)
    elif kind == CDR_BE:
        sec, nsec = struct.unpack_from(">iI", cdr, 4)
    else:
        return None
    if nsec >= 1_000_000_000:
        return None
    return sec * 1_000_000_000 + nsec


@dataclass(frozen=True)
class AwaitSpec:
    """An output topic the player waits for, and the bag topic whose frames it answers."""

    output: str
    trigger: str


@dataclass
class _AwaitState:
    spec: AwaitSpec
    max_stamp: int | None = None
    stamps: list[int] = field(default_factory=list)
    arrivals_ns: list[int] = field(default_factory=list)
    timeouts: int = 0


class FramePacer:
    """Which outputs the next frame waits for, and the per-frame bookkeeping.

    ``trigger_stamps``: per trigger topic, the header stamps of its frames in
    bag order. ``tolerance_ns``: per trigger topic, how far before a frame's
    stamp an output stamp may lie and still answer it (default half the
    median frame period: the node may stamp with another camera of the set).
    """

    def __init__(self, awaits: Sequence[AwaitSpec], trigger_stamps: Mapping[str, Sequence[int]], window: int = 2,
                 tolerance_ns: Mapping[str, int] | None = None) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = window
        self.trigger_stamps = {t: np.asarray(s, dtype=np.int64) for t, s in trigger_stamps.items()}
        self.awaits = {a.output: _AwaitState(a) for a in awaits if a.trigger in self.trigger_stamps}
        self.ignored = [a for a in awaits if a.trigger not in self.trigger_stamps]
        self.tolerance_ns = {t: (tolerance_ns or {}).get(t, _half_period(s)) for t, s in self.trigger_stamps.items()}
        self.published_ns: dict[str, dict[int, int]] = {t: {} for t in self.trigger_stamps}

    def outputs_for(self, trigger: str) -> list[str]:
        return [o for o, st in self.awaits.items() if st.spec.trigger == trigger]

    def required(self, trigger: str, index: int) -> list[tuple[str, int]]:
        """(output, frame index) pairs that must be answered before frame ``index`` of ``trigger`` goes out."""
        k = index - self.window
        if k < 0:
            return []
        return [(o, k) for o in self.outputs_for(trigger)]

    def remaining(self) -> list[tuple[str, int]]:
        """At the end: the last ``window`` frames of every trigger, still to be answered."""
        out = []
        for o, st in self.awaits.items():
            n = len(self.trigger_stamps[st.spec.trigger])
            out += [(o, k) for k in range(max(0, n - self.window), n)]
        return out

    def answered(self, output: str, index: int) -> bool:
        st = self.awaits[output]
        stamps = self.trigger_stamps[st.spec.trigger]
        if index >= len(stamps):
            return True
        return st.max_stamp is not None and st.max_stamp >= int(stamps[index]) - self.tolerance_ns[st.spec.trigger]

    def on_published(self, trigger: str, index: int, wall_ns: int) -> None:
        if trigger in self.published_ns:
            self.published_ns[trigger][index] = wall_ns

    def on_output(self, output: str, stamp_ns: int | None, wall_ns: int) -> None:
        st = self.awaits.get(output)
        if st is None or stamp_ns is None:
            return
        st.stamps.append(stamp_ns)
        st.arrivals_ns.append(wall_ns)
        st.max_stamp = stamp_ns if st.max_stamp is None else max(st.max_stamp, stamp_ns)

    def on_timeout(self, output: str) -> None:
        self.awaits[output].timeouts += 1

    def summary(self) -> dict[str, dict]:
        """Per output: frames, answered, missing, timeouts, latencies (ms) of answered frames."""
        out: dict[str, dict] = {}
        for o, st in self.awaits.items():
            trig = st.spec.trigger
            stamps = self.trigger_stamps[trig]
            tol = self.tolerance_ns[trig]
            got = np.asarray(st.stamps, dtype=np.int64)
            arrivals = np.asarray(st.arrivals_ns, dtype=np.int64)
            latencies, missing = [], 0
            for k, s in enumerate(stamps):
                hit = np.nonzero(np.abs(got - int(s)) <= tol)[0] if len(got) else np.zeros(0, dtype=int)
                if not len(hit):
                    missing += 1
                    continue
                pub = self.published_ns[trig].get(k)
                if pub is not None:
                    latencies.append((int(arrivals[hit[0]]) - pub) / 1e6)
            out[o] = {"trigger": trig, "frames": int(len(stamps)), "answered": int(len(stamps) - missing),
                      "missing": missing, "timeouts": st.timeouts, "outputs": int(len(got)),
                      "latency_ms": latencies}
        return out


def _half_period(stamps: Iterable[int]) -> int:
    s = np.asarray(list(stamps), dtype=np.int64)
    if len(s) < 2:
        return 50_000_000
    d = np.diff(np.sort(s))
    d = d[d > 0]
    return int(np.median(d) // 2) if len(d) else 50_000_000
