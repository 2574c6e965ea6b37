"""What the Sparse4D node does between "a synchronized set arrived" and
"step the tracker", without ROS: the calibration gate (intrinsics from
camera_info, extrinsics from a TF buffer or a calibration file), the queue of
sets waiting for it, and, for the stand-in, pairing each set with the ground
truth nearest its stamp.

``SetQueue.drain()`` returns events in order: ``BuildTracker`` (cameras ready:
build or rebuild the tracker before the next step), ``StepSet`` (step this
set; ``ground_truth`` for the stand-in, [] when it can no longer come) and
``Problem`` (a counter key and a message: a set dropped for lack of
calibration, a set stepped without ground truth).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hoi_perception.geometry.camera import PinholeCamera
from hoi_perception.geometry.tf_buffer import TfBuffer, TfError
from hoi_perception.sync.nearest import NearestStampBuffer


@dataclass
class PendingSet:
    stamp_ns: int
    images: list[NDArray[np.uint8] | None]
    decode_ms: float


@dataclass
class Intrinsics:
    k: NDArray[np.float64]
    width: int
    height: int
    frame_id: str  # the camera's optical frame (extrinsics are looked up for it)

    def same(self, other: Intrinsics) -> bool:
        return (self.width, self.height, self.frame_id) == (other.width, other.height, other.frame_id) \
            and bool(np.allclose(self.k, other.k))


class CalibrationGate:
    """The group's cameras once intrinsics and extrinsics are known.

    Extrinsics (world_from_optical) come from ``calibration`` (an MTMC
    calibration.json, fixed) or from the TF buffer at the set's stamp, so /tf
    as well as /tf_static serve (the tracker is built with the transforms at the
    first set it steps)."""

    def __init__(self, cameras: Sequence[str], world_frame: str, tf: TfBuffer,
                 calibration: dict[str, PinholeCamera] | None = None) -> None:
        self.cameras = list(cameras)
        self.world_frame = world_frame
        self.tf = tf
        self.calibration = dict(calibration or {})
        self.intrinsics: dict[str, Intrinsics] = {}
        # camera -> why its last camera_info was refused (NaN cx, ...), so "lacks camera_info" can say why
        self.rejected_info: dict[str, str] = {}
        # optical frame -> why its transform was refused (the TF listener's record), same purpose
        self.refused_transforms: dict[str, str] = {}

    def set_intrinsics(self, camera: str, intr: Intrinsics) -> bool:
        """Store; True when it changed a camera already known (the tracker must be rebuilt)."""
        old = self.intrinsics.get(camera)
        self.intrinsics[camera] = intr
        self.rejected_info.pop(camera, None)
        return old is not None and not old.same(intr)

    def cameras_at(self, stamp_ns: int) -> tuple[list[PinholeCamera] | None, tuple[str, str] | None]:
        """(cameras, None) or (None, (counter key, why))."""
        if self.calibration:
            return [self.calibration[c] for c in self.cameras], None
        cams, lacking = self._cameras(stamp_ns)
        if lacking:
            key = "missing_camera_info" if any("camera_info" in w for w in lacking.values()) else "no_extrinsics"
            return None, (key, f"camera group cannot run: {describe_lacking(lacking)}")
        return cams, None

    def lacking(self, stamp_ns: int) -> dict[str, str]:
        """camera -> what it lacks at ``stamp_ns`` (camera_info, a valid one, or its transform); {} when the
        group can run."""
        return {} if self.calibration else self._cameras(stamp_ns)[1]

    def _cameras(self, stamp_ns: int) -> tuple[list[PinholeCamera], dict[str, str]]:
        cams, lacking = [], {}
        for c in self.cameras:
            intr = self.intrinsics.get(c)
            if intr is None:
                why = self.rejected_info.get(c)
                lacking[c] = "a valid camera_info" + (f" (the last one was refused: {why})" if why else
                                                       " (none received)")
                continue
            try:
                world_from_cam = self.tf.lookup(self.world_frame, intr.frame_id, stamp_ns)
            except TfError as e:
                refused = self.refused_transforms.get(intr.frame_id)
                lacking[c] = f"the transform {self.world_frame} -> {intr.frame_id} (" + (
                    f"refused: {refused}" if refused else str(e)) + ")"
                continue
            cams.append(PinholeCamera(c, intr.width, intr.height, intr.k, world_from_cam))
        return cams, lacking


def describe_lacking(lacking: dict[str, str]) -> str:
    return "; ".join(f"{c} lacks {w}" for c, w in lacking.items())


@dataclass
class BuildTracker:
    cameras: list[PinholeCamera]


@dataclass
class StepSet:
    pending: PendingSet
    ground_truth: Any = None  # the stand-in's ground truth for this set (None: not the stand-in)


@dataclass
class Problem:
    counter: str
    message: str


Event = BuildTracker | StepSet | Problem


class SetQueue:
    """Sets held until the tracker can step them, in arrival order.

    A set waits while calibration is incomplete (beyond ``max_pending`` the
    oldest is dropped) and, with ``ground_truth`` (the stand-in), until ground
    truth within the buffer's tolerance of its stamp is there, or can no longer
    come (ground truth beyond it arrived), or the queue is over ``max_pending``
    (stepped without: the stand-in sees no objects)."""

    def __init__(self, gate: CalibrationGate, max_pending: int,
                 ground_truth: NearestStampBuffer[Any] | None = None) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be >= 1")
        self.gate = gate
        self.max_pending = int(max_pending)
        self.ground_truth = ground_truth
        self.pending: deque[PendingSet] = deque()
        self.tracker_ready = False

    def push(self, p: PendingSet) -> None:
        self.pending.append(p)

    def invalidate(self) -> None:
        """Calibration changed: the next set rebuilds the tracker."""
        self.tracker_ready = False

    def drain(self) -> list[Event]:
        out: list[Event] = []
        while self.pending:
            p = self.pending[0]
            over = len(self.pending) > self.max_pending
            if not self.tracker_ready:
                cams, problem = self.gate.cameras_at(p.stamp_ns)
                if cams is None:
                    if over:
                        assert problem is not None
                        out.append(Problem(problem[0], problem[1] + "; the oldest set beyond max_pending_sets "
                                           "was dropped"))
                        self.pending.popleft()
                        continue
                    return out
                self.tracker_ready = True
                out.append(BuildTracker(cams))
            gt = None
            if self.ground_truth is not None:
                gt = self.ground_truth.nearest(p.stamp_ns)
                if gt is None:
                    newest = self.ground_truth.newest_ns
                    passed = newest is not None and newest > p.stamp_ns + self.ground_truth.tolerance_ns
                    if not (passed or over):
                        return out
                    out.append(Problem("gt_unmatched", f"no ground truth within "
                                       f"{self.ground_truth.tolerance_ns / 1e6:.0f} ms of the set at {p.stamp_ns}: "
                                       "the stand-in sees no objects for it"))
                    gt = []
            self.pending.popleft()
            out.append(StepSet(p, gt))
        return out

    def clear(self) -> int:
        n = len(self.pending)
        self.pending.clear()
        return n
