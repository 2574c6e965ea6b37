"""MCAP records, written and read at the record level, tolerant of damage.

The crash-safe recorder (:mod:`hoi_perception.bag.recording`) writes MCAP
itself and the repair command and the player's fallback read it here, record
by record, because both must cope with files the indexed readers (rosbags'
and mcap's seeking reader) refuse: a file cut off by a crash (no summary, no
footer), a chunk whose bytes were damaged, or an older rosbag2 MCAP without
message indexes.

Record layouts follow the MCAP specification (foxglove/mcap, website/docs/spec):
every record is ``opcode:uint8 length:uint64 content``; strings are
``uint32 length + UTF-8``; chunk content is ``start:uint64 end:uint64
uncompressed_size:uint64 crc32:uint32 compression:string records:uint64-sized``.

:func:`scan_mcap` walks the data section in file order and yields schemas,
channels and messages as it meets them. A chunk that does not decompress or
fails its CRC is skipped and reported (:class:`ScanProblem`) with the number
of messages it held when its message index records say so; a damaged record
header makes the scanner search for the next plausible chunk record. A file
that ends mid-record ends the scan with a ``truncated`` problem.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

try:  # Python >= 3.14 has zstd in the standard library; rosbags depends on the backport otherwise.
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the interpreter
    from backports import zstd  # type: ignore[no-redef]

import lz4.frame

MAGIC = b"\x89MCAP0\r\n"

OP_HEADER = 0x01
OP_FOOTER = 0x02
OP_SCHEMA = 0x03
OP_CHANNEL = 0x04
OP_MESSAGE = 0x05
OP_CHUNK = 0x06
OP_MESSAGE_INDEX = 0x07
OP_CHUNK_INDEX = 0x08
OP_STATISTICS = 0x0B
OP_METADATA = 0x0C
OP_METADATA_INDEX = 0x0D
OP_SUMMARY_OFFSET = 0x0E
OP_DATA_END = 0x0F

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_RECORD_HEAD = struct.Struct("<BQ")
_MESSAGE_HEAD = struct.Struct("<HIQQ")  # channel id, sequence, log time, publish time
_CHUNK_HEAD = struct.Struct("<QQQI")  # start, end, uncompressed size, crc32
_KNOWN_COMPRESSIONS = ("", "zstd", "lz4")

# A chunk bigger than this is taken as a damaged length field, not a real chunk.
MAX_PLAUSIBLE_CHUNK = 1 << 31


# -- writing -------------------------------------------------------------------


def string(value: str) -> bytes:
    raw = value.encode()
    return _U32.pack(len(raw)) + raw


def byte_array(value: bytes) -> bytes:
    return _U32.pack(len(value)) + value


def string_map(values: dict[str, str]) -> bytes:
    body = b"".join(string(k) + string(v) for k, v in sorted(values.items()))
    return _U32.pack(len(body)) + body


def record(op: int, content: bytes) -> bytes:
    return _RECORD_HEAD.pack(op, len(content)) + content


def header_record(profile: str, library: str) -> bytes:
    return record(OP_HEADER, string(profile) + string(library))


def schema_record(schema_id: int, name: str, encoding: str, data: bytes) -> bytes:
    return record(OP_SCHEMA, _U16.pack(schema_id) + string(name) + string(encoding) + byte_array(data))


def channel_record(channel_id: int, schema_id: int, topic: str, encoding: str, metadata: dict[str, str]) -> bytes:
    return record(OP_CHANNEL, _U16.pack(channel_id) + _U16.pack(schema_id) + string(topic) + string(encoding)
                  + string_map(metadata))


def message_record(channel_id: int, sequence: int, log_time: int, publish_time: int, data: bytes) -> bytes:
    return record(OP_MESSAGE, _MESSAGE_HEAD.pack(channel_id, sequence & 0xFFFFFFFF, log_time, publish_time) + data)


def compress(data: bytes, compression: str) -> bytes:
    if compression == "zstd":
        return zstd.compress(data)
    if compression == "lz4":
        return lz4.frame.compress(data)
    if compression == "":
        return data
    raise ValueError(f"unsupported MCAP chunk compression {compression!r}")


def decompress(data: bytes, compression: str, size: int) -> bytes:
    if compression == "zstd":
        return zstd.decompress(data)
    if compression == "lz4":
        return lz4.frame.decompress(data)
    if compression == "":
        return data
    raise ValueError(f"unsupported MCAP chunk compression {compression!r}")


def chunk_record(start: int, end: int, records: bytes, compression: str) -> bytes:
    packed = compress(records, compression)
    return record(OP_CHUNK, _CHUNK_HEAD.pack(start, end, len(records), zlib.crc32(records))
                  + string(compression) + _U64.pack(len(packed)) + packed)


def message_index_record(channel_id: int, entries: list[tuple[int, int]]) -> bytes:
    body = b"".join(_U64.pack(t) + _U64.pack(off) for t, off in entries)
    return record(OP_MESSAGE_INDEX, _U16.pack(channel_id) + _U32.pack(len(body)) + body)


def footer_record(summary_start: int, summary_offset_start: int, summary_crc: int = 0) -> bytes:
    return record(OP_FOOTER, _U64.pack(summary_start) + _U64.pack(summary_offset_start) + _U32.pack(summary_crc))


# -- reading -------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaRecord:
    id: int
    name: str
    encoding: str
    data: bytes


@dataclass(frozen=True)
class ChannelRecord:
    id: int
    schema_id: int
    topic: str
    message_encoding: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class MessageRecord:
    channel_id: int
    sequence: int
    log_time: int
    publish_time: int
    data: bytes


@dataclass(frozen=True)
class ScanProblem:
    """Damage found while scanning: where (byte offset), what, and how many messages it cost (-1: unknown)."""

    offset: int
    kind: str  # "bad_chunk", "bad_record", "truncated", "resynced"
    detail: str
    lost_messages: int = -1

    def line(self) -> str:
        lost = "" if self.lost_messages < 0 else f", {self.lost_messages} messages lost"
        return f"{self.kind} at byte {self.offset}: {self.detail}{lost}"


@dataclass
class ScanResult:
    """What a finished scan found (filled while :func:`scan_mcap` runs)."""

    profile: str = ""
    problems: list[ScanProblem] = field(default_factory=list)
    messages: int = 0
    chunks: int = 0
    # Offset just past the last intact record of the data section: where a repair cuts the file.
    good_end: int = 0
    footer_found: bool = False

    @property
    def truncated(self) -> bool:
        return any(p.kind == "truncated" for p in self.problems)


class McapFormatError(ValueError):
    """The file is not MCAP at all (bad magic or header)."""


def _read_string(buf: bytes, pos: int) -> tuple[str, int]:
    (n,) = _U32.unpack_from(buf, pos)
    end = pos + 4 + n
    if end > len(buf):
        raise ValueError("string runs past its record")
    return buf[pos + 4:end].decode(), end


def _parse_schema(body: bytes) -> SchemaRecord:
    (sid,) = _U16.unpack_from(body, 0)
    name, pos = _read_string(body, 2)
    encoding, pos = _read_string(body, pos)
    (n,) = _U32.unpack_from(body, pos)
    return SchemaRecord(sid, name, encoding, bytes(body[pos + 4:pos + 4 + n]))


def _parse_channel(body: bytes) -> ChannelRecord:
    cid, sid = struct.unpack_from("<HH", body, 0)
    topic, pos = _read_string(body, 4)
    encoding, pos = _read_string(body, pos)
    (n,) = _U32.unpack_from(body, pos)
    pos += 4
    end = pos + n
    meta: dict[str, str] = {}
    while pos < end:
        k, pos = _read_string(body, pos)
        v, pos = _read_string(body, pos)
        meta[k] = v
    return ChannelRecord(cid, sid, topic, encoding, meta)


def _parse_message(body: bytes) -> MessageRecord:
    cid, seq, log_time, pub_time = _MESSAGE_HEAD.unpack_from(body, 0)
    return MessageRecord(cid, seq, log_time, pub_time, bytes(body[_MESSAGE_HEAD.size:]))


Record = SchemaRecord | ChannelRecord | MessageRecord


def _inner_records(raw: bytes) -> list[Record]:
    """Records of a decompressed chunk (all or nothing: a damaged chunk raises)."""
    out: list[Record] = []
    pos = 0
    while pos < len(raw):
        if pos + 9 > len(raw):
            raise ValueError("chunk content ends inside a record header")
        op, n = _RECORD_HEAD.unpack_from(raw, pos)
        body = raw[pos + 9:pos + 9 + n]
        if len(body) != n:
            raise ValueError("chunk content ends inside a record")
        if op == OP_SCHEMA:
            out.append(_parse_schema(body))
        elif op == OP_CHANNEL:
            out.append(_parse_channel(body))
        elif op == OP_MESSAGE:
            if n < _MESSAGE_HEAD.size:
                raise ValueError(f"message record of {n} bytes")
            out.append(_parse_message(body))
        pos += 9 + n
    return out


def _decode_chunk(body: bytes) -> list[Record]:
    start, end, usize, crc = _CHUNK_HEAD.unpack_from(body, 0)
    compression, pos = _read_string(body, _CHUNK_HEAD.size)
    if compression not in _KNOWN_COMPRESSIONS:
        raise ValueError(f"unknown compression {compression!r}")
    (csize,) = _U64.unpack_from(body, pos)
    pos += 8
    if pos + csize > len(body):
        raise ValueError("compressed data runs past the chunk record")
    try:
        raw = decompress(bytes(body[pos:pos + csize]), compression, usize)
    except Exception as exc:  # noqa: BLE001 - zstd/lz4 raise their own error types
        raise ValueError(f"{compression or 'raw'} data does not decompress ({exc})") from exc
    if len(raw) != usize:
        raise ValueError(f"decompressed to {len(raw)} bytes, the chunk says {usize}")
    if crc and zlib.crc32(raw) != crc:
        raise ValueError("CRC mismatch")
    return _inner_records(raw)


def _plausible_chunk_at(buf: mmap.mmap, pos: int, size: int) -> bool:
    """Is there a chunk record at ``pos`` whose header fields make sense?"""
    if pos + 9 + _CHUNK_HEAD.size + 4 > size or buf[pos] != OP_CHUNK:
        return False
    (n,) = _U64.unpack_from(buf, pos + 1)
    if n < _CHUNK_HEAD.size + 12 or pos + 9 + n > size or n > MAX_PLAUSIBLE_CHUNK:
        return False
    start, end, usize, _ = _CHUNK_HEAD.unpack_from(buf, pos + 9)
    if start > end or usize > MAX_PLAUSIBLE_CHUNK:
        return False
    (slen,) = _U32.unpack_from(buf, pos + 9 + _CHUNK_HEAD.size)
    if slen > 4:
        return False
    s0 = pos + 9 + _CHUNK_HEAD.size + 4
    if bytes(buf[s0:s0 + slen]).decode("ascii", "replace") not in _KNOWN_COMPRESSIONS:
        return False
    (csize,) = _U64.unpack_from(buf, s0 + slen)
    return s0 + slen + 8 + csize == pos + 9 + n


def _count_index_entries(buf: mmap.mmap, pos: int, size: int) -> tuple[int, int]:
    """Message index records right after a chunk: (messages they list, offset past them)."""
    count = 0
    while pos + 9 <= size and buf[pos] == OP_MESSAGE_INDEX:
        (n,) = _U64.unpack_from(buf, pos + 1)
        if pos + 9 + n > size or n < 6:
            break
        (entries_len,) = _U32.unpack_from(buf, pos + 9 + 2)
        count += entries_len // 16
        pos += 9 + n
    return count, pos


def scan_mcap(path: Path | str, result: ScanResult | None = None) -> Iterator[Record]:
    """Yield the schemas, channels and messages of an MCAP file in file order, skipping damage.

    ``result`` (optional) is filled as the scan goes: problems, counts and
    ``good_end``. Raises :class:`McapFormatError` if the file is not MCAP.
    """
    res = result if result is not None else ScanResult()
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < len(MAGIC):
            raise McapFormatError("empty file" if not size else "not an MCAP file (shorter than the magic)")
        # Mapped, not read: bags are often gigabytes and only one chunk at a time is needed.
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as raw:
            yield from _scan_buffer(raw, size, res)


def _scan_buffer(buf: mmap.mmap, size: int, res: ScanResult) -> Iterator[Record]:
    # Slicing an mmap copies; records are handed out as bytes, so nothing pins the mapping.
    if buf[:8] != MAGIC:
        raise McapFormatError("not an MCAP file (bad magic)")
    pos = 8
    if size < pos + 9 or buf[pos] != OP_HEADER:
        raise McapFormatError("no MCAP header record")
    (n,) = _U64.unpack_from(buf, pos + 1)
    if pos + 9 + n > size:
        raise McapFormatError("MCAP header record is cut off")
    try:
        res.profile, _ = _read_string(bytes(buf[pos + 9:pos + 9 + n]), 0)
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise McapFormatError(f"unreadable MCAP header ({exc})") from exc
    pos += 9 + n
    res.good_end = pos
    while pos < size:
        if pos + 9 > size:
            res.problems.append(ScanProblem(pos, "truncated", f"file ends {size - pos} bytes into a record header"))
            return
        op, n = _RECORD_HEAD.unpack_from(buf, pos)
        if op in (OP_DATA_END, OP_FOOTER):
            res.footer_found = op == OP_FOOTER or _footer_follows(buf, pos, size)
            return
        if pos + 9 + n > size:
            if op == OP_CHUNK or n > MAX_PLAUSIBLE_CHUNK or op not in _DATA_OPS:
                nxt = _next_chunk(buf, pos + 1, size)
                if nxt is not None and (op not in _DATA_OPS or n > MAX_PLAUSIBLE_CHUNK):
                    res.problems.append(ScanProblem(pos, "resynced", f"damaged record header (opcode {op:#x}); "
                                                    f"skipped {nxt - pos} bytes to the next chunk"))
                    pos = nxt
                    continue
            res.problems.append(ScanProblem(pos, "truncated", f"file ends inside a {n}-byte record "
                                            f"(opcode {op:#x}); {size - pos - 9} bytes present"))
            return
        if op not in _DATA_OPS:
            nxt = _next_chunk(buf, pos + 1, size)
            res.problems.append(ScanProblem(pos, "resynced" if nxt is not None else "bad_record",
                                            f"unknown opcode {op:#x}"
                                            + (f"; skipped {nxt - pos} bytes to the next chunk" if nxt else "")))
            if nxt is None:
                return
            pos = nxt
            continue
        body = buf[pos + 9:pos + 9 + n]
        end = pos + 9 + n
        try:
            if op == OP_CHUNK:
                records = _decode_chunk(body)
                res.chunks += 1
                for r in records:
                    if isinstance(r, MessageRecord):
                        res.messages += 1
                    yield r
            elif op == OP_SCHEMA:
                yield _parse_schema(bytes(body))
            elif op == OP_CHANNEL:
                yield _parse_channel(bytes(body))
            elif op == OP_MESSAGE:
                res.messages += 1
                yield _parse_message(bytes(body))
        except (ValueError, struct.error, UnicodeDecodeError) as exc:
            lost, _ = _count_index_entries(buf, end, size)
            kind = "bad_chunk" if op == OP_CHUNK else "bad_record"
            res.problems.append(ScanProblem(pos, kind, str(exc), lost if op == OP_CHUNK else 1))
        pos = end
        res.good_end = pos


# Records that may appear in an MCAP data section.
_DATA_OPS = frozenset({OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK, OP_MESSAGE_INDEX, 0x09, 0x0A, OP_METADATA})


def _next_chunk(buf: mmap.mmap, pos: int, size: int) -> int | None:
    while True:
        pos = buf.find(bytes([OP_CHUNK]), pos)
        if pos < 0:
            return None
        if _plausible_chunk_at(buf, pos, size):
            return pos
        pos += 1


def _footer_follows(buf: mmap.mmap, pos: int, size: int) -> bool:
    return size >= 8 and bytes(buf[size - 8:size]) == MAGIC and size - pos >= 8
