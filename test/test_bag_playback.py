"""Playback scheduler (hoi_perception.bag.playback) without ROS: rate, loop,
start offset, topic filter, /clock ordering, runner against a fake clock."""

from __future__ import annotations

import pytest
from hoi_perception.bag.io import BagMessage
from hoi_perception.bag.playback import (
    EventKind,
    FakeClock,
    PlaybackConfig,
    PlaybackRunner,
    schedule,
    topic_selected,
)

MS = 1_000_000
T0 = 1_700_000_000 * 1_000_000_000  # bag start, like a real epoch stamp


def _bag() -> list[BagMessage]:
    msgs = [BagMessage("/tf_static", "tf2_msgs/msg/TFMessage", T0, b"tf")]
    for i in range(5):  # 10 Hz camera + info with the same stamps, ground truth at the same instants
        t = T0 + i * 100 * MS
        msgs += [
            BagMessage("/cam/image", "sensor_msgs/msg/Image", t, bytes([i])),
            BagMessage("/cam/info", "sensor_msgs/msg/CameraInfo", t, bytes([i])),
            BagMessage("/ground_truth/humans", "hoi_msgs/msg/HumanPose3DArray", t, bytes([i])),
        ]
    return msgs


END = T0 + 400 * MS


def _events(cfg: PlaybackConfig):
    msgs = _bag()
    return list(schedule(lambda: iter(msgs), T0, cfg, END))


def _messages(events):
    return [e for e in events if e.kind is EventKind.MESSAGE]


def _clocks(events):
    return [e for e in events if e.kind is EventKind.CLOCK]


def test_all_messages_in_order_at_recorded_pace():
    ev = _events(PlaybackConfig(clock_rate_hz=0))
    msgs = _messages(ev)
    assert [m.message for m in msgs] == _bag()
    for m in msgs:
        assert m.wall_offset_ns == m.message.log_time_ns - T0
        assert m.bag_time_ns == m.message.log_time_ns
    walls = [e.wall_offset_ns for e in ev]
    assert walls == sorted(walls)


@pytest.mark.parametrize("rate", [0.5, 2.0, 10.0])
def test_rate_factor_scales_wall_offsets_not_bag_time(rate):
    ev = _events(PlaybackConfig(rate=rate, clock_rate_hz=0))
    for m in _messages(ev):
        assert m.wall_offset_ns == round((m.message.log_time_ns - T0) / rate)
        assert m.bag_time_ns == m.message.log_time_ns


def test_clock_before_each_message_and_monotonic():
    ev = _events(PlaybackConfig(clock_rate_hz=50.0))
    last_clock = None
    clocks = []
    for e in ev:
        if e.kind is EventKind.CLOCK:
            clocks.append(e.bag_time_ns)
            last_clock = e.bag_time_ns
        else:
            # /clock has reached the message's time when it is published
            assert last_clock == e.message.log_time_ns
    assert clocks == sorted(clocks) and len(set(clocks)) == len(clocks)
    # periodic ticks between the 100 ms spaced messages (50 Hz -> every 20 ms)
    assert T0 + 20 * MS in clocks and T0 + 380 * MS in clocks
    assert clocks[-1] == END


def test_periodic_clock_follows_rate():
    ev = _events(PlaybackConfig(rate=2.0, clock_rate_hz=10.0))
    ticks = [(e.wall_offset_ns, e.bag_time_ns) for e in _clocks(ev)]
    for wall, bag in ticks:
        assert bag - T0 == round(wall * 2.0)


def test_no_clock_when_disabled():
    ev = _events(PlaybackConfig(publish_clock=False))
    assert not _clocks(ev)
    assert len(_messages(ev)) == len(_bag())


def test_start_offset_skips_early_messages_but_keeps_latched():
    ev = _events(PlaybackConfig(start_offset_s=0.25, clock_rate_hz=0))
    msgs = _messages(ev)
    assert msgs[0].message.topic == "/tf_static"  # recorded at T0, still delivered first
    assert msgs[0].wall_offset_ns == 0 and msgs[0].bag_time_ns == T0 + 250 * MS
    rest = msgs[1:]
    assert {m.message.log_time_ns for m in rest} == {T0 + 300 * MS, T0 + 400 * MS}
    assert rest[0].wall_offset_ns == 50 * MS  # offsets count from the start offset
    assert _clocks(ev)[0].bag_time_ns == T0 + 250 * MS


def test_include_exclude_filters_with_patterns():
    assert topic_selected("/cam/image", ["/cam/*"], [])
    assert not topic_selected("/cam/info", ["/cam/*"], ["*/info"])
    assert topic_selected("/x", [], [])
    ev = _events(PlaybackConfig(include=["/cam/*", "/tf_static"], exclude=["/cam/info"], clock_rate_hz=0))
    assert {m.message.topic for m in _messages(ev)} == {"/cam/image", "/tf_static"}
    ev = _events(PlaybackConfig(exclude=["/ground_truth/*"], clock_rate_hz=0))
    assert "/ground_truth/humans" not in {m.message.topic for m in _messages(ev)}


def test_loop_repeats_passes_after_the_end():
    ev = _events(PlaybackConfig(loop=True, max_passes=3, clock_rate_hz=0))
    msgs = _messages(ev)
    n = len(_bag())
    assert len(msgs) == 3 * n
    assert [m.pass_index for m in msgs] == [0] * n + [1] * n + [2] * n
    assert [m.message for m in msgs[n:2 * n]] == _bag()
    walls = [e.wall_offset_ns for e in ev]
    assert walls == sorted(walls)
    # the second pass starts after the first pass's end (the bag's last log time)
    assert msgs[n].wall_offset_ns > END - T0
    # bag time restarts each pass, as rosbag2 does
    assert msgs[n].bag_time_ns == T0


def test_loop_is_lazy_and_unbounded_without_max_passes():
    gen = schedule(lambda: iter(_bag()), T0, PlaybackConfig(loop=True, clock_rate_hz=0), END)
    got = [next(gen) for _ in range(10 * len(_bag()))]
    assert got[-1].pass_index >= 4


def test_invalid_config_rejected():
    for cfg in (PlaybackConfig(rate=0), PlaybackConfig(rate=-1), PlaybackConfig(rate=float("nan")),
                PlaybackConfig(start_offset_s=-1), PlaybackConfig(clock_rate_hz=-5)):
        with pytest.raises(ValueError):
            list(schedule(lambda: iter(_bag()), T0, cfg))


def test_runner_publishes_in_order_against_fake_clock():
    clock = FakeClock(start_ns=5)
    published: list[tuple[str, int, int]] = []
    ticks: list[tuple[int, int]] = []
    cfg = PlaybackConfig(rate=2.0, clock_rate_hz=20.0)
    runner = PlaybackRunner(
        schedule(lambda: iter(_bag()), T0, cfg, END),
        on_message=lambda m: published.append((m.topic, m.log_time_ns, clock.now_ns())),
        on_clock=lambda t: ticks.append((t, clock.now_ns())),
        clock=clock,
    )
    stats = runner.run()
    assert [(t, lt) for t, lt, _ in published] == [(m.topic, m.log_time_ns) for m in _bag()]
    for _, log_time, wall in published:
        assert wall - 5 == round((log_time - T0) / 2.0)  # due time honoured exactly with the fake clock
    assert stats.total_messages == len(_bag())
    assert stats.messages["/cam/image"] == 5
    assert stats.clock_ticks == len(ticks)
    assert [t for t, _ in ticks] == sorted(t for t, _ in ticks)
    assert clock.now_ns() - 5 == (END - T0) // 2  # clock ticks until the bag's end


def test_runner_counts_failures_and_goes_on():
    def publish(m: BagMessage) -> None:
        if m.topic == "/cam/info":
            raise RuntimeError("boom")

    errors = []
    runner = PlaybackRunner(schedule(lambda: iter(_bag()), T0, PlaybackConfig(clock_rate_hz=0)), publish,
                            clock=FakeClock(), on_error=lambda m, e: errors.append(m.topic))
    stats = runner.run()
    assert stats.errors == {"/cam/info": 5}
    assert stats.messages["/cam/image"] == 5 and "/cam/info" not in stats.messages
    assert errors == ["/cam/info"] * 5


def test_runner_stop_ends_a_loop():
    runner = PlaybackRunner(schedule(lambda: iter(_bag()), T0, PlaybackConfig(loop=True, clock_rate_hz=0)),
                            lambda m: None, clock=FakeClock())
    count = 0

    def on_message(m: BagMessage) -> None:
        nonlocal count
        count += 1
        if count == 40:
            runner.stop()

    runner.on_message = on_message
    stats = runner.run()
    assert stats.total_messages == 40 and stats.passes >= 3
