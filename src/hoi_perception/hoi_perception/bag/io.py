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
from rosbags.typesys import get_types_from_idl, get_types_from_msg
from rosbags.typesys.store import Typestore

from hoi_perception.bag import mcap_records
from hoi_perception.bag.mcap_records import ScanResult, scan_mcap
from hoi_perception.bag.typestore import default_typestore, make_typestore

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


class BagError(ValueError):
    """A bag that cannot be read: the message is one line naming the file and the problem."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _mcap_files(path: Path) -> list[Path]:
    """The MCAP storage files of a bag (directory: as metadata.yaml lists them, else every *.mcap)."""
    if path.is_file():
        return [path] if path.suffix == ".mcap" else []
    try:
        import yaml

        info = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        files = [path / Path(f).name for f in info["relative_file_paths"]]
        if info.get("storage_identifier") == "mcap" and all(f.is_file() for f in files):
            return files
    except Exception:  # noqa: BLE001 - fall back to what is in the directory
        pass
    return sorted(path.glob("*.mcap"))


class BagReader:
    """Reads a rosbag2 bag (directory with metadata.yaml, or a bare ``.mcap`` file).

    >>> with BagReader("out/bag") as r:
    ...     for m in r.messages(topics=["/a"]):
    ...         msg = r.deserialize(m)

    Reading goes through rosbags. Where rosbags cannot deliver what the bag
    holds, MCAP files are read record by record instead
    (:func:`hoi_perception.bag.mcap_records.scan_mcap`):

    * rosbags would yield fewer messages than metadata.yaml or the MCAP
      statistics declare (older rosbag2 MCAP without message indexes, or
      metadata QoS that does not match the channel's) -- decided at open,
      :attr:`fallback_reason` says why;
    * a chunk fails to decompress or its CRC mid-read -- reading resumes after
      the last delivered message, the bad chunk is skipped, and
      :attr:`problems` / :attr:`lost_messages` count it.

    Message types the typestore does not know are registered from the
    definitions stored in the bag, so reading never needs the message packages
    installed. Any failure to open raises :class:`BagError` (one line).
    """

    def __init__(self, path: Path | str, *, typestore: Typestore | None = None) -> None:
        self.path = Path(path)
        self._typestore = typestore
        self._reader: Reader | None = None
        self._open = False
        self.fallback_reason: str | None = None
        self.problems: list[str] = []
        self.skipped_chunks = 0
        self.lost_messages = 0  # messages in skipped chunks, as their message indexes list them
        self.lost_unknown = False  # damage whose message count is not known
        self.registered_types: list[str] = []
        self._stored_types: dict[str, tuple[str, str]] = {}  # msgtype -> (format, definition)
        self._registered = False

    @property
    def typestore(self) -> Typestore:
        if self._typestore is None:
            self._typestore = default_typestore()
        if not self._registered:
            self._registered = True
            self._register_stored_types()
        return self._typestore

    def open(self) -> BagReader:
        try:
            self._reader = Reader(self.path)
            self._reader.open()
        except Exception as exc:  # noqa: BLE001 - every failure becomes one named line
            self._reader = None
            hint = ""
            if _mcap_files(self.path) and ("end magic" in str(exc) or "footer" in str(exc).lower()):
                hint = " (cut off by a crash? `hoi-bag-repair` recovers what was written)"
            raise BagError(f"{self.path}: cannot open bag: {_one_line(exc)}{hint}") from None
        self._open = True
        try:
            self._check_metadata_values()
        except BagError:
            self.close()
            raise
        try:
            for c in self._reader.connections:
                if c.msgdef.data and c.msgtype not in self._stored_types:
                    self._stored_types[c.msgtype] = (c.msgdef.format.name, c.msgdef.data)
            self._check_delivery()
        except Exception as exc:  # noqa: BLE001 - a reader internals change must not stop reading
            self.problems.append(f"delivery check skipped: {_one_line(exc)}")
        return self

    def _check_metadata_values(self) -> None:
        """rosbags takes metadata.yaml's numbers as they are; a wrong type would fail much later."""
        r = self._r
        for name, value in (("message_count", r.message_count), ("starting_time", r.start_time),
                            ("duration", r.duration)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise BagError(f"{self.path}: metadata.yaml: {name} is {value!r}, not a count of nanoseconds "
                               "or messages")
        for c in r.connections:
            if not isinstance(c.msgcount, int) or c.msgcount < 0:
                raise BagError(f"{self.path}: metadata.yaml: message_count of {c.topic} is {c.msgcount!r}")

    def close(self) -> None:
        if self._open and self._reader is not None:
            self._reader.close()
        self._open = False

    def __enter__(self) -> BagReader:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def _r(self) -> Reader:
        if self._reader is None:
            raise BagError(f"{self.path}: bag is not open")
        return self._reader

    @property
    def start_time_ns(self) -> int:
        return self._r.start_time

    @property
    def end_time_ns(self) -> int:
        """Log time of the last message (rosbags' end_time is one past it)."""
        return self._r.end_time - 1 if self._r.message_count else self._r.start_time

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_time_ns - self.start_time_ns)

    @property
    def message_count(self) -> int:
        return self._r.message_count

    def topics(self) -> dict[str, TopicInfo]:
        out: dict[str, TopicInfo] = {}
        for c in self._r.connections:
            ext = c.ext
            qos = list(ext.offered_qos_profiles) if isinstance(ext, ConnectionExtRosbag2) else []
            if c.topic in out:
                prev = out[c.topic]
                out[c.topic] = TopicInfo(c.topic, prev.msgtype, prev.count + c.msgcount, prev.qos + qos,
                                         prev.type_hash)
            else:
                out[c.topic] = TopicInfo(c.topic, c.msgtype, c.msgcount, qos, c.digest)
        return out

    # -- reading -----------------------------------------------------------------

    def messages(
        self,
        topics: Iterable[str] | None = None,
        start_ns: int | None = None,
        stop_ns: int | None = None,
    ) -> Iterator[BagMessage]:
        """Messages in log-time order, optionally only some topics and a [start, stop) window.

        (In file order where the record scanner reads: rosbag2 and this
        project's recorder write in receive order.)
        """
        wanted = None if topics is None else set(topics)
        if self.fallback_reason is not None:
            yield from self._scan_messages(wanted, start_ns, stop_ns)
            return
        conns = [c for c in self._r.connections if wanted is None or c.topic in wanted]
        if not conns:
            return
        last_t: int | None = None
        seen_at_last: dict[str, int] = {}
        it = self._r.messages(connections=conns, start=start_ns, stop=stop_ns)
        while True:
            try:
                conn, t, data = next(it)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001 - zstd, CRC and record errors of a damaged chunk
                if not _mcap_files(self.path):
                    raise BagError(f"{self.path}: unreadable data: {_one_line(exc)}") from None
                self.problems.append(f"rosbags stopped at a damaged chunk ({_one_line(exc)}); "
                                     "reading on record by record")
                resume = last_t if last_t is not None else start_ns
                yield from self._scan_messages(wanted, resume, stop_ns, skip_at_start=seen_at_last)
                return
            if t != last_t:
                last_t = t
                seen_at_last = {}
            seen_at_last[conn.topic] = seen_at_last.get(conn.topic, 0) + 1
            # rclpy's Publisher.publish takes raw CDR only as `bytes`.
            yield BagMessage(conn.topic, conn.msgtype, t, data if isinstance(data, bytes) else bytes(data))

    def _scan_messages(
        self,
        wanted: set[str] | None,
        start_ns: int | None,
        stop_ns: int | None,
        skip_at_start: dict[str, int] | None = None,
    ) -> Iterator[BagMessage]:
        """Messages of the MCAP files in file order, damaged chunks skipped and counted."""
        skip = dict(skip_at_start or {})
        for f in _mcap_files(self.path):
            result = ScanResult()
            channels: dict[int, mcap_records.ChannelRecord] = {}
            schemas: dict[int, str] = {}
            try:
                for r in scan_mcap(f, result):
                    if isinstance(r, mcap_records.SchemaRecord):
                        schemas[r.id] = r.name
                        if r.data and r.name not in self._stored_types:
                            fmt = "IDL" if r.encoding == "ros2idl" else "MSG"
                            self._stored_types[r.name] = (fmt, r.data.decode(errors="replace"))
                            self._registered = False
                    elif isinstance(r, mcap_records.ChannelRecord):
                        channels[r.id] = r
                    else:
                        ch = channels.get(r.channel_id)
                        if ch is None:
                            continue
                        if wanted is not None and ch.topic not in wanted:
                            continue
                        t = r.log_time
                        if (start_ns is not None and t < start_ns) or (stop_ns is not None and t >= stop_ns):
                            continue
                        if skip and start_ns is not None and t == start_ns and skip.get(ch.topic, 0) > 0:
                            skip[ch.topic] -= 1  # delivered before rosbags stopped
                            continue
                        yield BagMessage(ch.topic, schemas.get(ch.schema_id, ""), t, r.data)
            except mcap_records.McapFormatError as exc:
                raise BagError(f"{f}: {exc}") from None
            finally:
                for p in result.problems:
                    self.problems.append(f"{f.name}: {p.line()}")
                    if p.kind == "bad_chunk":
                        self.skipped_chunks += 1
                    if p.lost_messages > 0:
                        self.lost_messages += p.lost_messages
                    elif p.lost_messages < 0:
                        self.lost_unknown = True

    def _check_delivery(self) -> None:
        """Decide at open whether rosbags would deliver every message; if not, read records instead."""
        storage = self._r.storage
        storages = getattr(storage, "storages", [storage])
        meta_conns = list(getattr(storage, "connections", []))
        declared_meta = self._r.message_count
        deliverable = 0
        in_files = 0
        for st in storages:
            if not hasattr(st, "chunks") or getattr(st, "statistics", None) is None:
                return  # not MCAP (sqlite3): nothing to check
            conns = st.connections
            if meta_conns and st is not storage:
                matched = {
                    x.id for x in conns
                    if any(y.topic == x.topic and y.msgtype == x.msgtype and y.ext == x.ext
                           and (not x.digest or not y.digest or x.digest == y.digest) for y in meta_conns)
                }
            else:
                matched = {x.id for x in conns}
            stats = st.statistics.channel_message_counts
            in_files += sum(stats.values())
            if st.chunks:
                deliverable += sum(c.channel_count.get(cid, 0) for c in st.chunks for cid in matched)
            else:
                deliverable += sum(n for cid, n in stats.items() if cid in matched)
        declared = max(declared_meta, in_files)
        if deliverable < declared and _mcap_files(self.path):
            self.fallback_reason = (
                f"rosbags would deliver {deliverable} of {declared} messages "
                f"(metadata.yaml declares {declared_meta}, the MCAP files hold {in_files}); "
                "reading the MCAP records directly"
            )

    def _register_stored_types(self) -> None:
        """Register message types unknown to the typestore from the bag's stored definitions."""
        assert self._typestore is not None
        unknown = {t: d for t, d in self._stored_types.items() if t not in self._typestore.fielddefs}
        if not unknown:
            return
        types: dict = {}
        for msgtype, (fmt, text) in unknown.items():
            try:
                if fmt == "IDL":
                    sep = "=" * 80 + "\n"
                    parts = text.split(sep)[1:] if text.startswith(sep + "IDL: ") else [f"IDL: \n{text}"]
                    for part in parts:
                        types.update(get_types_from_idl(part.split("\n", 1)[1]))
                else:
                    types.update(get_types_from_msg(text, msgtype))
            except Exception as exc:  # noqa: BLE001 - one bad definition must not stop the others
                self.problems.append(f"{msgtype}: stored definition not usable ({_one_line(exc)})")
        new = {k: v for k, v in types.items() if k not in self._typestore.fielddefs}
        if new:
            # A private copy: the process-wide store stays what the project defines.
            if self._typestore is default_typestore():
                self._typestore = make_typestore()
            self._typestore.register(new)
            self.registered_types = sorted(new)

    def deserialize(self, message: BagMessage) -> Any:
        """CDR bytes -> rosbags message object (types unknown to the project come from the bag)."""
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
