"""rosbag2 MCAP writer/reader round trip, metadata.yaml, MCAP channel metadata."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from hoi_perception.bag import LATCHED_QOS, BagReader, BagWriter, default_typestore, is_complete_bag
from hoi_perception.bag.plain import to_plain
from msg_fill import HOI_MSG_TYPES, fill, msg_class
from rclpy.serialization import serialize_message

T0 = 1_700_000_000_123_456_789
STD = [("sensor_msgs", "Image"), ("sensor_msgs", "CameraInfo"), ("tf2_msgs", "TFMessage"),
       ("rosgraph_msgs", "Clock"), ("std_msgs", "String")]
TYPES = [("hoi_msgs", n) for n in HOI_MSG_TYPES] + STD


def _topic(pkg: str, name: str) -> str:
    return "/tf_static" if name == "TFMessage" else f"/test/{pkg}/{name}"


def _write_every_type(path: Path) -> list[tuple[str, int, dict]]:
    """Two messages of every type, interleaved, with distinct log times; returns what was written."""
    ts = default_typestore()
    written: list[tuple[str, int, dict]] = []
    with BagWriter(path) as w:
        for pkg, name in TYPES:
            w.add_topic(_topic(pkg, name), f"{pkg}/msg/{name}", LATCHED_QOS if name == "TFMessage" else None)
        t = T0
        for rep in range(2):
            for pkg, name in TYPES:
                # Values made by rclpy, stored by rosbags: exercises both serializers.
                original = fill(msg_class(pkg, name), 3 + rep)
                msg = ts.deserialize_cdr(serialize_message(original), f"{pkg}/msg/{name}")
                w.write(_topic(pkg, name), t, msg)
                written.append((_topic(pkg, name), t, to_plain(original)))
                t += 1_000_003
    return written


def test_round_trip_every_type(tmp_path):
    bag = tmp_path / "bag"
    written = _write_every_type(bag)
    with BagReader(bag) as r:
        got = [(m.topic, m.log_time_ns, to_plain(r.deserialize(m))) for m in r.messages()]
        assert r.start_time_ns == T0
        assert r.end_time_ns == written[-1][1]
        assert r.message_count == len(written)
        topics = r.topics()
    assert [(t, s) for t, s, _ in got] == [(t, s) for t, s, _ in written]
    for (topic, _, want), (_, _, have) in zip(written, got, strict=True):
        assert have == want, topic
    assert topics["/tf_static"].transient_local
    assert not topics["/test/sensor_msgs/Image"].transient_local
    assert all(info.count == 2 for info in topics.values())


def test_reader_filters_topics_and_time(tmp_path):
    bag = tmp_path / "bag"
    written = _write_every_type(bag)
    with BagReader(bag) as r:
        only = list(r.messages(topics=["/test/hoi_msgs/HoiStateArray"]))
        assert [m.topic for m in only] == ["/test/hoi_msgs/HoiStateArray"] * 2
        assert all(isinstance(m.data, bytes) for m in only)
        start = written[3][1]
        assert [m.log_time_ns for m in r.messages(start_ns=start)] == [s for _, s, _ in written[3:]]
        assert list(r.messages(topics=["/nope"])) == []


def _official_hash(typename: str) -> str | None:
    pkg, _, name = typename.split("/")
    f = Path(sys.prefix) / "share" / pkg / "msg" / f"{name}.json"
    if not f.is_file():
        return None
    data = json.loads(f.read_text())
    return next(h["hash_string"] for h in data["type_hashes"] if h["type_name"] == typename)


def test_metadata_yaml_is_rosbag2_v9_mcap(tmp_path):
    bag = tmp_path / "bag"
    written = _write_every_type(bag)
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == 9
    assert meta["storage_identifier"] == "mcap"
    assert meta["relative_file_paths"] == ["bag.mcap"]
    assert (bag / "bag.mcap").is_file()
    assert meta["message_count"] == len(written)
    assert meta["starting_time"]["nanoseconds_since_epoch"] == T0
    assert meta["duration"]["nanoseconds"] == written[-1][1] - T0
    assert meta["files"][0]["path"] == "bag.mcap" and meta["files"][0]["message_count"] == len(written)
    by_topic = {t["topic_metadata"]["name"]: t for t in meta["topics_with_message_count"]}
    assert set(by_topic) == {_topic(p, n) for p, n in TYPES}
    ts = default_typestore()
    for pkg, name in TYPES:
        entry = by_topic[_topic(pkg, name)]
        tm = entry["topic_metadata"]
        assert entry["message_count"] == 2
        assert tm["type"] == f"{pkg}/msg/{name}"
        assert tm["serialization_format"] == "cdr"
        assert tm["type_description_hash"] == ts.hash_rihs01(tm["type"])
        official = _official_hash(tm["type"])
        if official is not None:
            assert tm["type_description_hash"] == official, tm["type"]
        qos = tm["offered_qos_profiles"]
        assert qos[0]["reliability"] == "reliable" and qos[0]["history"] == "keep_last"
        assert qos[0]["durability"] == ("transient_local" if name == "TFMessage" else "volatile")


def test_mcap_file_is_ros2_profile_with_type_hash_channels(tmp_path):
    bag = tmp_path / "bag"
    _write_every_type(bag)
    raw = (bag / "bag.mcap").read_bytes()
    assert raw[:8] == b"\x89MCAP0\r\n" and raw[-8:] == b"\x89MCAP0\r\n"
    assert b"ros2" in raw[:64]
    # rosbag2_storage_mcap reads the type hash from this channel metadata key
    assert raw.count(b"topic_type_hash") >= len(TYPES)
    assert b"ros2msg" in raw


def test_failed_write_leaves_no_complete_bag(tmp_path):
    bag = tmp_path / "bag"
    ts = default_typestore()
    with pytest.raises(RuntimeError), BagWriter(bag) as w:
        w.add_topic("/s", "std_msgs/msg/String")
        w.write("/s", T0, ts.types["std_msgs/msg/String"](data="x"))
        raise RuntimeError("generation killed")
    assert not (bag / "metadata.yaml").exists()
    assert not is_complete_bag(bag)


def test_writer_rejects_unknown_type_and_conflicting_topic(tmp_path):
    with BagWriter(tmp_path / "bag") as w:
        with pytest.raises(KeyError):
            w.add_topic("/x", "nope_msgs/msg/Nope")
        w.add_topic("/s", "std_msgs/msg/String")
        w.add_topic("/s", "std_msgs/msg/String")  # idempotent
        with pytest.raises(ValueError):
            w.add_topic("/s", "sensor_msgs/msg/Image")
        w.write("/s", T0, default_typestore().types["std_msgs/msg/String"](data="x"))
    assert is_complete_bag(tmp_path / "bag")
