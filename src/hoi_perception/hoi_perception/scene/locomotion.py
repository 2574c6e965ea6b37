"""Paths and a distance-driven walking gait.

The gait is phased by distance travelled, not by time: a foot in stance sits
at a fixed arc length ``s_f = d + rel(phase) * stride`` on the path, and
``rel`` falls exactly as fast as ``d`` grows, so stance feet do not slide
whatever the speed profile. ``envelope`` (0..1) scales the gait in and out at
starts and stops (some sliding there is accepted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

DUTY = 0.6          # stance fraction of a gait cycle
STEP_LIFT_M = 0.09  # swing-foot clearance at 1.75 m
HEEL_RAISE_M = 0.06  # ankle rise at toe-off


def smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def min_jerk(x: float) -> float:
    """Minimum-jerk profile 0 -> 1 (zero velocity and acceleration at both ends)."""
    x = min(max(x, 0.0), 1.0)
    return x * x * x * (10.0 - 15.0 * x + 6.0 * x * x)


def foot_phase_offset(phase: float) -> tuple[float, float, float]:
    """(rel, lift, heel) for a gait phase in [0, 1): rel in stride units (foot ahead of the pelvis
    along the path), lift in [0, 1] (swing clearance), heel in [0, 1] (toe-off heel raise)."""
    phase %= 1.0
    if phase < DUTY:
        rel = DUTY / 2 - phase
        heel = max(0.0, -rel / (DUTY / 2)) ** 2
        return rel, 0.0, heel
    s = (phase - DUTY) / (1.0 - DUTY)
    return -DUTY / 2 + DUTY * smoothstep(s), math.sin(math.pi * s), 0.0


class Path:
    """Arc-length parametrised 2D curve on the floor."""

    def point(self, s: float) -> NDArray[np.float64]:
        raise NotImplementedError

    def heading(self, s: float) -> float:
        raise NotImplementedError

    def left(self, s: float) -> NDArray[np.float64]:
        h = self.heading(s)
        return np.array([-math.sin(h), math.cos(h)])


@dataclass
class StraightPath(Path):
    start: NDArray[np.float64]
    heading_rad: float

    def point(self, s: float) -> NDArray[np.float64]:
        return np.asarray(self.start, dtype=np.float64) + s * np.array([math.cos(self.heading_rad),
                                                                         math.sin(self.heading_rad)])

    def heading(self, s: float) -> float:
        return self.heading_rad


@dataclass
class CirclePath(Path):
    centre: NDArray[np.float64]
    radius: float
    angle0: float
    counter_clockwise: bool = True

    def _angle(self, s: float) -> float:
        return self.angle0 + (1.0 if self.counter_clockwise else -1.0) * s / self.radius

    def point(self, s: float) -> NDArray[np.float64]:
        a = self._angle(s)
        return np.asarray(self.centre, dtype=np.float64) + self.radius * np.array([math.cos(a), math.sin(a)])

    def heading(self, s: float) -> float:
        return self._angle(s) + (math.pi / 2 if self.counter_clockwise else -math.pi / 2)


@dataclass
class GaitSample:
    ankles: NDArray[np.float64]      # (2, 3) left, right
    foot_yaws: NDArray[np.float64]   # (2,)
    rel: NDArray[np.float64]         # (2,) foot ahead of the pelvis, metres (for arm swing)
    pelvis_drop: float               # metres below the standing pelvis height


def gait(path: Path, distance: float, stride: float, envelope: float, lateral: float, ankle_height: float,
         scale: float = 1.0, phase0: float = DUTY / 2) -> GaitSample:
    """Feet for a walker ``distance`` metres along ``path`` (left foot at phase ``phase0`` at distance 0:
    mid-stance, so both feet are under the hips there)."""
    ankles = np.zeros((2, 3))
    yaws = np.zeros(2)
    rels = np.zeros(2)
    phase_left = distance / stride + phase0
    for i, side in enumerate((1.0, -1.0)):
        rel, lift, heel = foot_phase_offset(phase_left + 0.5 * i)
        s_f = distance + envelope * rel * stride
        xy = path.point(s_f) + side * lateral * path.left(s_f)
        ankles[i] = [xy[0], xy[1], ankle_height + envelope * scale * (STEP_LIFT_M * lift + HEEL_RAISE_M * heel)]
        yaws[i] = path.heading(s_f)
        rels[i] = envelope * rel * stride
    # the pelvis is highest at mid-stance and lowest at heel strike
    drop = envelope * scale * (0.045 - 0.012 * math.cos(4 * math.pi * (phase_left - DUTY / 2)))
    return GaitSample(ankles=ankles, foot_yaws=yaws, rel=rels, pelvis_drop=drop)


def stride_for(distance: float, nominal_stride: float) -> float:
    """Stride close to nominal that ends a walk of ``distance`` with both feet under the hips
    (a whole number of steps)."""
    steps = max(1, round(2 * distance / nominal_stride))
    return 2 * distance / steps
