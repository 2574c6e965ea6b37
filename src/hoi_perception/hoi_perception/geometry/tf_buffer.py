"""A TF buffer over time, without rclpy (tf2_ros is not on PyPI).

Keeps the transforms of /tf (a bounded, time-sorted history per child frame)
and /tf_static (one transform per child frame, valid at every time) and looks
up ``target_from_source`` at a stamp. The semantics are tf2's, read in
github ros2/geometry2 (tf2/src/cache.cpp TimeCache, tf2/src/static_cache.cpp,
tf2/src/buffer_core.cpp BufferCore):

* history: each child frame's samples are kept for ``cache_time_ns`` behind
  its newest sample (tf2's default cache time is 10 s); a sample older than
  that when it arrives is refused ("old data"); an exact duplicate (same stamp,
  parent and values) is ignored. Here a count cap per edge (``max_samples``)
  bounds memory as well.
* lookup at a stamp: between the two samples around it the translation is
  interpolated linearly and the rotation by slerp; when the two samples name
  different parents the older one is used as is (no interpolation). A stamp
  after the newest sample is an :class:`ExtrapolationError` ("into the
  future"), before the oldest one "into the past"; with one sample only its
  own stamp matches. No extrapolation is ever done.
* stamp 0 means "latest": the newest time at which every dynamic edge of the
  chain has data (tf2's getLatestCommonTime); all-static chains answer at any
  time.
* frames: an unknown frame is a :class:`FrameNotFound` (tf2 LookupException),
  frames in two unconnected trees a :class:`ConnectivityError`, a transform
  with an empty frame, parent == child, a non-finite value or a zero
  quaternion an :class:`InvalidTransform` (tf2 refuses those in setTransform);
  a leading "/" is stripped from frame ids as tf2 does.

Transforms map child-frame points into the parent frame (parent_from_child),
as geometry_msgs/TransformStamped does.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hoi_perception.geometry.rotations import quat_to_matrix

DEFAULT_CACHE_TIME_NS = 10_000_000_000  # tf2 BufferCore default cache time: 10 s
DEFAULT_MAX_SAMPLES = 5000  # per edge; 10 s of a 500 Hz transform
MAX_CHAIN = 100  # tf2 stops a walk after this many hops (a loop in the tree)


class TfError(Exception):
    """A transform lookup failed (base of the tf2-like errors below)."""


class FrameNotFound(TfError):
    """A frame no transform mentions (tf2 LookupException)."""


class ConnectivityError(TfError):
    """The two frames are in unconnected trees (tf2 ConnectivityException)."""


class ExtrapolationError(TfError):
    """The stamp lies outside the history of an edge on the chain (tf2 ExtrapolationException)."""


class InvalidTransform(TfError, ValueError):
    """A transform tf2 would refuse to store (InvalidArgumentException)."""


@dataclass(frozen=True)
class Sample:
    """One transform of an edge: parent_from_child at ``stamp_ns``."""

    stamp_ns: int
    parent: str
    translation: tuple[float, float, float]
    rotation_xyzw: tuple[float, float, float, float]

    def matrix(self) -> NDArray[np.float64]:
        m = np.eye(4)
        m[:3, :3] = quat_to_matrix(self.rotation_xyzw)
        m[:3, 3] = self.translation
        return m


def slerp(q0: ArrayLike, q1: ArrayLike, ratio: float) -> NDArray[np.float64]:
    """Spherical linear interpolation of unit quaternions (x, y, z, w), the
    shorter way round (as tf2's Quaternion slerp)."""
    a = np.asarray(q0, dtype=np.float64)
    b = np.asarray(q1, dtype=np.float64)
    d = float(np.dot(a, b))
    if d < 0.0:
        b, d = -b, -d
    if d > 0.9995:  # nearly parallel: lerp is exact to rounding and avoids 0/0
        q = a + ratio * (b - a)
        return q / np.linalg.norm(q)
    theta = math.acos(min(1.0, d))
    s = math.sin(theta)
    return (math.sin((1.0 - ratio) * theta) * a + math.sin(ratio * theta) * b) / s


def _strip(frame: str) -> str:
    return frame[1:] if frame.startswith("/") else frame


@dataclass
class EdgeHistory:
    """Time-sorted samples of one child frame (tf2 TimeCache), oldest first."""

    cache_time_ns: int
    max_samples: int
    samples: list[Sample] = field(default_factory=list)
    stamps: list[int] = field(default_factory=list)

    def insert(self, s: Sample) -> bool:
        """False when refused: older than the cache window of the newest sample."""
        if self.samples and s.stamp_ns < self.stamps[-1] - self.cache_time_ns:
            return False
        i = bisect.bisect_right(self.stamps, s.stamp_ns)
        j = i
        while j > 0 and self.stamps[j - 1] == s.stamp_ns:
            if self.samples[j - 1] == s:
                return True  # exact duplicate: already stored
            j -= 1
        self.samples.insert(i, s)
        self.stamps.insert(i, s.stamp_ns)
        self._prune()
        return True

    def _prune(self) -> None:
        newest = self.stamps[-1]
        drop = bisect.bisect_left(self.stamps, newest - self.cache_time_ns)
        drop = max(drop, len(self.stamps) - self.max_samples)
        if drop > 0:
            del self.samples[:drop]
            del self.stamps[:drop]

    @property
    def newest_ns(self) -> int:
        return self.stamps[-1]

    @property
    def oldest_ns(self) -> int:
        return self.stamps[0]

    def bracket(self, stamp_ns: int, child: str) -> tuple[Sample, Sample | None]:
        """The sample at ``stamp_ns`` or the two around it (older, newer)."""
        if not self.samples:
            raise ExtrapolationError(f"no transform for frame '{child}' yet")
        if stamp_ns == 0:
            return self.samples[-1], None
        if len(self.samples) == 1:
            if self.stamps[0] == stamp_ns:
                return self.samples[0], None
            raise ExtrapolationError(f"lookup of '{child}' would require extrapolation at time {_t(stamp_ns)}, "
                                     f"but only time {_t(self.stamps[0])} is in the buffer")
        if stamp_ns > self.stamps[-1]:
            raise ExtrapolationError(f"lookup of '{child}' would require extrapolation into the future: requested "
                                     f"time {_t(stamp_ns)} but the latest data is at time {_t(self.stamps[-1])}")
        if stamp_ns < self.stamps[0]:
            raise ExtrapolationError(f"lookup of '{child}' would require extrapolation into the past: requested "
                                     f"time {_t(stamp_ns)} but the earliest data is at time {_t(self.stamps[0])}")
        i = bisect.bisect_right(self.stamps, stamp_ns) - 1  # newest sample at or before the stamp
        if self.stamps[i] == stamp_ns:
            return self.samples[i], None
        return self.samples[i], self.samples[i + 1]

    def at(self, stamp_ns: int, child: str) -> Sample:
        one, two = self.bracket(stamp_ns, child)
        if two is None or two.parent != one.parent:
            return one  # tf2: a parent change between samples is not interpolated
        ratio = (stamp_ns - one.stamp_ns) / (two.stamp_ns - one.stamp_ns)
        t = (1.0 - ratio) * np.asarray(one.translation) + ratio * np.asarray(two.translation)
        q = slerp(one.rotation_xyzw, two.rotation_xyzw, ratio)
        return Sample(stamp_ns, one.parent, tuple(map(float, t)), tuple(map(float, q)))  # type: ignore[arg-type]


def _t(ns: int) -> str:
    return f"{ns / 1e9:.6f}"


class TfBuffer:
    """Transforms over time (see the module docstring for the semantics)."""

    def __init__(self, cache_time_ns: int = DEFAULT_CACHE_TIME_NS, max_samples: int = DEFAULT_MAX_SAMPLES) -> None:
        if cache_time_ns <= 0 or max_samples < 2:
            raise ValueError("cache_time_ns must be > 0 and max_samples >= 2")
        self.cache_time_ns = int(cache_time_ns)
        self.max_samples = int(max_samples)
        self._dynamic: dict[str, EdgeHistory] = {}
        self._static: dict[str, Sample] = {}
        self.counters: dict[str, int] = {"stored": 0, "static_stored": 0, "refused_old": 0, "invalid": 0}

    # ---- insertion -------------------------------------------------------
    def set_transform(self, parent: str, child: str, stamp_ns: int, translation: ArrayLike,
                      rotation_xyzw: ArrayLike, static: bool = False) -> bool:
        """Store parent_from_child at ``stamp_ns``. Raises InvalidTransform for
        data tf2 refuses; returns False (counted) for data older than the
        edge's cache window."""
        parent, child = _strip(str(parent)), _strip(str(child))
        t = np.asarray(translation, dtype=np.float64).reshape(-1)
        q = np.asarray(rotation_xyzw, dtype=np.float64).reshape(-1)
        problem = None
        if not parent or not child:
            problem = "empty frame id"
        elif parent == child:
            problem = f"frame '{child}' would be its own parent"
        elif t.shape != (3,) or q.shape != (4,) or not (np.all(np.isfinite(t)) and np.all(np.isfinite(q))):
            problem = "non-finite or malformed translation/rotation"
        elif np.linalg.norm(q) < 1e-9:
            problem = "zero quaternion"
        elif stamp_ns < 0:
            problem = "negative stamp"
        if problem is not None:
            self.counters["invalid"] += 1
            raise InvalidTransform(f"transform {parent or '?'} -> {child or '?'} refused: {problem}")
        q = q / np.linalg.norm(q)
        s = Sample(int(stamp_ns), parent, tuple(map(float, t)), tuple(map(float, q)))  # type: ignore[arg-type]
        if static:
            self._static[child] = s
            self._dynamic.pop(child, None)  # a frame is static or dynamic, the later message decides
            self.counters["static_stored"] += 1
            return True
        self._static.pop(child, None)
        hist = self._dynamic.get(child)
        if hist is None:
            hist = self._dynamic[child] = EdgeHistory(self.cache_time_ns, self.max_samples)
        if not hist.insert(s):
            self.counters["refused_old"] += 1
            return False
        self.counters["stored"] += 1
        return True

    def set_matrix(self, parent: str, child: str, stamp_ns: int, parent_from_child: ArrayLike,
                   static: bool = False) -> bool:
        from hoi_perception.geometry.rotations import matrix_to_quat

        m = np.asarray(parent_from_child, dtype=np.float64)
        return self.set_transform(parent, child, stamp_ns, m[:3, 3], matrix_to_quat(m[:3, :3]), static=static)

    # ---- queries ---------------------------------------------------------
    def frames(self) -> set[str]:
        out = set(self._dynamic) | set(self._static)
        out |= {s.parent for s in self._static.values()}
        out |= {h.samples[-1].parent for h in self._dynamic.values() if h.samples}
        return out

    def __len__(self) -> int:
        return len(self._dynamic) + len(self._static)

    def history_length(self, child: str) -> int:
        h = self._dynamic.get(_strip(child))
        return len(h.samples) if h is not None else int(_strip(child) in self._static)

    def _parent_link(self, frame: str, stamp_ns: int) -> Sample | None:
        """frame's link to its parent at the stamp; None at a root."""
        s = self._static.get(frame)
        if s is not None:
            return s
        h = self._dynamic.get(frame)
        if h is None:
            return None
        return h.at(stamp_ns, frame)

    def _chain(self, frame: str, stamp_ns: int, stop: set[str] | frozenset[str] = frozenset()
               ) -> list[tuple[str, NDArray[np.float64]]]:
        """(ancestor, ancestor_from_frame) for ``frame`` and each ancestor up to
        its root or the first frame in ``stop``, starting with (frame, identity).
        Like tf2's walkToTopParent, edges above a stop frame are not looked up
        (so a static sub-chain answers at any stamp)."""
        out = [(frame, np.eye(4))]
        m = np.eye(4)
        cur = frame
        for _ in range(MAX_CHAIN):
            if cur in stop:
                return out
            link = self._parent_link(cur, stamp_ns)
            if link is None:
                return out
            m = link.matrix() @ m
            cur = link.parent
            out.append((cur, m.copy()))
        raise ConnectivityError(f"the chain from '{frame}' exceeds {MAX_CHAIN} frames: a loop in the TF tree?")

    def _check_known(self, frame: str, role: str) -> None:
        if frame not in self.frames():
            raise FrameNotFound(f"\"{frame}\" passed to lookup as {role} does not exist "
                                f"({len(self.frames())} frames known)")

    def latest_common_time(self, target: str, source: str) -> int:
        """Newest stamp at which every dynamic edge between the two frames has
        data; 0 when the chain is all static (valid at any time)."""
        target, source = _strip(target), _strip(source)
        chain = self._path_frames(target, source, 0)
        stamps = [self._dynamic[f].newest_ns for f in chain if f in self._dynamic]
        return min(stamps) if stamps else 0

    def _path_frames(self, target: str, source: str, stamp_ns: int) -> list[str]:
        """The child frames of the edges on the path between the two frames."""
        up_s = [f for f, _ in self._chain(source, stamp_ns, {target})]
        up_t = [f for f, _ in self._chain(target, stamp_ns, set(up_s))]
        common = up_t[-1]
        if common not in up_s:
            raise ConnectivityError(f"could not find a connection between '{target}' and '{source}' because they "
                                    "are not part of the same tree (two or more unconnected trees)")
        return up_s[:up_s.index(common)] + up_t[:-1]

    def lookup(self, target: str, source: str, stamp_ns: int = 0) -> NDArray[np.float64]:
        """4x4 ``target_from_source`` at ``stamp_ns`` (0: the latest common time)."""
        target, source = _strip(str(target)), _strip(str(source))
        if target == source:
            return np.eye(4)  # tf2 answers identity for equal frames, even unknown ones
        self._check_known(target, "target_frame")
        self._check_known(source, "source_frame")
        if stamp_ns == 0:
            stamp_ns = self.latest_common_time(target, source)
        up_s = self._chain(source, stamp_ns, {target})
        s_index = dict(up_s)
        common, anc_from_target = self._chain(target, stamp_ns, set(s_index))[-1]
        if common in s_index:
            return np.linalg.inv(anc_from_target) @ s_index[common]
        raise ConnectivityError(f"could not find a connection between '{target}' and '{source}' because they "
                                "are not part of the same tree (two or more unconnected trees)")

    def can_transform(self, target: str, source: str, stamp_ns: int = 0) -> tuple[bool, str]:
        """(True, "") or (False, why), without raising."""
        try:
            self.lookup(target, source, stamp_ns)
        except TfError as e:
            return False, str(e)
        return True, ""


def add_transform(buffer: TfBuffer, t: Any, static: bool) -> bool:
    """Store one TransformStamped-shaped message (rclpy's or a bag reader's: header.frame_id, header.stamp,
    child_frame_id, transform.translation / .rotation). Raises InvalidTransform."""
    tr, q = t.transform.translation, t.transform.rotation
    stamp = t.header.stamp
    return buffer.set_transform(t.header.frame_id, t.child_frame_id, int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec),
                                [tr.x, tr.y, tr.z], [q.x, q.y, q.z, q.w], static=static)


def lookup_or_none(buffer: TfBuffer, target: str, source: str, stamp_ns: int = 0) -> NDArray[np.float64] | None:
    """``target_from_source`` or None where tf2 would raise (unknown, unconnected, extrapolation)."""
    try:
        return buffer.lookup(target, source, stamp_ns)
    except TfError:
        return None
