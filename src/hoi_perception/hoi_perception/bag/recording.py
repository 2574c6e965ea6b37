"""Crash-safe rosbag2 MCAP writer: what was written survives SIGKILL, power loss and a full disk.

rosbags' MCAP writer keeps every chunk in memory until it reaches 1 MiB and
writes the summary and metadata.yaml only on close, so a killed recorder
leaves a 0-byte or footer-less file and no metadata.yaml. This writer writes
MCAP records itself (:mod:`hoi_perception.bag.mcap_records`) so that at any
moment the file on disk is a readable MCAP:

* schemas and channels are written outside chunks as soon as a topic is added;
* messages collect in one pending chunk that is closed when it reaches
  ``chunk_bytes`` *or* is ``chunk_interval_s`` old (1 s by default; call
  :meth:`poll` from a timer so a quiet topic's chunk still closes);
* each closed chunk is written together with its message indexes and a small
  tail (DataEnd + a footer with no summary + magic) in one write at the end of
  the data, then fsync'd. rosbags and mcap read such a file by scanning it, so a
  bag cut off after any chunk opens without repair; a crash *inside* that write
  leaves a file ``hoi-bag-repair`` cuts back to the last whole chunk;
* metadata.yaml (rosbag2 format 9) is written at start and rewritten (temp file,
  fsync, rename) after each chunk, so its counts never exceed what is on disk;
* :meth:`close` replaces the tail with a full summary (chunk indexes and
  statistics), so a cleanly closed bag is indexed like any rosbag2 bag.

A write that fails (``ENOSPC``, ``EIO``...) puts the writer into the *stopped*
state: the tail of the last good chunk is restored and the file truncated
there, later messages are counted as dropped instead of being buffered (memory
stays bounded), and :attr:`error` says why. Nothing raises after the first
failure; the caller logs it once.

Layout constants follow the MCAP specification (foxglove/mcap, website/docs/spec)
and rosbag2_storage_mcap's channel metadata keys (ros2/rosbag2,
rosbag2_storage_mcap/src/mcap_storage.cpp: ``offered_qos_profiles``,
``topic_type_hash``).
"""

from __future__ import annotations

import errno
import os
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

from rosbags.interfaces import Qos
from rosbags.rosbag2.metadata import dump_qos_v9
from rosbags.typesys.store import Typestore
from ruamel.yaml import YAML

from hoi_perception.bag import mcap_records as rec
from hoi_perception.bag.io import SENSOR_QOS
from hoi_perception.bag.typestore import default_typestore

ROSBAG2_VERSION = 9
DEFAULT_CHUNK_BYTES = 1 << 20
DEFAULT_CHUNK_INTERVAL_S = 1.0
LIBRARY = "hoi_perception crash-safe recorder"
# custom_data key saying how the recording ended: "recording" while it runs (so a
# bag cut off by a crash says so), "closed", or "stopped: <error>".
STATE_KEY = "hoi_recorder_state"

# Space held in the bag directory while recording and released when a write fails,
# so the final metadata.yaml still fits on a full disk.
RESERVE_NAME = ".space_reserve"
RESERVE_BYTES = 64 * 1024

_TAIL = rec.record(rec.OP_DATA_END, struct.pack("<I", 0)) + rec.footer_record(0, 0) + rec.MAGIC


@dataclass
class _Topic:
    channel_id: int
    topic: str
    msgtype: str
    qos: list[Qos]
    type_hash: str
    count: int = 0


@dataclass
class _ChunkInfo:
    start: int
    end: int
    offset: int
    length: int
    index_offsets: dict[int, int]
    index_length: int
    compressed_size: int
    uncompressed_size: int
    compression: str


@dataclass
class _PendingChunk:
    records: bytearray = field(default_factory=bytearray)
    index: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    start: int = 2**63 - 1
    end: int = 0
    opened_at: float = 0.0
    messages: int = 0


def _qos_yaml(qos: list[Qos]) -> str:
    stream = StringIO()
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    yaml.dump(dump_qos_v9(qos), stream)
    return stream.getvalue().strip()


def write_file_atomically(path: Path, data: bytes) -> None:
    """Temp file, fsync, rename, fsync the directory: a reader sees the old or the new file, never half."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    except OSError:
        os.close(fd)
        os.unlink(tmp)  # a half-written temp file must not hold space on a full disk
        raise
    os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def metadata_yaml(
    mcap_name: str,
    topics: Sequence[_Topic],
    start_ns: int,
    end_ns: int,
    custom_data: dict[str, str],
    compression: str,
) -> str:
    """rosbag2 format-9 metadata.yaml text (the layout rosbags and ``ros2 bag info`` read)."""
    count = sum(t.count for t in topics)
    start = start_ns if count else 0
    duration = max(0, end_ns - start_ns) if count else 0
    info: dict[str, Any] = {
        "version": ROSBAG2_VERSION,
        "storage_identifier": "mcap",
        "relative_file_paths": [mcap_name],
        "duration": {"nanoseconds": duration},
        "starting_time": {"nanoseconds_since_epoch": start},
        "message_count": count,
        "topics_with_message_count": [
            {
                "topic_metadata": {
                    "name": t.topic,
                    "type": t.msgtype,
                    "serialization_format": "cdr",
                    "offered_qos_profiles": dump_qos_v9(t.qos),
                    "type_description_hash": t.type_hash,
                },
                "message_count": t.count,
            }
            for t in topics
        ],
        # Chunk compression is inside the MCAP ("storage" mode); rosbag2 writes '' here for it.
        "compression_format": "",
        "compression_mode": "",
        "files": [
            {
                "path": mcap_name,
                "starting_time": {"nanoseconds_since_epoch": start},
                "duration": {"nanoseconds": duration},
                "message_count": count,
            }
        ],
        "custom_data": {**custom_data, "hoi_chunk_compression": compression or "none"},
        "ros_distro": "kilted",
    }
    stream = StringIO()
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    yaml.dump({"rosbag2_bagfile_information": info}, stream)
    return stream.getvalue()


class CrashSafeBagWriter:
    """Writes a rosbag2 MCAP bag that stays readable after a crash (see module doc).

    >>> w = CrashSafeBagWriter("out/bag").open()
    >>> w.add_topic("/a", "std_msgs/msg/String")
    >>> w.write_raw("/a", 1_000, cdr_bytes)
    >>> w.close()

    ``write_raw`` returns False (and counts the message in :attr:`dropped`) once
    the writer has stopped after a write error; :attr:`error` holds that error.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        typestore: Typestore | None = None,
        compression: str = "zstd",
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        chunk_interval_s: float = DEFAULT_CHUNK_INTERVAL_S,
        fsync: bool = True,
        custom_data: dict[str, str] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if compression not in ("", "zstd", "lz4"):
            raise ValueError(f"compression must be '', 'zstd' or 'lz4', got {compression!r}")
        if chunk_bytes < 1024:
            raise ValueError(f"chunk_bytes must be >= 1024, got {chunk_bytes}")
        if not 0 < chunk_interval_s <= 3600:
            raise ValueError(f"chunk_interval_s must be in (0, 3600], got {chunk_interval_s}")
        self.path = Path(path)
        self.mcap_path = self.path / f"{self.path.name}.mcap"
        self.typestore = typestore or default_typestore()
        self.compression = compression
        self.chunk_bytes = int(chunk_bytes)
        self.chunk_interval_s = float(chunk_interval_s)
        self.do_fsync = fsync
        self.custom_data = dict(custom_data or {})
        self._now = monotonic
        self._fd: int | None = None
        self._data_end = 0  # where the next record goes (the tail starts here)
        self._topics: dict[str, _Topic] = {}
        self._schemas: dict[str, tuple[int, bytes]] = {}  # msgtype -> (schema id, record)
        self._channels: list[bytes] = []
        self._chunks: list[_ChunkInfo] = []
        self._pending = _PendingChunk()
        self._start_ns = 2**63 - 1
        self._end_ns = 0
        self.error: OSError | None = None
        self.dropped = 0  # messages not written because the writer stopped
        self.lost_in_failed_chunk = 0  # messages of the chunk whose write failed
        self.bytes_written = 0
        self.chunks_written = 0
        self.closed = False

    # -- lifecycle ---------------------------------------------------------------

    def open(self) -> CrashSafeBagWriter:
        self.path.mkdir(parents=True, exist_ok=False)
        self._fd = os.open(self.mcap_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        head = rec.MAGIC + rec.header_record("ros2", LIBRARY)
        self._data_end = 0
        self._append(head)
        write_file_atomically(self.path / RESERVE_NAME, bytes(RESERVE_BYTES))
        self._write_metadata("recording")
        return self

    def _release_reserve(self) -> None:
        try:
            os.unlink(self.path / RESERVE_NAME)
        except OSError:
            pass

    def close(self) -> None:
        """Write the last chunk, the summary and the final metadata.yaml. Never raises on write errors."""
        if self.closed or self._fd is None:
            return
        self.closed = True
        try:
            if self.error is None:
                self.flush()
            if self.error is None:
                try:
                    self._write_summary()
                except OSError as exc:
                    self._fail(exc)
            self._release_reserve()
            state = "closed" if self.error is None else f"stopped: {self.error_text()}"
            try:
                self._write_metadata(state)
            except OSError as exc:  # the bag stays readable through its MCAP; metadata.yaml is the older one
                if self.error is None:
                    self.error = exc
        finally:
            os.close(self._fd)
            self._fd = None

    @property
    def stopped(self) -> bool:
        return self.error is not None

    @property
    def message_count(self) -> int:
        """Messages on disk (in closed chunks)."""
        return sum(t.count for t in self._topics.values())

    @property
    def pending_messages(self) -> int:
        return self._pending.messages

    @property
    def pending_bytes(self) -> int:
        return len(self._pending.records)

    def counts(self) -> dict[str, int]:
        return {t.topic: t.count for t in self._topics.values()}

    # -- topics and messages -----------------------------------------------------

    def add_topic(
        self,
        topic: str,
        msgtype: str,
        qos: Qos | Sequence[Qos] | None = None,
        *,
        msgdef: str | None = None,
        type_hash: str | None = None,
    ) -> None:
        """Declare a topic; its schema and channel are on disk when this returns.

        The message definition comes from the typestore unless ``msgdef`` (and
        ``type_hash``) are given. Raises KeyError for a type the typestore does
        not know, ValueError for a topic declared with another type.
        """
        if topic in self._topics:
            if self._topics[topic].msgtype != msgtype:
                raise ValueError(f"topic {topic} already declared as {self._topics[topic].msgtype}")
            return
        if msgdef is None:
            if msgtype not in self.typestore.types:
                raise KeyError(f"type {msgtype} is not in the typestore")
            msgdef, _ = self.typestore.generate_msgdef(msgtype, ros_version=2)
            type_hash = self.typestore.hash_rihs01(msgtype)
        qos_list = [SENSOR_QOS] if qos is None else [qos] if isinstance(qos, Qos) else list(qos)
        records = b""
        if msgtype not in self._schemas:
            sid = len(self._schemas) + 1
            encoding = "ros2idl" if msgdef.startswith("=" * 80 + "\nIDL: ") else "ros2msg"
            schema = rec.schema_record(sid, msgtype, encoding, msgdef.encode())
            self._schemas[msgtype] = (sid, schema)
            records += schema
        cid = len(self._topics) + 1
        channel = rec.channel_record(cid, self._schemas[msgtype][0], topic, "cdr", {
            "offered_qos_profiles": _qos_yaml(qos_list),
            "topic_type_hash": type_hash or "",
        })
        self._channels.append(channel)
        self._topics[topic] = _Topic(cid, topic, msgtype, qos_list, type_hash or "")
        records += channel
        if self.error is None:
            try:
                self._append(records)
                self._write_metadata("recording")
            except OSError as exc:
                self._fail(exc)

    def write_raw(self, topic: str, log_time_ns: int, data: bytes | memoryview) -> bool:
        """Queue one CDR message; closes the chunk when it is big or old enough.

        Returns False when the message was not kept (writer stopped after a write error).
        """
        t = self._topics[topic]
        if self.error is not None or self.closed:
            self.dropped += 1
            return False
        if log_time_ns < 0:
            raise ValueError(f"negative log time {log_time_ns} on {topic}")
        p = self._pending
        if not p.messages:
            p.opened_at = self._now()
        p.index.setdefault(t.channel_id, []).append((log_time_ns, len(p.records)))
        p.records += rec.message_record(t.channel_id, t.count + p.messages, log_time_ns, log_time_ns, bytes(data))
        p.messages += 1
        p.start = min(p.start, log_time_ns)
        p.end = max(p.end, log_time_ns)
        if len(p.records) >= self.chunk_bytes or self._now() - p.opened_at >= self.chunk_interval_s:
            self.flush()
        return self.error is None

    def poll(self) -> None:
        """Close the pending chunk if it is older than the interval (call from a timer)."""
        p = self._pending
        if p.messages and self.error is None and self._now() - p.opened_at >= self.chunk_interval_s:
            self.flush()

    def flush(self) -> None:
        """Write the pending chunk now (no-op when empty or stopped)."""
        p = self._pending
        if not p.messages or self.error is not None:
            return
        self._pending = _PendingChunk()
        chunk = rec.chunk_record(p.start, p.end, bytes(p.records), self.compression)
        chunk_offset = self._data_end
        index_offsets: dict[int, int] = {}
        indexes = bytearray()
        for cid in sorted(p.index):
            index_offsets[cid] = chunk_offset + len(chunk) + len(indexes)
            indexes += rec.message_index_record(cid, p.index[cid])
        try:
            self._append(chunk + indexes)
        except OSError as exc:
            self.lost_in_failed_chunk = p.messages
            self.dropped += p.messages
            self._fail(exc)
            return
        compressed = len(chunk) - 9 - 28 - 4 - len(self.compression) - 8
        self._chunks.append(_ChunkInfo(p.start, p.end, chunk_offset, len(chunk), index_offsets, len(indexes),
                                       compressed, len(p.records), self.compression))
        self.chunks_written += 1
        for cid, entries in p.index.items():
            for t in self._topics.values():
                if t.channel_id == cid:
                    t.count += len(entries)
        self._start_ns = min(self._start_ns, p.start)
        self._end_ns = max(self._end_ns, p.end)
        try:
            self._write_metadata("recording")
        except OSError as exc:
            self._fail(exc)

    # -- file writing ------------------------------------------------------------

    def _append(self, data: bytes) -> None:
        """Write ``data`` plus the tail at the end of the data, in one write, then fsync."""
        assert self._fd is not None
        buf = memoryview(bytes(data) + _TAIL)
        pos = self._data_end
        while buf:
            n = os.pwrite(self._fd, buf, pos)
            if n <= 0:  # pragma: no cover - pwrite raises rather than returning 0 on a full disk
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            buf = buf[n:]
            pos += n
        self._data_end += len(data)
        if self.do_fsync:
            os.fsync(self._fd)
        self.bytes_written += len(data)

    def _fail(self, exc: OSError) -> None:
        """Stop writing: put back the tail after the last good record and cut the file there."""
        self.error = exc
        if self._pending.messages:
            self.dropped += self._pending.messages
            self._pending = _PendingChunk()
        if self._fd is None:
            return
        try:
            # Cut first: the file never shrinks below the old tail, so the rewrite
            # stays within bytes the filesystem already holds.
            os.ftruncate(self._fd, self._data_end + len(_TAIL))
            os.pwrite(self._fd, _TAIL, self._data_end)
            os.fsync(self._fd)
        except OSError:
            pass  # the repair command cuts back to the last whole record
        self._release_reserve()
        try:
            self._write_metadata(f"stopped: {self.error_text()}")
        except OSError:
            pass  # the older metadata.yaml stays; its counts are still on disk

    def error_text(self) -> str:
        e = self.error
        if e is None:
            return ""
        return f"{errno.errorcode.get(e.errno or 0, 'error')} ({e.strerror or e})"

    def _write_summary(self) -> None:
        """Replace the tail with DataEnd, the summary section and the indexed footer."""
        out = bytearray(rec.record(rec.OP_DATA_END, struct.pack("<I", 0)))
        base = self._data_end
        summary_start = base + len(out)
        groups: list[tuple[int, int, int]] = []

        def group(op: int, records: list[bytes]) -> None:
            if records:
                start = base + len(out)
                for r in records:
                    out.extend(r)
                groups.append((op, start, base + len(out) - start))

        group(rec.OP_SCHEMA, [s for _, s in sorted(self._schemas.values())])
        group(rec.OP_CHANNEL, self._channels)
        group(rec.OP_CHUNK_INDEX, [self._chunk_index(c) for c in self._chunks])
        counts = sorted((t.channel_id, t.count) for t in self._topics.values())
        n = sum(c for _, c in counts)
        stats = struct.pack("<QHIIII", n, len(self._schemas), len(self._channels), 0, 0, len(self._chunks))
        stats += struct.pack("<QQ", self._start_ns if n else 0, self._end_ns if n else 0)
        cmap = b"".join(struct.pack("<HQ", cid, c) for cid, c in counts)
        stats += struct.pack("<I", len(cmap)) + cmap
        group(rec.OP_STATISTICS, [rec.record(rec.OP_STATISTICS, stats)])
        offsets_start = base + len(out)
        for op, start, length in groups:
            out.extend(rec.record(rec.OP_SUMMARY_OFFSET, struct.pack("<BQQ", op, start, length)))
        out.extend(rec.footer_record(summary_start, offsets_start))
        out.extend(rec.MAGIC)
        assert self._fd is not None
        view = memoryview(bytes(out))
        pos = base
        while view:
            k = os.pwrite(self._fd, view, pos)
            view = view[k:]
            pos += k
        os.ftruncate(self._fd, base + len(out))
        os.fsync(self._fd)  # once at close even when per-chunk fsync is off

    @staticmethod
    def _chunk_index(c: _ChunkInfo) -> bytes:
        offsets = b"".join(struct.pack("<HQ", cid, off) for cid, off in sorted(c.index_offsets.items()))
        body = struct.pack("<QQQQ", c.start, c.end, c.offset, c.length)
        body += struct.pack("<I", len(offsets)) + offsets
        body += struct.pack("<Q", c.index_length)
        body += rec.string(c.compression) + struct.pack("<QQ", c.compressed_size, c.uncompressed_size)
        return rec.record(rec.OP_CHUNK_INDEX, body)

    def _write_metadata(self, state: str) -> None:
        text = metadata_yaml(self.mcap_path.name, list(self._topics.values()), self._start_ns, self._end_ns,
                             {**self.custom_data, STATE_KEY: state}, self.compression)
        write_file_atomically(self.path / "metadata.yaml", text.encode())

