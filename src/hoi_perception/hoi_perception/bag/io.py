"""rosbag2 MCAP bags on rosbags: writer and reader.

Bags are rosbag2 directories (``metadata.yaml`` + ``<name>.mcap``), format
version 9 as written by ROS 2 Jazzy/Kilted, so ``ros2 bag info``/``play`` and
Foxglove open them. Messages are CDR, serialized by the rosbags typestore
(:mod:`hoi_perception.bag.typestore`), which is byte-compatible with rclpy.

Time: every message is written with a *log time* (``timestamp`` in rosbags,
"recv time" in rosbag2). Sample bags use the message's header stamp as log
time so replay with /clock reproduces the recorded timing exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import Any

from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag2,
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode
from rosbags.typesys.store import Typestore

from hoi_perception.bag.typestore import default_typestore

try:  # private rosbags internals, only used to add topic_type_hash to MCAP channels
    from rosbags.rosbag2 import storage_mcap as _mcap
except ImportError:  # pragma: no cover
    _mcap = None

# rmw's "infinite" duration as rosbag2 writes it into offered_qos_profiles.
_INFINITE = QosTime(sec=9223372036, nsec=854775807)


def make_qos(
    depth: int = 10,
    *,
    reliable: bool = True,
    transient_local: bool = False,
) -> Qos:
    """A QoS record for a bag's ``offered_qos_profiles`` (what a recorder saw offered)."""
    return Qos(
        history=QosHistory.KEEP_LAST,
        depth=depth,
        reliability=QosReliability.RELIABLE if reliable else QosReliability.BEST_EFFORT,
        durability=QosDurability.TRANSIENT_LOCAL if transient_local else QosDurability.VOLATILE,
        deadline=_INFINITE,
        lifespan=_INFINITE,
        liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=_INFINITE,
        avoid_ros_namespace_conventions=False,
    )


SENSOR_QOS = make_qos(10)
# /tf_static: latched, one message holding every static transform.
LATCHED_QOS = make_qos(1, transient_local=True)


if _mcap is not None:

    class _McapWriterWithHash(_mcap.McapWriter):  # type: ignore[name-defined,misc]
        """rosbags' MCAP storage writer, also storing ``topic_type_hash`` in channel metadata.

        rosbag2_storage_mcap reads the type description hash of a topic from
        that channel metadata key (next to ``offered_qos_profiles``); rosbags
        only writes the latter.
        """

        def add_connection(self, connection: Connection, offered_qos_profiles: str) -> None:
            metadata = BytesIO()
            _mcap.write_string(metadata, "offered_qos_profiles")
            _mcap.write_string(metadata, offered_qos_profiles)
            _mcap.write_string(metadata, "topic_type_hash")
            _mcap.write_string(metadata, connection.digest)
            ext = connection.ext
            assert isinstance(ext, ConnectionExtRosbag2)
            self.channels.append(
                _mcap.Channel(connection.id, connection.msgtype, connection.topic, ext.serialization_format,
                              metadata.getvalue())
            )
            self.channel_stats[connection.id] = 0
            _mcap.write_channel(self.chunk.bio, self.channels[-1], self.schemas)

    class _Writer(Writer):
        STORAGE_PLUGINS = {**Writer.STORAGE_PLUGINS, StoragePlugin.MCAP: _McapWriterWithHash}

else:  # pragma: no cover
    _Writer = Writer


@dataclass(frozen=True)
class BagMessage:
    """One message as stored: topic, type, log time (ns) and CDR bytes."""

    topic: str
    msgtype: str
    log_time_ns: int
    data: bytes


class BagWriter:
    """Writes a rosbag2 MCAP bag. Use as a context manager.

    >>> with BagWriter("out/bag") as w:
    ...     w.add_topic("/a", "std_msgs/msg/String")
    ...     w.write("/a", 1_000, w.typestore.types["std_msgs/msg/String"](data="x"))

    On an exception inside the ``with`` block the storage is aborted and no
    ``metadata.yaml`` is written, so a half-written bag is not mistaken for a
    complete one.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        typestore: Typestore | None = None,
        compress: bool = False,
        custom_data: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.typestore = typestore or default_typestore()
        self._writer = _Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        if compress:
            # zstd-compressed MCAP chunks: read natively by rosbag2_storage_mcap and Foxglove.
            self._writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        for k, v in (custom_data or {}).items():
            self._writer.set_custom_data(k, v)
        self._connections: dict[str, Connection] = {}
        self.counts: dict[str, int] = {}
        self._open = False

    def open(self) -> BagWriter:
        self._writer.open()
        self._open = True
        return self

    def close(self) -> None:
        if self._open:
            self._writer.close()
            self._open = False

    def abort(self) -> None:
        if self._open:
            self._writer.abort()
            self._open = False

    def __enter__(self) -> BagWriter:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def add_topic(self, topic: str, msgtype: str, qos: Qos | Sequence[Qos] | None = None) -> None:
        """Declare a topic (once) with its type and offered QoS (default reliable keep-last 10)."""
        if topic in self._connections:
            if self._connections[topic].msgtype != msgtype:
                raise ValueError(f"topic {topic} already declared as {self._connections[topic].msgtype}")
            return
        if msgtype not in self.typestore.types:
            raise KeyError(f"type {msgtype} is not in the typestore")
        qos_list = [SENSOR_QOS] if qos is None else [qos] if isinstance(qos, Qos) else list(qos)
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=self.typestore, offered_qos_profiles=qos_list
        )
        self.counts[topic] = 0

    def msgtype(self, topic: str) -> str:
        return self._connections[topic].msgtype

    def write(self, topic: str, log_time_ns: int, msg: Any) -> int:
        """Serialize ``msg`` (a rosbags message object) and write it; returns the CDR size in bytes."""
        data = self.typestore.serialize_cdr(msg, self._connections[topic].msgtype)
        self.write_raw(topic, log_time_ns, data)
        return len(data)

    def write_raw(self, topic: str, log_time_ns: int, data: bytes | memoryview) -> None:
        """Write already serialized CDR bytes."""
        if log_time_ns < 0:
            raise ValueError(f"negative log time {log_time_ns} on {topic}")
        self._writer.write(self._connections[topic], int(log_time_ns), data)
        self.counts[topic] += 1


@dataclass(frozen=True)
class TopicInfo:
    """A topic of a bag as the reader sees it."""

    name: str
    msgtype: str
    count: int
    qos: list[Qos]
    type_hash: str

    @property
    def transient_local(self) -> bool:
        return any(q.durability == QosDurability.TRANSIENT_LOCAL for q in self.qos)


class BagReader:
    """Reads a rosbag2 bag (directory with metadata.yaml, or a bare ``.mcap`` file).

    >>> with BagReader("out/bag") as r:
    ...     for m in r.messages(topics=["/a"]):
    ...         msg = r.deserialize(m)
    """

    def __init__(self, path: Path | str, *, typestore: Typestore | None = None) -> None:
        self.path = Path(path)
        self._typestore = typestore
        self._reader = Reader(self.path)
        self._open = False

    @property
    def typestore(self) -> Typestore:
        if self._typestore is None:
            self._typestore = default_typestore()
        return self._typestore

    def open(self) -> BagReader:
        self._reader.open()
        self._open = True
        return self

    def close(self) -> None:
        if self._open:
            self._reader.close()
            self._open = False

    def __enter__(self) -> BagReader:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def start_time_ns(self) -> int:
        return self._reader.start_time

    @property
    def end_time_ns(self) -> int:
        """Log time of the last message (rosbags' end_time is one past it)."""
        return self._reader.end_time - 1 if self._reader.message_count else self._reader.start_time

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_time_ns - self.start_time_ns)

    @property
    def message_count(self) -> int:
        return self._reader.message_count

    def topics(self) -> dict[str, TopicInfo]:
        out: dict[str, TopicInfo] = {}
        for c in self._reader.connections:
            ext = c.ext
            qos = list(ext.offered_qos_profiles) if isinstance(ext, ConnectionExtRosbag2) else []
            if c.topic in out:
                prev = out[c.topic]
                out[c.topic] = TopicInfo(c.topic, prev.msgtype, prev.count + c.msgcount, prev.qos + qos,
                                         prev.type_hash)
            else:
                out[c.topic] = TopicInfo(c.topic, c.msgtype, c.msgcount, qos, c.digest)
        return out

    def messages(
        self,
        topics: Iterable[str] | None = None,
        start_ns: int | None = None,
        stop_ns: int | None = None,
    ) -> Iterator[BagMessage]:
        """Messages in log-time order, optionally only some topics and a [start, stop) window."""
        wanted = None if topics is None else set(topics)
        conns = [c for c in self._reader.connections if wanted is None or c.topic in wanted]
        if not conns:
            return
        for conn, t, data in self._reader.messages(connections=conns, start=start_ns, stop=stop_ns):
            # rclpy's Publisher.publish takes raw CDR only as `bytes`.
            yield BagMessage(conn.topic, conn.msgtype, t, data if isinstance(data, bytes) else bytes(data))

    def deserialize(self, message: BagMessage) -> Any:
        """CDR bytes -> rosbags message object."""
        return self.typestore.deserialize_cdr(message.data, message.msgtype)


def read_messages(path: Path | str, topics: Iterable[str] | None = None) -> list[tuple[str, int, Any]]:
    """Convenience for tests and scripts: every message deserialized, as (topic, log_time_ns, msg)."""
    with BagReader(path) as r:
        return [(m.topic, m.log_time_ns, r.deserialize(m)) for m in r.messages(topics)]


def is_complete_bag(path: Path | str) -> bool:
    """True if ``path`` is a bag directory whose metadata.yaml exists and names existing storage files.

    rosbags writes metadata.yaml last (after the MCAP summary), so its presence
    means the writer closed cleanly.
    """
    path = Path(path)
    meta = path / "metadata.yaml"
    if not meta.is_file():
        return False
    try:
        import yaml

        info = yaml.safe_load(meta.read_text())["rosbag2_bagfile_information"]
        files = info["relative_file_paths"]
        return bool(files) and all((path / f).is_file() for f in files) and int(info["message_count"]) > 0
    except Exception:  # noqa: BLE001 - any malformed metadata means "not complete"
        return False
