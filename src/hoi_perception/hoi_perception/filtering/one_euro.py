"""One-Euro filter (Casiez, Roussel, Vogel, CHI 2012) on numpy arrays of any shape.

Semantics follow the filter of NVIDIA's BodyPose3DNet reference application
(NVIDIA-AI-IOT/deepstream_reference_apps deepstream-bodypose-3d/sources/deepstream_pose_estimation_app.cpp,
class OneEuroFilter; facts only): the first sample passes through with derivative 0; afterwards
dx = (x - previous output) * rate, the derivative is low-passed at ``d_cutoff_hz``, the cut-off is
``min_cutoff_hz + beta * |dx_filtered|`` and the output is low-passed with
alpha = cutoff / (rate / (2 pi) + cutoff). The app runs it at a fixed 30 Hz; here the rate comes from the
sample timestamps when given (a dropped frame then does not look like a fast jump), else from ``rate_hz``.

DeepStream's settings, as constants below: keypoint x, y in image pixels (min cut-off 0.1 Hz, beta 0.05,
derivative cut-off 1 Hz), relative depth zRel (0.5 Hz, 0.05, 1 Hz) and root depth (0.1 Hz, 0.05, 1 Hz).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class OneEuroParams:
    min_cutoff_hz: float = 1.0
    beta: float = 0.0
    d_cutoff_hz: float = 1.0
    rate_hz: float = 30.0

    def __post_init__(self) -> None:
        if not (self.min_cutoff_hz > 0 and self.d_cutoff_hz > 0 and self.rate_hz > 0 and self.beta >= 0):
            raise ValueError(f"One-Euro parameters must be positive (beta >= 0): {self}")


# deepstream_pose_estimation_app.cpp: filters created per object with m_oneEuroSampleRate = 30,
# derivative cut-off 1 Hz; x/y (0.1, 0.05), zRel (0.5, 0.05), root depth (0.1, 0.05).
DS_KEYPOINT_XY = OneEuroParams(0.1, 0.05, 1.0, 30.0)
DS_KEYPOINT_ZREL = OneEuroParams(0.5, 0.05, 1.0, 30.0)
DS_ROOT_DEPTH = OneEuroParams(0.1, 0.05, 1.0, 30.0)


def _alpha(rate_hz: float, cutoff_hz: NDArray[np.float64] | float) -> NDArray[np.float64]:
    return np.asarray(cutoff_hz / (rate_hz / (2.0 * math.pi) + cutoff_hz), dtype=np.float64)


class OneEuroFilter:
    """Element-wise One-Euro filter; state is the shape of the first sample."""

    def __init__(self, params: OneEuroParams = OneEuroParams()) -> None:
        self.params = params
        self.reset()

    def reset(self) -> None:
        self._x: NDArray[np.float64] | None = None
        self._dx: NDArray[np.float64] | None = None
        self._t: float | None = None

    def __call__(self, x: ArrayLike, t_s: float | None = None) -> NDArray[np.float64]:
        """Filter one sample (any shape, constant across calls); ``t_s`` the sample time in seconds."""
        x = np.asarray(x, dtype=np.float64)
        p = self.params
        if self._x is None or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t_s
            return x.copy()
        rate = p.rate_hz
        if t_s is not None and self._t is not None and t_s > self._t:
            rate = 1.0 / (t_s - self._t)
        self._t = t_s if t_s is not None else self._t
        dx = (x - self._x) * rate
        assert self._dx is not None
        self._dx = self._dx + _alpha(rate, p.d_cutoff_hz) * (dx - self._dx)
        cutoff = p.min_cutoff_hz + p.beta * np.abs(self._dx)
        self._x = self._x + _alpha(rate, cutoff) * (x - self._x)
        return self._x.copy()
