"""Episode recording for demonstration data: one crash-safe MCAP bag per episode.

ROS-free core of the ``episode_recorder`` node (the node only does parameters,
subscriptions, services and publishing). An :class:`EpisodeRecorder` receives
every message of the recorded topics as CDR bytes and writes them only while an
episode is open; each episode is its own rosbag2 bag folder under the output
root, written by :class:`~hoi_perception.bag.recording.CrashSafeBagWriter`.

State machine::

    IDLE --start--> RECORDING --stop/limit/error--> IDLE (or ERROR on a write error)
                    RECORDING --grasp END (all grasps released)--> STOPPING
                    STOPPING  --grasp START--> RECORDING (re-grasp: same episode)
                    STOPPING  --stop_delay_s elapsed--> IDLE
    RECORDING/STOPPING --discard--> IDLE (folder deleted)
    ERROR --start--> RECORDING

Metadata (operator, task label, robot, notes, software version, calibration
topics, success flag, stop reason) goes into the bag's ``metadata.yaml``
``custom_data`` (keys ``episode_*``; written at start with success
``unknown`` so a crashed episode still says who recorded what) and into a
sidecar manifest ``episode.json`` written atomically when the episode ends.

Calibration: the last message(s) of every *snapshot topic* (``/tf_static``,
``*/camera_info`` and any latched topic by default) are kept while idle and
re-written at the start of each episode, so every episode bag holds its
calibration even though latched topics were published once, long before.
"""

from __future__ import annotations

import enum
import fnmatch
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from hoi_perception.bag.recording import CrashSafeBagWriter, write_file_atomically
from hoi_perception.bag.typestore import default_typestore

MANIFEST_NAME = "episode.json"
MANIFEST_FORMAT = "hoi_episode/1"
# Latched topics keep several messages (one per publisher on /tf_static); bounded so
# a misbehaving publisher cannot grow the cache without limit.
SNAPSHOT_DEPTH = 32
DEFAULT_SNAPSHOT_TOPICS = ("/tf_static", "*/camera_info")
_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class State(enum.IntEnum):
    # Values equal hoi_msgs/EpisodeStatus constants.
    IDLE = 0
    RECORDING = 1
    STOPPING = 2
    ERROR = 3


class EpisodeError(RuntimeError):
    """A request that cannot be honoured in the current state (one line, for the service reply)."""


@dataclass(frozen=True)
class EpisodeLimits:
    """Storage limits of one episode; 0 switches a limit off."""

    max_bytes: int = 0
    max_duration_s: float = 0.0
    min_free_bytes: int = 0

    def __post_init__(self) -> None:
        if self.max_bytes < 0 or self.max_duration_s < 0 or self.min_free_bytes < 0:
            raise ValueError(f"episode limits must be >= 0 (0 = off), got {self}")


@dataclass(frozen=True)
class EpisodeInfo:
    operator: str
    task_label: str
    robot: str
    notes: str = ""


@dataclass
class WriterOptions:
    compression: str = "zstd"
    chunk_bytes: int = 1 << 20
    chunk_interval_s: float = 1.0
    fsync: bool = True


@dataclass
class Episode:
    episode_id: str
    path: Path
    info: EpisodeInfo
    writer: CrashSafeBagWriter
    started_mono: float
    started_wall: datetime
    calibration_topics: list[str] = field(default_factory=list)
    calibration_messages: int = 0
    transport_lost: int = 0
    stop_at: float | None = None  # STOPPING: when the delayed stop fires (monotonic)


@dataclass
class EpisodeResult:
    """What ended an episode: the manifest content and where it is."""

    episode_id: str
    path: Path
    kept: bool
    success: bool | None
    reason: str
    manifest: dict[str, Any]


@dataclass
class Status:
    state: State
    episode_id: str
    path: str
    operator: str
    task_label: str
    duration_s: float
    size_bytes: int
    messages: int
    dropped: int
    episodes_recorded: int
    free_bytes: int
    last_stop_reason: str


def software_version() -> str:
    """Package version, plus ``git describe`` of the source checkout when it is one."""
    return _software_version()


@lru_cache(maxsize=1)
def _software_version() -> str:
    import hoi_perception

    version = hoi_perception.__version__
    pkg_dir = Path(hoi_perception.__file__).resolve().parent
    try:
        res = subprocess.run(["git", "-C", str(pkg_dir), "describe", "--always", "--dirty", "--tags"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return version
    described = res.stdout.strip()
    return f"{version}+git.{described}" if res.returncode == 0 and described else version


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return s[:40]


def _free_bytes(path: Path) -> int:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EpisodeRecorder:
    """Episode state machine over :class:`CrashSafeBagWriter` (see module doc).

    Times are passed in: ``mono`` (seconds, monotonic) for durations and
    limits, ``log_time_ns`` for the bag's log times (the node's clock), and
    ``wall`` (a clock returning an aware datetime) for the manifest's stamps.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        robot: str = "",
        default_operator: str = "",
        default_task: str = "",
        limits: EpisodeLimits | None = None,
        writer_options: WriterOptions | None = None,
        snapshot_topics: Iterable[str] = DEFAULT_SNAPSHOT_TOPICS,
        stop_delay_s: float = 2.0,
        wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        free_bytes: Callable[[Path], int] = _free_bytes,
        version: str | None = None,
    ) -> None:
        if stop_delay_s < 0:
            raise ValueError(f"stop_delay_s must be >= 0, got {stop_delay_s}")
        self.root = Path(root).expanduser().resolve()
        self.robot = robot
        self.default_operator = default_operator
        self.default_task = default_task
        self.limits = limits or EpisodeLimits()
        self.writer_options = writer_options or WriterOptions()
        self.snapshot_patterns = list(snapshot_topics)
        self.stop_delay_s = float(stop_delay_s)
        self._wall = wall
        self._free_bytes = free_bytes
        self.version = version if version is not None else software_version()
        self.state = State.IDLE
        self.episode: Episode | None = None
        self.last: EpisodeResult | None = None
        self.last_kept_id = ""
        self.episodes_recorded = 0
        self.episodes_discarded = 0
        self.last_stop_reason = ""
        self.last_error = ""
        self._seq = 0
        self._types: dict[str, str] = {}  # topic -> msgtype, every topic seen
        self._latched: set[str] = set()
        self._snapshots: dict[str, list[tuple[int, bytes]]] = {}
        self._open_grasps: set[tuple[int, int, int]] = set()
        self._button_pressed = False
        self.free_bytes_now = 0
        self.typestore = default_typestore()

    # -- topics ------------------------------------------------------------------

    def add_topic(self, topic: str, msgtype: str, *, latched: bool = False) -> None:
        """Declare a recorded topic (the node calls this when it subscribes).

        Raises KeyError for a type the bag typestore does not know.
        """
        if msgtype not in self.typestore.types:
            raise KeyError(f"type {msgtype} is not in the bag typestore")
        self._types[topic] = msgtype
        if latched:
            self._latched.add(topic)
        if self.episode is not None and self.state in (State.RECORDING, State.STOPPING):
            self.episode.writer.add_topic(topic, msgtype)

    def is_snapshot_topic(self, topic: str) -> bool:
        return topic in self._latched or any(fnmatch.fnmatchcase(topic, p) for p in self.snapshot_patterns)

    def on_message(self, topic: str, log_time_ns: int, data: bytes, mono: float) -> bool:
        """One received message. Returns True when it went into an episode.

        A message of a snapshot topic is also kept for the next episode's start.
        """
        if topic not in self._types:
            raise KeyError(f"topic {topic} was not declared with add_topic")
        if self.is_snapshot_topic(topic):
            cache = self._snapshots.setdefault(topic, [])
            # /tf_static: one message per publisher, each re-sent identically to late joiners.
            if topic in self._latched:
                if all(d != data for _, d in cache):
                    cache.append((log_time_ns, bytes(data)))
                    del cache[:-SNAPSHOT_DEPTH]
            else:
                cache[:] = [(log_time_ns, bytes(data))]
        ep = self.episode
        if ep is None or self.state not in (State.RECORDING, State.STOPPING):
            return False
        return ep.writer.write_raw(topic, log_time_ns, data)

    def note_transport_lost(self, n: int) -> None:
        """Messages DDS lost before they reached the recorder (publisher sequence gaps)."""
        if self.episode is not None and n > 0:
            self.episode.transport_lost += n

    # -- commands ----------------------------------------------------------------

    def start(self, info: EpisodeInfo, log_time_ns: int, mono: float) -> Episode:
        """Open a new episode folder and write the calibration snapshot into it."""
        if self.state in (State.RECORDING, State.STOPPING):
            assert self.episode is not None
            raise EpisodeError(f"episode {self.episode.episode_id} is recording; stop or discard it first")
        info = EpisodeInfo(info.operator or self.default_operator, info.task_label or self.default_task,
                           info.robot or self.robot, info.notes)
        free = self._free_bytes(self.root)
        self.free_bytes_now = free
        if self.limits.min_free_bytes and free < self.limits.min_free_bytes:
            raise EpisodeError(f"only {free} bytes free on {self.root} (min_free_bytes "
                               f"{self.limits.min_free_bytes}); not starting")
        now = self._wall()
        self._seq += 1
        stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        base = "-".join(x for x in (stamp, _slug(info.task_label)) if x)
        episode_id = base
        n = 1
        while (self.root / episode_id).exists():
            n += 1
            episode_id = f"{base}-{n}"
        path = self.root / episode_id
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EpisodeError(f"cannot create {self.root}: {exc.strerror or exc}") from None
        o = self.writer_options
        writer = CrashSafeBagWriter(path, typestore=self.typestore, compression=o.compression, chunk_bytes=o.chunk_bytes,
                                    chunk_interval_s=o.chunk_interval_s, fsync=o.fsync)
        ep = Episode(episode_id, path, info, writer, mono, now)
        ep.calibration_topics = sorted(t for t, msgs in self._snapshots.items() if msgs)
        writer.custom_data = self._custom_data(ep, success=None, reason="")
        try:
            writer.open()
        except OSError as exc:
            raise EpisodeError(f"cannot create episode folder {path}: {exc.strerror or exc}") from None
        for topic, msgtype in self._types.items():
            writer.add_topic(topic, msgtype)
        # Calibration first, stamped at the episode's start so it precedes the data.
        for topic in ep.calibration_topics:
            for _, data in self._snapshots[topic]:
                writer.write_raw(topic, log_time_ns, data)
                ep.calibration_messages += 1
        writer.flush()
        self.episode = ep
        self.state = State.RECORDING
        self.last_error = ""
        if writer.stopped:
            self._finish(success=None, reason=f"write error: {writer.error_text()}", keep=True, mono=mono)
            raise EpisodeError(f"episode {episode_id}: writing failed at start: {self.last_error}")
        return ep

    def stop(self, mono: float, *, success: bool | None, reason: str = "operator", notes: str = "") -> EpisodeResult:
        """Close the current episode and keep it (metadata + manifest)."""
        if self.episode is None or self.state not in (State.RECORDING, State.STOPPING):
            raise EpisodeError("no episode is recording")
        return self._finish(success=success, reason=reason, keep=True, mono=mono, notes=notes)

    def discard(self, mono: float, episode_id: str = "") -> str:
        """Close and delete the current episode, or delete a kept one by id (default: the last kept).

        Returns the id deleted.
        """
        if self.episode is not None and self.state in (State.RECORDING, State.STOPPING):
            if episode_id and episode_id != self.episode.episode_id:
                raise EpisodeError(f"episode {self.episode.episode_id} is recording; "
                                   f"stop it before discarding {episode_id}")
            result = self._finish(success=None, reason="discarded", keep=False, mono=mono)
            return result.episode_id
        target = episode_id or self.last_kept_id
        if not target:
            raise EpisodeError("no episode to discard")
        if not _ID_OK.match(target):
            raise EpisodeError(f"not an episode id: {target!r}")
        path = self.root / target
        if not (path / MANIFEST_NAME).is_file():
            raise EpisodeError(f"no episode {target} under {self.root}")
        shutil.rmtree(path)
        self.episodes_discarded += 1
        if target == self.last_kept_id:
            self.last_kept_id = ""
        return target

    # -- triggers ----------------------------------------------------------------

    def on_button(self, pressed: bool, mode: str, log_time_ns: int, mono: float) -> Episode | EpisodeResult | None:
        """A teleop button sample. ``toggle``: each press (rising edge) starts or stops;
        ``hold``: pressed records, released stops. Returns the started episode, the
        stopped episode's result, or None. Stops by button leave success unknown."""
        if mode not in ("toggle", "hold"):
            raise ValueError(f"button mode must be 'toggle' or 'hold', got {mode!r}")
        rising = pressed and not self._button_pressed
        self._button_pressed = pressed
        recording = self.state in (State.RECORDING, State.STOPPING)
        want_start = (rising if mode == "toggle" else pressed) and not recording
        want_stop = recording and (rising if mode == "toggle" else not pressed)
        if want_start:
            return self.start(EpisodeInfo("", "", ""), log_time_ns, mono)
        if want_stop:
            return self.stop(mono, success=None, reason="button")
        return None

    def on_grasp_event(self, start: bool, key: tuple[int, int, int], log_time_ns: int, mono: float) -> str:
        """A grasp START/END (key: human, object, hand). Returns what it did ("" for nothing).

        START starts an episode when idle and cancels a pending delayed stop (a
        re-grasp continues the episode); the END that releases the last open
        grasp schedules a stop ``stop_delay_s`` later.
        """
        if start:
            self._open_grasps.add(key)
            if self.state in (State.IDLE, State.ERROR):
                self.start(EpisodeInfo("", "", ""), log_time_ns, mono)
                return "started"
            if self.state == State.STOPPING:
                assert self.episode is not None
                self.episode.stop_at = None
                self.state = State.RECORDING
                return "stop cancelled"
            return ""
        self._open_grasps.discard(key)
        if self.state == State.RECORDING and not self._open_grasps:
            assert self.episode is not None
            self.episode.stop_at = mono + self.stop_delay_s
            self.state = State.STOPPING
            return "stop scheduled"
        return ""

    def tick(self, mono: float) -> EpisodeResult | None:
        """Periodic work: close old chunks, enforce limits, fire a delayed stop.

        Returns the result when this tick ended the episode (the caller logs
        ``result.reason`` once).
        """
        ep = self.episode
        self.free_bytes_now = self._free_bytes(self.root)
        if ep is None or self.state not in (State.RECORDING, State.STOPPING):
            return None
        ep.writer.poll()
        reason = self.limit_reason(mono)
        if reason:
            return self._finish(success=None, reason=reason, keep=True, mono=mono)
        if self.state == State.STOPPING and ep.stop_at is not None and mono >= ep.stop_at:
            return self._finish(success=None, reason="grasp end", keep=True, mono=mono)
        return None

    def limit_reason(self, mono: float) -> str:
        """Why the current episode must stop now ("" when it may go on)."""
        ep = self.episode
        if ep is None:
            return ""
        w = ep.writer
        if w.stopped:
            return f"write error: {w.error_text()}"
        lim = self.limits
        if lim.max_duration_s and mono - ep.started_mono >= lim.max_duration_s:
            return f"max_duration ({lim.max_duration_s:g} s reached)"
        size = w.bytes_written + w.pending_bytes
        if lim.max_bytes and size >= lim.max_bytes:
            return f"max_size ({size} >= {lim.max_bytes} bytes)"
        if lim.min_free_bytes and self.free_bytes_now and self.free_bytes_now < lim.min_free_bytes:
            return f"min_free_disk ({self.free_bytes_now} < {lim.min_free_bytes} bytes free)"
        return ""

    # -- status ------------------------------------------------------------------

    def status(self, mono: float) -> Status:
        ep = self.episode
        if ep is not None and self.state in (State.RECORDING, State.STOPPING):
            w = ep.writer
            return Status(self.state, ep.episode_id, str(ep.path), ep.info.operator, ep.info.task_label,
                          mono - ep.started_mono, w.bytes_written, w.message_count, w.dropped + ep.transport_lost,
                          self.episodes_recorded, self.free_bytes_now, self.last_stop_reason)
        last = self.last
        if last is None:
            return Status(self.state, "", "", "", "", 0.0, 0, 0, 0, self.episodes_recorded, self.free_bytes_now,
                          self.last_stop_reason)
        m = last.manifest
        return Status(self.state, last.episode_id, str(last.path) if last.kept else "", m["operator"],
                      m["task_label"], float(m["duration_s"]), int(m["bag"]["size_bytes"]),
                      int(m["bag"]["message_count"]), int(m["dropped"]), self.episodes_recorded,
                      self.free_bytes_now, self.last_stop_reason)

    def close(self, mono: float) -> EpisodeResult | None:
        """Shutdown: an open episode is stopped and kept (success unknown)."""
        if self.episode is not None and self.state in (State.RECORDING, State.STOPPING):
            return self._finish(success=None, reason="recorder shut down", keep=True, mono=mono)
        return None

    # -- internals ---------------------------------------------------------------

    def _custom_data(self, ep: Episode, *, success: bool | None, reason: str) -> dict[str, str]:
        return {
            "episode_id": ep.episode_id,
            "episode_operator": ep.info.operator,
            "episode_task_label": ep.info.task_label,
            "episode_robot": ep.info.robot,
            "episode_notes": ep.info.notes,
            "episode_software_version": self.version,
            "episode_started_at": _iso(ep.started_wall),
            "episode_calibration_topics": ",".join(ep.calibration_topics),
            "episode_success": "unknown" if success is None else str(success).lower(),
            "episode_stop_reason": reason,
        }

    def _finish(self, *, success: bool | None, reason: str, keep: bool, mono: float,
                notes: str = "") -> EpisodeResult:
        ep = self.episode
        assert ep is not None
        w = ep.writer
        if notes:
            ep.info = EpisodeInfo(ep.info.operator, ep.info.task_label, ep.info.robot,
                                  f"{ep.info.notes}\n{notes}" if ep.info.notes else notes)
        if w.stopped and not reason.startswith("write error"):
            reason = f"write error: {w.error_text()} (then {reason})"
        w.custom_data = self._custom_data(ep, success=success, reason=reason)
        w.close()
        stopped_wall = self._wall()
        manifest = self._manifest(ep, success, reason, stopped_wall, mono)
        self.episode = None
        self._open_grasps.clear()
        self.last_stop_reason = reason
        error = w.error_text() if w.error is not None else ""
        if not keep:
            shutil.rmtree(ep.path, ignore_errors=True)
            self.episodes_discarded += 1
            self.state = State.IDLE
        else:
            try:
                write_file_atomically(ep.path / MANIFEST_NAME, (json.dumps(manifest, indent=2) + "\n").encode())
            except OSError as exc:  # the bag's metadata.yaml still holds the metadata
                error = error or f"{exc.strerror or exc} writing {MANIFEST_NAME}"
            self.episodes_recorded += 1
            self.last_kept_id = ep.episode_id
            self.state = State.ERROR if error else State.IDLE
        self.last_error = error
        self.last = EpisodeResult(ep.episode_id, ep.path, keep, success, reason, manifest)
        return self.last

    def _manifest(self, ep: Episode, success: bool | None, reason: str, stopped: datetime,
                  mono: float) -> dict[str, Any]:
        w = ep.writer
        counts = w.counts()
        size = sum(f.stat().st_size for f in ep.path.iterdir() if f.is_file()) if ep.path.is_dir() else 0
        return {
            "format": MANIFEST_FORMAT,
            "episode_id": ep.episode_id,
            "operator": ep.info.operator,
            "task_label": ep.info.task_label,
            "robot": ep.info.robot,
            "notes": ep.info.notes,
            "software_version": self.version,
            "started_at": _iso(ep.started_wall),
            "stopped_at": _iso(stopped),
            "duration_s": round(mono - ep.started_mono, 3),
            "success": success,
            "stop_reason": reason,
            "limits": {"max_bytes": self.limits.max_bytes, "max_duration_s": self.limits.max_duration_s,
                       "min_free_bytes": self.limits.min_free_bytes},
            "calibration": {"topics": ep.calibration_topics, "messages": ep.calibration_messages},
            "dropped": w.dropped + ep.transport_lost,
            "write_error": w.error_text(),
            "bag": {
                "path": w.mcap_path.name,
                "storage": "mcap",
                "message_count": w.message_count,
                "size_bytes": size,
                "topics": {t: {"type": self._types.get(t, ""), "count": counts.get(t, 0)} for t in sorted(counts)},
            },
        }
