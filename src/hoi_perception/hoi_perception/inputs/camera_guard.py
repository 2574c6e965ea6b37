"""The input side of a one-camera node, without ROS: which images are
admitted, which camera_info a frame is paired with, and whether a frame is
processed or dropped by the rate limit.

Every refusal and drop goes through one :class:`FaultLedger` (counted by
reason, logged once then at most every 10 s). Each method returns the log line
the node should write now (``None``: nothing to log), so the node stays a shell
that only forwards messages and prints.

* ``admit_image``: empty frame_id, 0x0 and oversized images are refused from
  the header alone (inputs/checks.py), before the message is queued or
  converted.
* ``add_camera_info`` / ``camera_info_for``: intrinsics are checked
  (NaN/inf, fx < 1 px, absurd principal point; a bad one is refused and the
  last good one stays) and kept by stamp; a frame is paired with the one whose
  stamp matches, else the newest not newer than the frame (frames older than
  every camera_info held take the oldest, the camera's intrinsics being
  static in between).
* ``admit_frame``: stamps jumping back (bag loop, clock reset) reset the rate
  limiter (``reset_needed`` tells the node to reset its trackers too) with one
  line; frames within ``1 / max_rate_hz`` of the last processed one are
  dropped under ``rate_limit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from numpy.typing import ArrayLike

from hoi_perception.inputs.checks import (
    DEFAULT_MAX_PIXELS,
    InputRejected,
    Intrinsics,
    TimeJumpDetector,
    check_image_header,
    check_intrinsics,
)
from hoi_perception.inputs.faults import FaultLedger
from hoi_perception.sync.nearest import NearestStampBuffer

T = TypeVar("T")

# camera_info and image of one ZED frame carry the same stamp; 1 ms covers rounding of re-stamped drivers
INFO_MATCH_TOLERANCE_NS = 1_000_000


@dataclass
class FrameVerdict:
    process: bool
    log: str | None = None
    time_jump: bool = False  # stamps went back: the node resets its trackers


@dataclass
class CameraInputGuard(Generic[T]):
    max_pixels: int = DEFAULT_MAX_PIXELS
    min_period_ns: int = 0
    time_jump_tolerance_s: float = 1.0
    info_history: int = 30
    ledger: FaultLedger = field(default_factory=FaultLedger)
    last_processed_ns: int | None = None
    time_jumps: int = 0

    def __post_init__(self) -> None:
        if self.max_pixels < 0 or self.min_period_ns < 0:
            raise ValueError("max_pixels and min_period_ns must be >= 0")
        self._jumps = TimeJumpDetector(self.time_jump_tolerance_s)
        self._infos: NearestStampBuffer[tuple[Intrinsics, T]] = NearestStampBuffer(INFO_MATCH_TOLERANCE_NS,
                                                                                   maxlen=self.info_history)

    # ------------------------------------------------------------ images

    def admit_image(self, msg: object, topic: str = "") -> tuple[bool, str | None]:
        """(admitted, log line): the header checks of inputs/checks.py."""
        try:
            check_image_header(msg, self.max_pixels, topic)
        except InputRejected as e:
            return False, self.reject(e)
        return True, None

    def reject(self, e: InputRejected) -> str | None:
        """Count a refused input; the line to log (first time, then every 10 s)."""
        if self.ledger.reject(e.reason):
            return f"{e} (rejected as '{e.reason}', {self.ledger.rejected[e.reason]} so far)"
        return None

    def drop(self, reason: str, what: str, n: int = 1) -> str | None:
        if self.ledger.drop(reason, n):
            return f"{what} (dropped as '{reason}', {self.ledger.dropped[reason]} so far)"
        return None

    # ------------------------------------------------------------ camera_info

    def add_camera_info(self, stamp_ns: int, k: ArrayLike, width: int, height: int, payload: T,
                        camera: str = "") -> tuple[bool, str | None]:
        """Keep a checked camera_info (``payload``: the message) by its stamp."""
        try:
            intr = check_intrinsics(k, width, height, camera)
        except InputRejected as e:
            return False, self.reject(e)
        self._infos.add(int(stamp_ns), (intr, payload))
        return True, None

    @property
    def has_camera_info(self) -> bool:
        return len(self._infos) > 0

    def camera_info_for(self, stamp_ns: int) -> tuple[Intrinsics, T] | None:
        hit = self._infos.matching_or_before(stamp_ns)
        if hit is None:
            oldest = self._infos.oldest_ns
            hit = None if oldest is None else self._infos.nearest_with_stamp(oldest)
        return None if hit is None else hit[1]

    # ------------------------------------------------------------ frames

    def admit_frame(self, stamp_ns: int) -> FrameVerdict:
        """Time-jump detection, then the rate limit."""
        jumped = self._jumps.update(stamp_ns)
        log = None
        if jumped:
            self.time_jumps += 1
            back = (self.last_processed_ns or stamp_ns) - stamp_ns
            self.last_processed_ns = None
            log = (f"stamps jumped {back / 1e9:.1f} s back (bag loop or clock reset): rate limiter and trackers "
                   f"reset ({self.time_jumps} jumps so far)")
        if self.min_period_ns and self.last_processed_ns is not None \
                and stamp_ns - self.last_processed_ns < self.min_period_ns:
            line = self.drop("rate_limit", f"frame at {stamp_ns} ns within 1/max_rate_hz of the last one")
            return FrameVerdict(False, log or line, jumped)
        return FrameVerdict(True, log, jumped)

    def processed(self, stamp_ns: int) -> None:
        self.last_processed_ns = int(stamp_ns)
