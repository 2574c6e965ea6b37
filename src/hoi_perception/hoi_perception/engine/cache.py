"""Engine cache: TensorRT plans keyed by everything that makes a plan (in)valid.

Key = ONNX sha256 + TensorRT version + GPU name + compute capability +
precision + optimisation profile. A plan built by another TensorRT version
or for another GPU has another key, so it is rebuilt, never loaded. Each plan
has a JSON sidecar with its key; a lookup only hits when the sidecar matches.

Writes are atomic (temp file in the same directory, fsync, rename), so a
killed build never leaves half a plan under the final name; builds of one key
are serialised across processes with an fcntl lock file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hoi_perception import paths

log = logging.getLogger(__name__)

ENV_CACHE_DIR = "HOI_ENGINE_CACHE"
_TMP_PREFIX = ".tmp-"


def default_cache_dir() -> Path:
    """$HOI_ENGINE_CACHE, else the user cache (~/.cache/hoi_perception/engines): paths.engine_cache_dir()."""
    return paths.engine_cache_dir()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


ProfileKey = tuple[tuple[str, tuple[int, ...], tuple[int, ...], tuple[int, ...]], ...]


def profile_key(profile: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]) -> ProfileKey:
    """Canonical (sorted, hashable) form of a {input: (min, opt, max)} profile."""
    return tuple((n, tuple(mn), tuple(op), tuple(mx)) for n, (mn, op, mx) in sorted(profile.items()))


@dataclass(frozen=True)
class EngineCacheKey:
    """Everything a serialized TensorRT plan depends on."""

    model: str  # contract name, for readable file names
    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "8.9"
    precision: str  # fp32 | fp16 | int8
    profile: ProfileKey
    calibration_sha256: str = ""  # int8 only: the calibration cache's content

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["profile"] = [[n, list(a), list(b), list(c)] for n, a, b, c in self.profile]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> EngineCacheKey:
        d = dict(d)
        d["profile"] = tuple((n, tuple(a), tuple(b), tuple(c)) for n, a, b, c in d["profile"])
        return cls(**d)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def filename(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.model)
        return f"{safe}-{self.precision}-{self.digest()[:20]}.engine"

    def differences(self, other: EngineCacheKey) -> list[str]:
        """Names of the key parts that differ (for 'rebuilding because ...' logs)."""
        a, b = self.to_dict(), other.to_dict()
        return [k for k in a if a[k] != b.get(k)]


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Exclusive advisory lock (fcntl.flock) on ``path``; released on exit or process death."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def atomic_write(path: str | Path, data: bytes | bytearray | memoryview | Iterable[bytes]) -> Path:
    """Write ``data`` (bytes or an iterable of chunks) to ``path`` atomically.

    The temp file lives in the same directory (rename is atomic only within a
    filesystem) and carries our pid, so a later :func:`clean_stale_temps` can
    tell leftovers of killed writers from writes in progress.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", suffix=f"-{path.name}", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                f.write(data)
            else:
                for chunk in data:
                    f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # Persist the rename itself.
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as e:
        return e.errno == errno.EPERM
    return True


def clean_stale_temps(directory: str | Path) -> list[Path]:
    """Remove temp files left by writers that no longer run; return what was removed."""
    removed = []
    directory = Path(directory)
    if not directory.is_dir():
        return removed
    for p in directory.glob(f"{_TMP_PREFIX}*"):
        m = re.match(rf"{re.escape(_TMP_PREFIX)}(\d+)-", p.name)
        if m and not _pid_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


class EngineCache:
    """A directory of ``<model>-<precision>-<digest>.engine`` plans with ``.json`` key sidecars."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def path_for(self, key: EngineCacheKey) -> Path:
        return self.root / key.filename()

    @staticmethod
    def meta_path(engine_path: Path) -> Path:
        return engine_path.with_suffix(".json")

    def lookup(self, key: EngineCacheKey) -> Path | None:
        """The cached plan for ``key``, or None (missing, or its sidecar holds another key)."""
        path = self.path_for(key)
        meta = self.meta_path(path)
        if not (path.is_file() and meta.is_file()):
            return None
        try:
            stored = EngineCacheKey.from_dict(json.loads(meta.read_text()))
        except (ValueError, KeyError, TypeError):
            log.warning("engine cache: unreadable sidecar %s, rebuilding", meta)
            return None
        if stored != key:
            log.info("engine cache: %s was built for another %s, rebuilding", path.name, ", ".join(key.differences(stored)))
            return None
        return path

    def stale_entries(self, key: EngineCacheKey) -> list[tuple[Path, list[str]]]:
        """Plans of the same model and ONNX whose other key parts differ, with what differs."""
        out = []
        for meta in sorted(self.root.glob("*.json")):
            try:
                other = EngineCacheKey.from_dict(json.loads(meta.read_text()))
            except (ValueError, KeyError, TypeError):
                continue
            if other.model == key.model and other != key:
                out.append((meta.with_suffix(".engine"), key.differences(other)))
        return out

    def get_or_build(self, key: EngineCacheKey, build: Callable[[], bytes | Iterable[bytes]]) -> Path:
        """Return the plan for ``key``, building it (once, across processes) when missing."""
        hit = self.lookup(key)
        if hit is not None:
            return hit
        path = self.path_for(key)
        with file_lock(path.with_suffix(".lock")):
            # Another process may have finished the build while we waited for the lock.
            hit = self.lookup(key)
            if hit is not None:
                return hit
            clean_stale_temps(self.root)
            for stale, why in self.stale_entries(key):
                log.info("engine cache: not using %s (differs in %s)", stale.name, ", ".join(why))
            atomic_write(path, build())
            # Sidecar last: a plan without a matching sidecar is never a hit.
            atomic_write(self.meta_path(path), json.dumps(key.to_dict(), indent=1, sort_keys=True).encode())
            log.info("engine cache: wrote %s", path)
        return path
