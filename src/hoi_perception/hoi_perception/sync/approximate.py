"""Approximate-time synchronisation of K message streams, without ROS.

The set selection follows the ApproximateTime policy of ROS message_filters,
read for its semantics (not copied) in ros2/message_filters,
``include/message_filters/sync_policies/approximate_time.hpp``:

* one bounded queue per stream; ``queue_size`` bounds every message a stream
  holds, including those the search has provisionally stepped over;
* once every stream has a message, the latest of the stream heads is the
  *pivot*; every candidate set contains it. The search repeatedly steps over
  the earliest head, keeping the candidate with the smallest time span
  (a later candidate must beat the earlier one by the ``age_penalty`` factor),
  until the pivot itself would be stepped over or no later candidate can win;
* while a stream is empty the search reasons about the earliest time its next
  message can have (last stamp + the stream's inter-message lower bound, or
  the pivot time) and waits only when that future message could still win;
* the emitted set removes its messages; messages older than the chosen ones
  are dropped; a first candidate whose span exceeds ``max_interval_ns`` drops
  its earliest message instead;
* a queue overflow drops the stream's oldest message and restarts the search,
  and a set is not started with its latest message on a stream that just
  overflowed (the dropped message might have formed a better set).

Beyond message_filters:

* every dropped message is counted, per stream and per :class:`DropReason`;
* out-of-order and duplicate stamps on a stream are dropped and counted
  (message_filters only warns and then breaks its ordering assumptions);
* a stamp that goes back by more than ``reset_threshold_ns`` on a stream (bag
  loop, simulator reset) clears the whole state and counts a reset, instead of
  stalling behind the old stamps;
* ``stream_policy="partial"``: a stream that has sent nothing for
  ``stream_timeout_ns`` of *message time* (measured on the newest stamp of the
  other streams, so it works for bags played at any rate) is taken out of the
  set; the pending candidate is published (nothing can improve on it any more)
  and later sets name it in ``missing``. Its next message brings it back.
  ``"wait"`` (default) behaves like message_filters: the other streams queue,
  overflow and wait.

Cost: amortised O(K) per ``add`` (every message is stepped over a bounded
number of times); a queue overflow or a timeout restarts the search, which is
O(K * queue_size) steps of O(K) each. Memory is K * queue_size messages.
Not thread-safe; the rclpy adapter serialises calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

# Sentinels larger than any int64 nanosecond stamp; plain ints keep the
# min()/max()/index() scans in C.
_INF = 1 << 64


class DropReason(str, Enum):
    """Why a message left the synchronizer without being part of a set."""

    QUEUE_OVERFLOW = "queue_overflow"  # the stream's queue was full; its oldest message went
    TOO_OLD = "too_old"  # superseded: older than the set chosen, or outside max_interval
    OUT_OF_ORDER = "out_of_order"  # stamp earlier than the stream's previous one
    DUPLICATE_STAMP = "duplicate_stamp"  # same stamp as the stream's previous message
    STREAM_TIMEOUT = "stream_timeout"  # left queued when its stream timed out ("partial")
    RESET = "reset"  # queued when time went backwards and the state was cleared


class StreamPolicy(str, Enum):
    WAIT = "wait"
    PARTIAL = "partial"


@dataclass(frozen=True)
class SyncedSet:
    """One emitted set. ``messages[i]`` / ``stamps_ns[i]`` are None for the
    streams listed in ``missing`` (only under the "partial" policy)."""

    stamp_ns: int  # the pivot's stamp
    messages: list[Any]
    stamps_ns: list[int | None]
    missing: list[int]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def span_ns(self) -> int:
        s = [t for t in self.stamps_ns if t is not None]
        return max(s) - min(s)


@dataclass(frozen=True)
class SyncStats:
    """Counters since construction (``reset`` does not clear them)."""

    num_streams: int
    received: tuple[int, ...]
    emitted_sets: int
    partial_sets: int
    dropped: dict[str, tuple[int, ...]]  # DropReason value -> per-stream counts
    resets: int
    queued: tuple[int, ...]
    timed_out_streams: tuple[int, ...]  # currently left out of sets ("partial")
    stalled_streams: tuple[int, ...]  # silent for > stream_timeout of message time (either policy)
    lower_bound_violations: tuple[int, ...]

    def dropped_total(self, stream: int | None = None, reason: DropReason | str | None = None) -> int:
        reasons = [DropReason(reason).value] if reason is not None else list(self.dropped)
        if stream is None:
            return sum(sum(self.dropped[r]) for r in reasons)
        return sum(self.dropped[r][stream] for r in reasons)

    def dropped_by_stream(self) -> tuple[int, ...]:
        return tuple(sum(self.dropped[r][i] for r in self.dropped) for i in range(self.num_streams))


class ApproximateTimeSynchronizer:
    """ApproximateTime policy over ``num_streams`` streams; see the module doc.

    ``add(stream, stamp_ns, msg)`` returns the sets completed by that message
    (usually zero or one), oldest first.
    """

    def __init__(
        self,
        num_streams: int,
        queue_size: int = 10,
        *,
        max_interval_ns: int | None = None,
        age_penalty: float = 0.1,
        inter_message_lower_bounds_ns: Sequence[int] | None = None,
        stream_policy: StreamPolicy | str = StreamPolicy.WAIT,
        stream_timeout_ns: int = 1_000_000_000,
        reset_threshold_ns: int = 1_000_000_000,
    ) -> None:
        if not 1 <= num_streams <= 64:
            raise ValueError(f"num_streams must be in 1..64, got {num_streams}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if age_penalty < 0:
            raise ValueError(f"age_penalty must be >= 0, got {age_penalty}")
        if max_interval_ns is not None and max_interval_ns < 0:
            raise ValueError(f"max_interval_ns must be >= 0, got {max_interval_ns}")
        k = num_streams
        lb = [0] * k if inter_message_lower_bounds_ns is None else [int(b) for b in inter_message_lower_bounds_ns]
        if len(lb) != k or min(lb) < 0:
            raise ValueError("inter_message_lower_bounds_ns needs one non-negative bound per stream")
        self._k = k
        self._queue_size = int(queue_size)
        self._max_interval = _INF if max_interval_ns is None else int(max_interval_ns)
        self._factor = 1.0 + float(age_penalty)
        self._lower_bounds = lb
        self._partial = StreamPolicy(stream_policy) is StreamPolicy.PARTIAL
        self._timeout = int(stream_timeout_ns)
        self._reset_threshold = int(reset_threshold_ns)

        # Per stream: stamps and messages in arrival (= stamp) order; items
        # before _cur[i] are the ones the running search has stepped over
        # (message_filters' "past"), the item at _cur[i] is the head.
        self._stamps: list[list[int]] = [[] for _ in range(k)]
        self._msgs: list[list[Any]] = [[] for _ in range(k)]
        self._cur = [0] * k
        # Head stamps for the C-level min/max scans: _lo has _INF and _hi_rev
        # -_INF where a stream has no head (or is timed out). _hi_rev is stored
        # reversed so that index() finds the *last* maximum, the tie rule of
        # message_filters for the end of a candidate.
        self._lo = [_INF] * k
        self._hi_rev = [-_INF] * k
        self._active = [True] * k
        self._n_active = k
        self._n_empty = k  # active streams without a head
        self._pivot = -1
        self._pivot_t = 0
        self._cand_start = 0
        self._cand_end = 0
        self._overflowed = 0  # bitmask: stream dropped on overflow since it last ended a candidate
        self._last: list[int | None] = [None] * k  # last accepted stamp per stream
        self._newest: int | None = None
        self._origin: int | None = None  # first stamp since construction / reset
        self._out: list[SyncedSet] = []

        self._received = [0] * k
        self._dropped = {r.value: [0] * k for r in DropReason}
        self._violations = [0] * k
        self._emitted = 0
        self._partial_sets = 0
        self._resets = 0

    # ------------------------------------------------------------------ API

    @property
    def num_streams(self) -> int:
        return self._k

    @property
    def newest_stamp_ns(self) -> int | None:
        """Newest stamp accepted on any stream (the clock partial timeouts use)."""
        return self._newest

    def add(self, stream: int, stamp_ns: int, msg: Any) -> list[SyncedSet]:
        if not 0 <= stream < self._k:
            raise IndexError(f"stream {stream} out of range 0..{self._k - 1}")
        stamp = int(stamp_ns)
        out: list[SyncedSet] = []
        self._out = out
        self._received[stream] += 1
        last = self._last[stream]
        if last is not None and stamp <= last:
            if last - stamp > self._reset_threshold:
                self.reset()
            elif stamp == last:
                self._dropped[DropReason.DUPLICATE_STAMP.value][stream] += 1
                return out
            else:
                self._dropped[DropReason.OUT_OF_ORDER.value][stream] += 1
                return out
        elif last is not None and stamp - last < self._lower_bounds[stream]:
            self._violations[stream] += 1
        self._last[stream] = stamp
        if self._origin is None:
            self._origin = stamp
        if self._newest is None or stamp > self._newest:
            self._newest = stamp
        if not self._active[stream]:
            self._reactivate(stream)

        stamps = self._stamps[stream]
        stamps.append(stamp)
        self._msgs[stream].append(msg)
        if self._cur[stream] == len(stamps) - 1:
            # Only an empty stream getting a head can unblock the search.
            self._refresh(stream)
            if self._n_empty == 0:
                self._process()
        if len(stamps) > self._queue_size:
            self._overflow(stream)
        if self._partial and self._n_empty:
            self._check_timeouts(stream)
        return out

    def reset(self) -> None:
        """Drop everything queued (counted as RESET) and forget the stream clocks."""
        reset = self._dropped[DropReason.RESET.value]
        for i in range(self._k):
            reset[i] += len(self._stamps[i])
            self._stamps[i].clear()
            self._msgs[i].clear()
            self._cur[i] = 0
            self._lo[i] = _INF
            self._hi_rev[self._k - 1 - i] = -_INF
            self._active[i] = True
            self._last[i] = None
        self._n_active = self._k
        self._n_empty = self._k
        self._pivot = -1
        self._overflowed = 0
        self._newest = None
        self._origin = None
        self._resets += 1

    def stats(self) -> SyncStats:
        return SyncStats(
            num_streams=self._k,
            received=tuple(self._received),
            emitted_sets=self._emitted,
            partial_sets=self._partial_sets,
            dropped={r: tuple(c) for r, c in self._dropped.items()},
            resets=self._resets,
            queued=tuple(len(s) for s in self._stamps),
            timed_out_streams=tuple(i for i in range(self._k) if not self._active[i]),
            stalled_streams=tuple(i for i in range(self._k) if self._stalled(i)),
            lower_bound_violations=tuple(self._violations),
        )

    # ------------------------------------------------------------ internals

    def _stalled(self, i: int) -> bool:
        since = self._last[i] if self._last[i] is not None else self._origin
        return self._newest is not None and since is not None and self._newest - since > self._timeout

    def _refresh(self, i: int) -> None:
        """Recompute stream i's head entries and the empty-stream count."""
        had_head = self._lo[i] != _INF
        if self._active[i] and self._cur[i] < len(self._stamps[i]):
            t = self._stamps[i][self._cur[i]]
            self._lo[i] = t
            self._hi_rev[self._k - 1 - i] = t
            if not had_head:
                self._n_empty -= 1
        else:
            self._lo[i] = _INF
            self._hi_rev[self._k - 1 - i] = -_INF
            if had_head:
                self._n_empty += 1

    def _step_over(self, i: int) -> None:
        self._cur[i] += 1
        self._refresh(i)

    def _drop_head(self, i: int, reason: DropReason) -> None:
        # Only called with no candidate, when nothing has been stepped over.
        self._stamps[i].pop(0)
        self._msgs[i].pop(0)
        self._dropped[reason.value][i] += 1
        self._refresh(i)

    def _recover_all(self) -> None:
        for i in range(self._k):
            if self._cur[i]:
                self._cur[i] = 0
                self._refresh(i)

    def _make_candidate(self) -> None:
        # The heads become the candidate; what was stepped over is now known
        # to be in no better set.
        too_old = self._dropped[DropReason.TOO_OLD.value]
        for i in range(self._k):
            c = self._cur[i]
            if c:
                del self._stamps[i][:c]
                del self._msgs[i][:c]
                too_old[i] += c
                self._cur[i] = 0  # the head is unchanged, so no refresh

    def _publish(self) -> None:
        k = self._k
        msgs: list[Any] = [None] * k
        stamps: list[int | None] = [None] * k
        missing: list[int] = []
        for i in range(k):
            if self._active[i] and self._stamps[i]:
                stamps[i] = self._stamps[i].pop(0)
                msgs[i] = self._msgs[i].pop(0)
            else:
                missing.append(i)
            self._cur[i] = 0
            self._refresh(i)
        self._out.append(SyncedSet(self._pivot_t, msgs, stamps, missing))
        self._pivot = -1
        self._emitted += 1
        if missing:
            self._partial_sets += 1

    def _overflow(self, i: int) -> None:
        self._recover_all()
        self._stamps[i].pop(0)
        self._msgs[i].pop(0)
        self._dropped[DropReason.QUEUE_OVERFLOW.value][i] += 1
        self._refresh(i)
        self._overflowed |= 1 << i
        if self._pivot >= 0:
            # The candidate may have lost a message: search again from scratch.
            self._pivot = -1
            self._process()

    def _process(self) -> None:
        k = self._k
        lo = self._lo
        hi_rev = self._hi_rev
        f = self._factor
        while self._n_empty == 0 and self._n_active:
            start_t = min(lo)
            s = lo.index(start_t)
            end_t = max(hi_rev)
            e = k - 1 - hi_rev.index(end_t)
            self._overflowed &= 1 << e
            if self._pivot < 0:
                if end_t - start_t > self._max_interval or self._overflowed:
                    self._drop_head(s, DropReason.TOO_OLD)
                    continue
                self._make_candidate()
                self._cand_start = start_t
                self._cand_end = end_t
                self._pivot = e
                self._pivot_t = end_t
            elif (end_t - self._cand_end) * f < (start_t - self._cand_start):
                # Narrower enough to replace the candidate despite being later.
                self._make_candidate()
                self._cand_start = start_t
                self._cand_end = end_t
            self._step_over(s)

            if s == self._pivot:
                self._publish()  # every later set would lose the pivot
            elif (end_t - self._cand_end) * f >= (self._pivot_t - self._cand_start):
                self._publish()  # no later set containing the pivot can be narrow enough
            elif self._n_empty:
                self._virtual_search()

    def _virtual_search(self) -> None:
        """Some stream is empty: step on with the earliest possible stamps of
        the missing messages; publish if even those cannot beat the candidate,
        otherwise undo the steps and wait for messages."""
        k = self._k
        f = self._factor
        saved = self._cur[:]
        lbs = self._lower_bounds
        pivot_t = self._pivot_t
        worst = pivot_t - self._cand_start
        while True:
            lo_t = _INF
            lo_i = 0
            hi_t = -_INF
            for i in range(k):
                if not self._active[i]:
                    continue
                c = self._cur[i]
                st = self._stamps[i]
                if c < len(st):
                    t = st[c]
                elif c:
                    t = max(st[c - 1] + lbs[i], pivot_t)
                else:
                    t = pivot_t
                if t < lo_t:
                    lo_t, lo_i = t, i
                if t >= hi_t:
                    hi_t = t
            gain = (hi_t - self._cand_end) * f
            if gain >= worst:
                self._publish()
                return
            if gain < lo_t - self._cand_start:
                for i in range(k):  # a future set could still win: wait
                    if self._cur[i] != saved[i]:
                        self._cur[i] = saved[i]
                        self._refresh(i)
                return
            self._step_over(lo_i)

    def _reactivate(self, i: int) -> None:
        # Stream i is timed out, hence empty; it counts as empty once active.
        self._active[i] = True
        self._n_active += 1
        self._n_empty += 1
        if self._pivot >= 0:
            # The pending candidate lacks stream i: search again over all.
            self._pivot = -1
            self._recover_all()

    def _check_timeouts(self, adding: int) -> None:
        newest = self._newest
        assert newest is not None
        for j in range(self._k):
            if j == adding or not self._active[j] or self._lo[j] != _INF:
                continue
            since = self._last[j] if self._last[j] is not None else self._origin
            if since is not None and newest - since > self._timeout:
                self._time_out(j)

    def _time_out(self, j: int) -> None:
        if self._pivot >= 0:
            # With no future message from j, the candidate cannot be beaten.
            self._publish()
        n = len(self._stamps[j])
        if n:
            self._dropped[DropReason.STREAM_TIMEOUT.value][j] += n
            self._stamps[j].clear()
            self._msgs[j].clear()
        self._cur[j] = 0
        self._refresh(j)  # now counted as empty
        self._active[j] = False
        self._n_active -= 1
        self._n_empty -= 1
        self._overflowed &= ~(1 << j)
        if self._n_empty == 0:
            self._process()
