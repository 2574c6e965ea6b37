"""Bag playback scheduling, free of ROS.

:func:`schedule` turns a bag's messages into a time-ordered stream of
:class:`PlaybackEvent` (publish this message / publish /clock at this bag
time), each with the wall-clock offset at which it is due.
:class:`PlaybackRunner` walks that stream against a clock, sleeping until each
event is due and handing it to callbacks. The rclpy node
(hoi_perception.nodes.bag_player) only supplies publishers.

Timing model (as ``ros2 bag play``): bag time ``t`` of a message is its log
time; it is due at wall offset ``(t - t_begin) / rate`` after playback start,
where ``t_begin = bag start + start_offset``. /clock carries bag time: one
tick right before each message (equal to its log time, so a use_sim_time
subscriber's clock has reached the stamp when the message arrives) and
periodic ticks at ``clock_rate_hz`` of wall time in between. Within one pass
/clock never goes backwards; with ``loop`` it jumps back to ``t_begin`` at
each new pass, as rosbag2 does.

Messages before ``t_begin`` on latched topics (``/tf_static`` by default) are
still published at the start of each pass: a start offset must not lose the
static transforms.
"""

from __future__ import annotations

import fnmatch
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from threading import Event
from typing import Protocol

from hoi_perception.bag.io import BagMessage


class EventKind(Enum):
    CLOCK = "clock"
    MESSAGE = "message"


@dataclass(frozen=True)
class PlaybackEvent:
    """One thing to do during playback.

    ``wall_offset_ns``: when it is due, in wall-clock ns after the start of
    playback (all passes included). ``bag_time_ns``: bag time (the /clock
    value for CLOCK events, the log time for MESSAGE events).
    """

    kind: EventKind
    wall_offset_ns: int
    bag_time_ns: int
    message: BagMessage | None = None
    pass_index: int = 0


@dataclass
class PlaybackConfig:
    """Playback options. ``include``/``exclude`` take topic names or fnmatch patterns."""

    rate: float = 1.0
    loop: bool = False
    start_offset_s: float = 0.0
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    publish_clock: bool = True
    clock_rate_hz: float = 100.0
    latched_topics: Sequence[str] = ("/tf_static",)
    # Safety stop for loop=True consumers that only want a few passes (0 = unbounded).
    max_passes: int = 0

    def validate(self) -> None:
        """Raise ValueError on an unusable configuration."""
        if not self.rate > 0 or self.rate != self.rate or self.rate == float("inf"):
            raise ValueError(f"rate must be a finite number > 0, got {self.rate}")
        if not self.start_offset_s >= 0:
            raise ValueError(f"start_offset_s must be >= 0, got {self.start_offset_s}")
        if not self.clock_rate_hz >= 0:
            raise ValueError(f"clock_rate_hz must be >= 0 (0 = only before each message), got {self.clock_rate_hz}")
        if self.max_passes < 0:
            raise ValueError(f"max_passes must be >= 0, got {self.max_passes}")


def topic_selected(topic: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Include list (empty = everything) minus exclude list; entries may be fnmatch patterns."""
    if include and not any(fnmatch.fnmatchcase(topic, p) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(topic, p) for p in exclude)


def select_topics(topics: Iterable[str], config: PlaybackConfig) -> list[str]:
    return [t for t in topics if topic_selected(t, config.include, config.exclude)]


# A pass over the bag: called once per pass, returns messages in log-time order.
MessageSource = Callable[[], Iterable[BagMessage]]


def schedule(
    source: MessageSource,
    bag_start_ns: int,
    config: PlaybackConfig,
    bag_end_ns: int | None = None,
) -> Iterator[PlaybackEvent]:
    """Time-ordered playback events for ``source`` (see module doc).

    ``source`` is called once per pass and yields messages in log-time order
    (the topic filter is applied here, so it may yield every topic).
    ``bag_end_ns`` (last log time of the bag) sets the end of a pass, so
    /clock keeps ticking up to it; without it the last message ends the pass.
    """
    config.validate()
    rate = float(config.rate)
    t_begin = bag_start_ns + round(config.start_offset_s * 1e9)
    use_clock = config.publish_clock
    tick_ns = round(1e9 / config.clock_rate_hz) if use_clock and config.clock_rate_hz > 0 else 0
    base = 0  # wall offset of the current pass's start
    pass_index = 0
    while True:
        state = _PassState(base, tick_ns, t_begin, rate, pass_index)
        held: list[BagMessage] = []  # latched messages before t_begin, released at the pass start
        released = False
        for msg in source():
            if not topic_selected(msg.topic, config.include, config.exclude):
                continue
            if msg.log_time_ns < t_begin:
                if any(fnmatch.fnmatchcase(msg.topic, p) for p in config.latched_topics):
                    held.append(msg)
                continue
            if not released:
                released = True
                for h in held:
                    yield from state.message(h, base, t_begin, use_clock)
            wall = base + round((msg.log_time_ns - t_begin) / rate)
            yield from state.message(msg, wall, msg.log_time_ns, use_clock)
        if not released:  # nothing at/after t_begin: still deliver the latched ones
            for h in held:
                yield from state.message(h, base, t_begin, use_clock)
        if bag_end_ns is not None and bag_end_ns >= t_begin and state.emitted:
            end_wall = base + round((bag_end_ns - t_begin) / rate)
            yield from state.ticks_until(end_wall, inclusive=True)
            state.last_wall = max(state.last_wall, end_wall)
        pass_index += 1
        if not config.loop or not state.emitted or (config.max_passes and pass_index >= config.max_passes):
            return
        # The next pass starts one clock tick (or 1 ms) after this one ends, so the
        # last message of a pass and the first of the next are not simultaneous.
        base = state.last_wall + (tick_ns or 1_000_000)


class _PassState:
    """Clock bookkeeping of one pass: periodic ticks and a monotonic /clock."""

    def __init__(self, base: int, tick_ns: int, t_begin: int, rate: float, pass_index: int) -> None:
        self.base = base
        self.tick_ns = tick_ns
        self.t_begin = t_begin
        self.rate = rate
        self.pass_index = pass_index
        self.next_tick = base
        self.last_clock: int | None = None
        self.last_wall = base
        self.emitted = False

    def _clock(self, wall: int, bag_t: int) -> Iterator[PlaybackEvent]:
        # Strictly increasing: equal stamps (image, depth, info of one frame) need one tick only.
        if self.last_clock is None or bag_t > self.last_clock:
            self.last_clock = bag_t
            yield PlaybackEvent(EventKind.CLOCK, wall, bag_t, None, self.pass_index)

    def ticks_until(self, wall: int, inclusive: bool) -> Iterator[PlaybackEvent]:
        while self.tick_ns and (self.next_tick < wall or (inclusive and self.next_tick == wall)):
            yield from self._clock(self.next_tick, self.t_begin + round((self.next_tick - self.base) * self.rate))
            self.next_tick += self.tick_ns

    def message(self, msg: BagMessage, wall: int, bag_t: int, use_clock: bool) -> Iterator[PlaybackEvent]:
        if use_clock:
            yield from self.ticks_until(wall, inclusive=False)
            yield from self._clock(wall, bag_t)
        yield PlaybackEvent(EventKind.MESSAGE, wall, bag_t, msg, self.pass_index)
        self.last_wall = max(self.last_wall, wall)
        self.emitted = True


class Clock(Protocol):
    def now_ns(self) -> int: ...

    def sleep_until_ns(self, t_ns: int, stop: Event) -> None: ...


class MonotonicClock:
    """Wall clock for playback: time.monotonic_ns, sleeps in short slices so a stop request is noticed."""

    def __init__(self, max_sleep_s: float = 0.05) -> None:
        self.max_sleep_s = max_sleep_s

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def sleep_until_ns(self, t_ns: int, stop: Event) -> None:
        while not stop.is_set():
            dt = (t_ns - time.monotonic_ns()) / 1e9
            if dt <= 0:
                return
            stop.wait(min(dt, self.max_sleep_s))


@dataclass
class PlaybackStats:
    messages: dict[str, int] = field(default_factory=dict)
    clock_ticks: int = 0
    passes: int = 0
    max_lag_ns: int = 0  # worst lateness of an event vs its due time (informational)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def total_messages(self) -> int:
        return sum(self.messages.values())


class PlaybackRunner:
    """Drives :func:`schedule`'s events against a clock.

    ``on_message(msg)`` and ``on_clock(bag_time_ns)`` do the publishing. An
    exception raised by ``on_message`` is counted per topic (``stats.errors``)
    and playback goes on: one bad message must not end a replay.
    """

    def __init__(
        self,
        events: Iterable[PlaybackEvent],
        on_message: Callable[[BagMessage], bool | None],
        on_clock: Callable[[int], None] | None = None,
        clock: Clock | None = None,
        on_error: Callable[[BagMessage, Exception], None] | None = None,
    ) -> None:
        self.events = events
        self.on_message = on_message
        self.on_clock = on_clock
        self.clock = clock or MonotonicClock()
        self.on_error = on_error
        self.stop_event = Event()
        self.stats = PlaybackStats()

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> PlaybackStats:
        events = iter(self.events)
        # Fetch the first event before the clock starts: reaching it may mean reading
        # and decompressing everything before a start offset.
        first = next(events, None)
        if first is None:
            return self.stats
        start = self.clock.now_ns()
        last_pass = -1
        for ev in itertools.chain((first,), events):
            if self.stop_event.is_set():
                break
            due = start + ev.wall_offset_ns
            self.clock.sleep_until_ns(due, self.stop_event)
            if self.stop_event.is_set():
                break
            self.stats.max_lag_ns = max(self.stats.max_lag_ns, self.clock.now_ns() - due)
            if ev.pass_index != last_pass:
                last_pass = ev.pass_index
                self.stats.passes += 1
            if ev.kind is EventKind.CLOCK:
                if self.on_clock is not None:
                    self.on_clock(ev.bag_time_ns)
                    self.stats.clock_ticks += 1
                continue
            msg = ev.message
            assert msg is not None
            try:
                sent = self.on_message(msg)
            except Exception as exc:  # noqa: BLE001 - counted and reported, playback continues
                self.stats.errors[msg.topic] = self.stats.errors.get(msg.topic, 0) + 1
                if self.on_error is not None:
                    self.on_error(msg, exc)
                continue
            if sent is False:  # on_message declined (its context is shutting down): not published, stop
                break
            self.stats.messages[msg.topic] = self.stats.messages.get(msg.topic, 0) + 1
        return self.stats


class FakeClock:
    """Deterministic clock for tests: sleeping advances time instantly."""

    def __init__(self, start_ns: int = 0) -> None:
        self.t = start_ns
        self.sleeps: list[int] = []

    def now_ns(self) -> int:
        return self.t

    def sleep_until_ns(self, t_ns: int, stop: Event) -> None:
        if t_ns > self.t:
            self.sleeps.append(t_ns - self.t)
            self.t = t_ns
