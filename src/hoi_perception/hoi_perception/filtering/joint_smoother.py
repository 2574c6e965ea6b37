"""One-Euro smoothing of tracked 3D skeletons, one filter per track id.

For a teleoperation user the per-frame jitter of a single-image pose (a few
centimetres at the wrists) is worse than a few milliseconds of lag. The
One-Euro filter (filtering/one_euro.py) lags little on fast moves and smooths
hard when still. This smooths the published 3D joints (metres, any backend)
after the tracker has given each person an id; DeepStream's own smoothing of
BodyPose3DNet's pose25d (bodypose3dnet.PoseSmoother) needs ids before the
network runs, which only a tracking box source gives. Missing joints (NaN)
pass through and leave their filter state as it was; a track unseen for
``max_age_s`` starts over."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hoi_perception.filtering.one_euro import OneEuroFilter, OneEuroParams

# Joints in metres at ~30 Hz: 1 Hz min cut-off removes centimetre jitter when still; beta 0.5 /m
# opens the filter on moves of about a metre per second (a hand reaching).
DEFAULT_JOINTS = OneEuroParams(min_cutoff_hz=1.0, beta=0.5, d_cutoff_hz=1.0, rate_hz=30.0)


class TrackedJointSmoother:
    def __init__(self, params: OneEuroParams = DEFAULT_JOINTS, max_age_s: float = 1.0) -> None:
        self.params = params
        self.max_age_s = max_age_s
        self._filters: dict[int, tuple[OneEuroFilter, float, NDArray[np.float64]]] = {}
        self.counters = {"smoothed": 0, "restarted": 0}

    def reset(self) -> None:
        """Forget every track (time went backwards)."""
        self._filters.clear()

    def smooth(self, track_id: int, joints: NDArray[np.floating], t_s: float) -> NDArray[np.float64]:
        """Smoothed copy of ``joints`` (any shape, metres) of ``track_id`` at time ``t_s``."""
        x = np.asarray(joints, dtype=np.float64)
        self._forget_older_than(t_s - self.max_age_s)
        entry = self._filters.get(track_id)
        if entry is not None and entry[2].shape != x.shape:
            entry = None
            self.counters["restarted"] += 1
        if entry is None:
            f = OneEuroFilter(self.params)
            filled = np.where(np.isfinite(x), x, 0.0)
        else:
            f, _, last = entry
            filled = np.where(np.isfinite(x), x, last)  # a missing joint holds its last filtered value
        out = f(filled, t_s)
        self._filters[track_id] = (f, t_s, out)
        self.counters["smoothed"] += 1
        return np.where(np.isfinite(x), out, x)

    def _forget_older_than(self, t_min: float) -> None:
        for tid in [t for t, (_, seen, _) in self._filters.items() if seen < t_min]:
            del self._filters[tid]

    def __len__(self) -> int:
        return len(self._filters)
