"""Pinhole camera model on numpy.

Frames follow REP 103: a camera's *optical* frame has x right, y down,
z forward; pixels have their origin at the top-left corner, as in
sensor_msgs/CameraInfo (K = [fx 0 cx; 0 fy cy; 0 0 1]).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from hoi_perception.geometry.rotations import invert_transform


@dataclass
class PinholeCamera:
    """Intrinsics plus the camera's pose in the world.

    ``world_from_camera`` maps points from the optical frame to the world
    (the transform TF publishes as parent=world, child=<name>_optical_frame).
    """

    name: str
    width: int
    height: int
    k: NDArray[np.float64]
    world_from_camera: NDArray[np.float64] = field(default_factory=lambda: np.eye(4))
    distortion: NDArray[np.float64] = field(default_factory=lambda: np.zeros(5))

    @property
    def optical_frame(self) -> str:
        return f"{self.name}_optical_frame"

    @property
    def camera_from_world(self) -> NDArray[np.float64]:
        return invert_transform(self.world_from_camera)

    def projection_matrix(self) -> NDArray[np.float64]:
        """3x4 P = K [R | t] mapping homogeneous world points to pixels."""
        return self.k @ self.camera_from_world[:3, :]

    def project(self, points_world: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """World points (..., 3) -> pixels (..., 2) and optical-frame depth (...)."""
        p = np.asarray(points_world, dtype=np.float64)
        cw = self.camera_from_world
        pc = p @ cw[:3, :3].T + cw[:3, 3]
        return project_points(self.k, pc), pc[..., 2]


def intrinsics(fx: float, fy: float, cx: float, cy: float) -> NDArray[np.float64]:
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def project_points(k: ArrayLike, points_cam: ArrayLike) -> NDArray[np.float64]:
    """Optical-frame points (..., 3) -> pixels (..., 2). Points at z <= 0 give inf/nan."""
    k = np.asarray(k, dtype=np.float64)
    p = np.asarray(points_cam, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = p[..., 0] / p[..., 2]
        y = p[..., 1] / p[..., 2]
    u = k[0, 0] * x + k[0, 1] * y + k[0, 2]
    v = k[1, 1] * y + k[1, 2]
    return np.stack([u, v], axis=-1)


def backproject_depth(depth: ArrayLike, k: ArrayLike, *, assume_valid: bool = False) -> NDArray[np.float32]:
    """Depth image (H, W) in metres -> xyz map (H, W, 3) in the optical frame.

    Vectorised; invalid depth (NaN, inf, <= 0) gives NaN xyz. ``assume_valid``
    skips that check when the caller already mapped invalid depth to NaN
    (NaN propagates through the products anyway).
    """
    d = np.asarray(depth, dtype=np.float32)
    k = np.asarray(k, dtype=np.float64)
    h, w = d.shape
    if not assume_valid:
        d = np.where(np.isfinite(d) & (d > 0), d, np.float32(np.nan))
    u = (np.arange(w, dtype=np.float32) - np.float32(k[0, 2])) / np.float32(k[0, 0])
    v = (np.arange(h, dtype=np.float32) - np.float32(k[1, 2])) / np.float32(k[1, 1])
    # cv2.merge interleaves the three planes in one pass; writing into strided
    # channel views of an (H, W, 3) array is about twice as slow.
    return cv2.merge([d * u[None, :], d * v[:, None], d])


def look_at(eye: ArrayLike, target: ArrayLike, up: ArrayLike = (0.0, 0.0, 1.0)) -> NDArray[np.float64]:
    """world_from_camera for an optical frame at ``eye`` looking at ``target``
    (z forward, x right, y down; ``up`` is the world up direction)."""
    eye = np.asarray(eye, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(x) < 1e-9:
        x = np.cross(z, np.array([1.0, 0.0, 0.0]))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    out = np.eye(4)
    out[:3, 0], out[:3, 1], out[:3, 2], out[:3, 3] = x, y, z, eye
    return out
