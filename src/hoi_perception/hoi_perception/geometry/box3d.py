"""The one 3D box type and the one corner function of the stack.

OV world convention of the TAO Sparse4D model card (docs/frames.md): centre
(x, y, z) at the box centroid in the world frame (z up), size w along the
object's x axis (its heading), l along its y axis, h along z, ``yaw`` the
heading about world +z (pitch = roll = 0), velocity (vx, vy, vz) of the centre
in m/s. Ground truth of the synthetic scene, the Sparse4D conventions and the
body pose's projected tracks all use these two definitions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

# edges of box_corners' order (4 bottom corners, then the 4 above them), for drawing
BOX_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
                                          (0, 4), (1, 5), (2, 6), (3, 7))


def box_corners(boxes: ArrayLike) -> NDArray[np.float64]:
    """Boxes (N, >=7) ``x, y, z, w, l, h, yaw[, ...]`` -> world corners (N, 8, 3):
    the 4 bottom corners counter-clockwise seen from +z starting at (+w/2, +l/2),
    then the 4 top corners above them in the same order."""
    b = np.asarray(boxes, dtype=np.float64)
    b = b.reshape(-1, b.shape[-1])
    hw, hl, hh = b[:, 3] / 2, b[:, 4] / 2, b[:, 5] / 2
    lx = np.stack([hw, -hw, -hw, hw], axis=1)
    ly = np.stack([hl, hl, -hl, -hl], axis=1)
    c, s = np.cos(b[:, 6])[:, None], np.sin(b[:, 6])[:, None]
    wx = b[:, 0:1] + c * lx - s * ly
    wy = b[:, 1:2] + s * lx + c * ly
    out = np.empty((b.shape[0], 8, 3))
    out[:, :4, 0], out[:, 4:, 0] = wx, wx
    out[:, :4, 1], out[:, 4:, 1] = wy, wy
    out[:, :4, 2] = (b[:, 2] - hh)[:, None]
    out[:, 4:, 2] = (b[:, 2] + hh)[:, None]
    return out


@dataclass
class Box3D:
    """An oriented 3D box in the world (see the module docstring)."""

    track_id: int
    class_name: str
    x: float
    y: float
    z: float
    w: float
    l: float  # noqa: E741 - the card's name for the y extent
    h: float
    yaw: float
    velocity: NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))
    visibility: dict[str, float] = field(default_factory=dict)  # camera -> visible fraction (ground truth)
    score: float = 1.0

    @property
    def center(self) -> NDArray[np.float64]:
        return np.array([self.x, self.y, self.z])

    @property
    def size(self) -> NDArray[np.float64]:
        return np.array([self.w, self.l, self.h])

    def box(self) -> NDArray[np.float64]:
        """[x, y, z, w, l, h, yaw]."""
        return np.array([self.x, self.y, self.z, self.w, self.l, self.h, self.yaw])

    def world_from_box(self) -> NDArray[np.float64]:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        t = np.eye(4)
        t[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
        t[:3, 3] = self.center
        return t

    def corners(self) -> NDArray[np.float64]:
        """(8, 3) world corners in :func:`box_corners` order."""
        return box_corners(self.box())[0]

    def contains(self, points: ArrayLike, margin: float = 0.0) -> NDArray[np.bool_]:
        """Which world points (N, 3) lie inside the box grown by ``margin``."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3) - self.center
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        local = np.stack([c * p[:, 0] + s * p[:, 1], -s * p[:, 0] + c * p[:, 1], p[:, 2]], -1)
        return np.all(np.abs(local) <= self.size / 2 + margin, axis=1)

    def to_array(self) -> NDArray[np.float64]:
        """Sparse4D ``boxes_3d`` row: (x, y, z, w, l, h, yaw, vx, vy, vz)."""
        return np.array([self.x, self.y, self.z, self.w, self.l, self.h, self.yaw, *self.velocity])


def transform_box_pose(target_from_source: ArrayLike, position: ArrayLike, yaw: float,
                       velocity: ArrayLike | None = None) -> tuple[NDArray[np.float64], float, NDArray[np.float64]]:
    """A box's centre, heading and velocity in another frame. The heading is
    the rotated box x axis projected on the target's ground plane (boxes stay
    upright: pitch and roll of the transform are not representable)."""
    m = np.asarray(target_from_source, dtype=np.float64)
    p = m[:3, :3] @ np.asarray(position, dtype=np.float64) + m[:3, 3]
    heading = m[:3, :3] @ np.array([math.cos(yaw), math.sin(yaw), 0.0])
    v = m[:3, :3] @ (np.zeros(3) if velocity is None else np.asarray(velocity, dtype=np.float64))
    return p, float(math.atan2(heading[1], heading[0])), v
