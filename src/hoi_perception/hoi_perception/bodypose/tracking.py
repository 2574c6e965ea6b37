"""Human track ids stable across frames.

Association is a Hungarian assignment (scipy linear_sum_assignment) on a
cost mixing box IoU and the mean image distance of joints confident in both
poses, normalised by the box diagonal. When the box source already tracks people
(Sparse4D), its ids are used as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from hoi_perception.bodypose.types import PoseResult, iou_matrix


@dataclass
class _Track:
    track_id: int
    box: NDArray[np.float64]
    joints_cam: NDArray[np.float64]
    joints_2d: NDArray[np.float64]
    confidence: NDArray[np.float64]
    last_ns: int
    hits: int = 1
    external: bool = False


@dataclass
class HumanTracker:
    """``update(results, stamp_ns, external_ids=None) -> list[int]`` (one id per result).

    External ids (Sparse4D person ids) are used verbatim; our own ids count up
    from ``first_id`` - set it above the external id range when both kinds
    can occur in one stream, since an external id equal to one of ours takes
    that track over.
    """

    max_age_ns: int = 1_000_000_000
    iou_weight: float = 1.0
    joint_weight: float = 1.0
    joint_scale: float = 0.5  # mean joint shift, in box diagonals, that costs as much as IoU 0
    max_cost: float = 1.5
    min_confidence: float = 0.3
    first_id: int = 1
    tracks: dict[int, _Track] = field(default_factory=dict)
    _next_id: int = 0

    def __post_init__(self) -> None:
        self._next_id = self.first_id

    def reset(self) -> None:
        """Forget every track (stamps jumped back: ages would be meaningless). Ids keep counting up, so no
        id of before the reset is given to someone else after it."""
        self.tracks.clear()

    def _new_id(self) -> int:
        while self._next_id in self.tracks:
            self._next_id += 1
        tid = self._next_id
        self._next_id += 1
        return tid

    def _joint_cost(self, r: PoseResult, t: _Track) -> float:
        """Mean distance of joints confident in both, in the image, over the
        track box diagonal: scale-free, and unlike 3D not dominated by the
        depth jitter of far people."""
        both = (r.confidence >= self.min_confidence) & (t.confidence >= self.min_confidence)
        if both.sum() < 3:
            return 1.0
        diag = float(np.hypot(t.box[2] - t.box[0], t.box[3] - t.box[1])) or 1.0
        d = np.linalg.norm(r.joints_2d[both] - t.joints_2d[both], axis=1)
        return float(min(1.0, np.mean(d) / (self.joint_scale * diag)))

    def update(self, results: list[PoseResult], stamp_ns: int, external_ids: list[int | None] | None = None) -> list[int]:
        """Assign ids to this frame's results (also written to ``result.track_id``)."""
        # expire first so a long-gone person cannot grab a new detection
        for tid in [tid for tid, t in self.tracks.items() if stamp_ns - t.last_ns > self.max_age_ns]:
            del self.tracks[tid]
        if external_ids is None:
            # a result's track_id comes from its box source (projected Sparse4D tracks)
            external_ids = [r.track_id for r in results]
        if len(external_ids) != len(results):
            raise ValueError("external_ids must have one entry per result")
        ids: list[int | None] = [None] * len(results)
        for i, ext in enumerate(external_ids):
            if ext is not None:
                ids[i] = int(ext)
        free = [i for i in range(len(results)) if ids[i] is None]
        taken = {i for i in ids if i is not None}
        cand = [tid for tid, t in self.tracks.items() if tid not in taken and not t.external]
        if free and cand:
            boxes_r = np.array([results[i].box for i in free], dtype=np.float64)
            boxes_t = np.array([self.tracks[tid].box for tid in cand])
            iou = iou_matrix(boxes_r, boxes_t)
            cost = np.empty_like(iou)
            for a, i in enumerate(free):
                for b, tid in enumerate(cand):
                    cost[a, b] = self.iou_weight * (1.0 - iou[a, b]) + self.joint_weight * self._joint_cost(
                        results[i], self.tracks[tid])
            rows, cols = linear_sum_assignment(cost)
            for a, b in zip(rows, cols, strict=True):
                if cost[a, b] <= self.max_cost:
                    ids[free[a]] = cand[b]
        out = []
        for i, r in enumerate(results):
            tid = ids[i] if ids[i] is not None else self._new_id()
            prev = self.tracks.get(tid)
            self.tracks[tid] = _Track(tid, np.array(r.box, dtype=np.float64), r.joints_cam.copy(), r.joints_2d.copy(),
                                      r.confidence.copy(), stamp_ns, (prev.hits + 1) if prev else 1,
                                      external=external_ids[i] is not None)
            r.track_id = tid
            out.append(tid)
        return out
