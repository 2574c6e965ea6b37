"""ROS-free tests of the episode state machine (hoi_perception.bag.episodes): real bags on disk,
read back with BagReader."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from hoi_perception.bag.episodes import (
    MANIFEST_NAME,
    EpisodeError,
    EpisodeInfo,
    EpisodeLimits,
    EpisodeRecorder,
    State,
    WriterOptions,
)
from hoi_perception.bag.io import BagReader
from hoi_perception.bag.typestore import default_typestore

TS = default_typestore()
STRING = "std_msgs/msg/String"
TF = "tf2_msgs/msg/TFMessage"


def _cdr(msgtype: str, **kw: object) -> bytes:
    cls = TS.types[msgtype]
    if msgtype == STRING:
        return bytes(TS.serialize_cdr(cls(**kw), msgtype))
    return bytes(TS.serialize_cdr(cls(transforms=[]), msgtype))


class Clock:
    def __init__(self) -> None:
        self.t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t


def _recorder(tmp_path: Path, **kw: object) -> EpisodeRecorder:
    rec = EpisodeRecorder(tmp_path / "episodes", robot="g1", default_operator="op", default_task="pick cup",
                          writer_options=WriterOptions(compression="", fsync=False), wall=Clock(),
                          version="9.9.9", **kw)  # type: ignore[arg-type]
    rec.add_topic("/a", STRING)
    rec.add_topic("/tf_static", TF, latched=True)
    return rec


def _read(path: Path) -> tuple[dict, dict, dict[str, list[str]]]:
    meta = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    manifest = json.loads((path / MANIFEST_NAME).read_text())
    got: dict[str, list[str]] = {}
    with BagReader(path) as r:
        for m in r.messages():
            msg = r.deserialize(m)
            got.setdefault(m.topic, []).append(getattr(msg, "data", "tf"))
    return meta, manifest, got


def test_two_episodes_with_calibration_and_metadata(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    tf = _cdr(TF)
    rec.on_message("/tf_static", 1, tf, 0.0)  # published once, long before any episode
    assert not rec.on_message("/a", 2, _cdr(STRING, data="idle"), 0.0)
    ep1 = rec.start(EpisodeInfo("alice", "", "", "first"), 10, 1.0)
    assert rec.state == State.RECORDING
    for i in range(5):
        assert rec.on_message("/a", 11 + i, _cdr(STRING, data=f"one{i}"), 1.1)
    with pytest.raises(EpisodeError, match="is recording"):
        rec.start(EpisodeInfo("", "", ""), 20, 1.2)
    r1 = rec.stop(3.5, success=True, notes="went well")
    assert rec.state == State.IDLE and r1.kept
    ep2 = rec.start(EpisodeInfo("", "stack blocks", "h1"), 30, 4.0)
    rec.on_message("/a", 31, _cdr(STRING, data="two"), 4.1)
    rec.stop(5.0, success=False)
    assert ep1.episode_id != ep2.episode_id

    meta, man, got = _read(ep1.path)
    assert got == {"/tf_static": ["tf"], "/a": [f"one{i}" for i in range(5)]}
    cd = meta["custom_data"]
    assert cd["episode_operator"] == "alice" and cd["episode_task_label"] == "pick cup"
    assert cd["episode_robot"] == "g1" and cd["episode_success"] == "true"
    assert cd["episode_software_version"] == "9.9.9" and cd["episode_calibration_topics"] == "/tf_static"
    assert cd["hoi_recorder_state"] == "closed"
    assert man["success"] is True and man["notes"] == "first\nwent well" and man["duration_s"] == 2.5
    assert man["bag"]["message_count"] == 6 and man["bag"]["topics"]["/a"]["count"] == 5
    assert man["calibration"] == {"topics": ["/tf_static"], "messages": 1}

    meta, man, got = _read(ep2.path)
    # the latched message is re-written at the second start too
    assert got == {"/tf_static": ["tf"], "/a": ["two"]}
    assert meta["custom_data"]["episode_success"] == "false" and man["success"] is False
    assert man["task_label"] == "stack blocks" and man["robot"] == "h1" and man["operator"] == "op"
    assert rec.status(6.0).episodes_recorded == 2


def test_stop_without_episode_and_discard(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    with pytest.raises(EpisodeError, match="no episode"):
        rec.stop(0.0, success=True)
    with pytest.raises(EpisodeError, match="no episode to discard"):
        rec.discard(0.0)
    ep = rec.start(EpisodeInfo("", "", ""), 1, 0.0)
    rec.on_message("/a", 2, _cdr(STRING, data="x"), 0.1)
    assert rec.discard(0.2) == ep.episode_id
    assert not ep.path.exists() and rec.state == State.IDLE and rec.episodes_recorded == 0
    kept = rec.start(EpisodeInfo("", "", ""), 3, 1.0)
    rec.stop(1.5, success=True)
    with pytest.raises(EpisodeError, match="not an episode id"):
        rec.discard(2.0, "../etc")
    with pytest.raises(EpisodeError, match="no episode nope"):
        rec.discard(2.0, "nope")
    assert rec.discard(2.0) == kept.episode_id and not kept.path.exists()


def test_limits_stop_with_reason(tmp_path: Path) -> None:
    rec = _recorder(tmp_path, limits=EpisodeLimits(max_duration_s=2.0))
    rec.start(EpisodeInfo("", "", ""), 1, 10.0)
    assert rec.tick(11.9) is None
    res = rec.tick(12.0)
    assert res is not None and res.reason.startswith("max_duration") and rec.state == State.IDLE
    assert json.loads((res.path / MANIFEST_NAME).read_text())["stop_reason"] == res.reason

    rec = _recorder(tmp_path / "b", limits=EpisodeLimits(max_bytes=4096))
    rec.start(EpisodeInfo("", "", ""), 1, 0.0)
    big = _cdr(STRING, data="x" * 1000)
    i = 0
    while rec.tick(0.1) is None:
        rec.on_message("/a", 2 + i, big, 0.1)
        i += 1
        assert i < 20
    assert rec.last is not None and rec.last.reason.startswith("max_size")

    free = {"n": 10_000}
    rec = _recorder(tmp_path / "c", limits=EpisodeLimits(min_free_bytes=5_000),
                    free_bytes=lambda _p: free["n"])
    rec.start(EpisodeInfo("", "", ""), 1, 0.0)
    free["n"] = 4_000
    res = rec.tick(0.5)
    assert res is not None and res.reason.startswith("min_free_disk")
    with pytest.raises(EpisodeError, match="min_free_bytes"):
        rec.start(EpisodeInfo("", "", ""), 1, 1.0)
    with pytest.raises(ValueError):
        EpisodeLimits(max_bytes=-1)


def test_grasp_trigger_with_delayed_stop_and_regrasp(tmp_path: Path) -> None:
    rec = _recorder(tmp_path, stop_delay_s=1.0)
    left, right = (1, 7, 0), (1, 7, 1)
    assert rec.on_grasp_event(True, left, 1, 0.0) == "started"
    assert rec.on_grasp_event(True, right, 2, 0.1) == ""
    assert rec.on_grasp_event(False, left, 3, 0.2) == ""  # the right hand still holds it
    assert rec.on_grasp_event(False, right, 4, 0.3) == "stop scheduled"
    assert rec.state == State.STOPPING
    rec.on_message("/a", 5, _cdr(STRING, data="after release"), 0.5)  # still recorded while stopping
    assert rec.tick(1.0) is None
    assert rec.on_grasp_event(True, left, 6, 1.1) == "stop cancelled"
    assert rec.tick(2.0) is None and rec.state == State.RECORDING
    rec.on_grasp_event(False, left, 7, 2.1)
    res = rec.tick(3.1)
    assert res is not None and res.reason == "grasp end" and res.success is None
    _, man, got = _read(res.path)
    assert got["/a"] == ["after release"] and man["success"] is None
    assert rec.status(3.2).state == State.IDLE


def test_write_error_stops_episode(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    ep = rec.start(EpisodeInfo("", "", ""), 1, 0.0)
    ep.writer._fail(OSError(28, "No space left on device"))  # what a failed pwrite does
    rec.on_message("/a", 2, _cdr(STRING, data="lost"), 0.1)
    res = rec.tick(0.2)
    assert res is not None and res.reason.startswith("write error: ENOSPC")
    assert rec.state == State.ERROR and rec.status(0.3).dropped == 1
    man = json.loads((res.path / MANIFEST_NAME).read_text())
    assert man["dropped"] == 1 and man["write_error"].startswith("ENOSPC")
    rec.start(EpisodeInfo("", "", ""), 3, 1.0)  # the operator may try again
    assert rec.state == State.RECORDING


def test_button_toggle_and_hold(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    started = rec.on_button(True, "toggle", 1, 0.0)
    assert rec.state == State.RECORDING and started is not None
    assert rec.on_button(True, "toggle", 2, 0.1) is None  # still held: no edge
    assert rec.on_button(False, "toggle", 3, 0.2) is None
    res = rec.on_button(True, "toggle", 4, 0.3)
    assert rec.state == State.IDLE and res is not None and res.reason == "button" and res.success is None
    rec.on_button(False, "hold", 5, 0.4)
    rec.on_button(True, "hold", 6, 0.5)
    assert rec.state == State.RECORDING
    rec.on_button(True, "hold", 7, 0.6)
    assert rec.state == State.RECORDING
    rec.on_button(False, "hold", 8, 0.7)
    assert rec.state == State.IDLE and rec.episodes_recorded == 2
    with pytest.raises(ValueError, match="toggle"):
        rec.on_button(True, "sometimes", 9, 0.8)


def test_episode_cut_off_by_a_crash_still_says_what_it_is(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    rec.on_message("/tf_static", 1, _cdr(TF), 0.0)
    ep = rec.start(EpisodeInfo("carol", "wipe table", ""), 10, 0.0)
    for i in range(3):
        rec.on_message("/a", 11 + i, _cdr(STRING, data=str(i)), 0.1)
    ep.writer.flush()  # what the chunk timer does; then the process dies (no stop, no close)
    assert not (ep.path / MANIFEST_NAME).exists()
    meta = yaml.safe_load((ep.path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    cd = meta["custom_data"]
    assert cd["hoi_recorder_state"] == "recording" and cd["episode_success"] == "unknown"
    assert cd["episode_operator"] == "carol" and cd["episode_task_label"] == "wipe table"
    with BagReader(ep.path) as r:
        assert [m.topic for m in r.messages()] == ["/tf_static", "/a", "/a", "/a"]
