"""6DoF object pose from its 3D points, without a mesh.

position    robust centroid: the mean of the points within 2.5 MAD of the
            median along each axis (depth spikes at edges do not move it);
orientation from an oriented bounding box. With the gravity direction known
            in the camera frame (from TF: the world's +z in the optical
            frame) the box is gravity-aligned: its z axis is "up" and its
            yaw comes from the minimum-area rectangle of the points projected
            on the floor plane. Without gravity it is the PCA box. Axes are
            ordered x = longest horizontal extent, y = the other, z = up,
            right-handed;
size        the box's extents (of the visible surface: a box seen from one
            side is thinner than it is).

A box's orientation is only defined up to its symmetries (180 deg about
each axis; 90 deg about z when the footprint is square), so
``rotation_error_deg`` takes the minimum over them and the tracker keeps
the representative nearest the previous frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray


@dataclass
class ObbPose:
    rotation: NDArray[np.float64]  # (3, 3) object -> camera, columns = object axes
    position: NDArray[np.float64]  # (3,) robust centroid, camera frame
    centre: NDArray[np.float64]  # (3,) OBB centre
    size: NDArray[np.float64]  # (3,) extents along the object axes
    gravity_aligned: bool
    num_points: int


def robust_centroid(points: NDArray[np.float64], k: float = 2.5) -> NDArray[np.float64]:
    med = np.median(points, axis=0)
    mad = np.median(np.abs(points - med), axis=0) * 1.4826 + 1e-6
    ok = np.all(np.abs(points - med) <= k * mad, axis=1)
    return points[ok].mean(0) if ok.sum() >= 3 else med


def _orthonormal_up(up: NDArray[np.float64]) -> NDArray[np.float64]:
    u = np.asarray(up, dtype=np.float64)
    return u / np.linalg.norm(u)


def obb_pose(points: NDArray[np.float64], up: NDArray[np.float64] | None = None) -> ObbPose:
    """Pose and size of the points' oriented box; ``up`` = gravity-opposite unit vector in the points' frame."""
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) < 3:
        raise ValueError("need at least 3 points for a box")
    pos = robust_centroid(pts)
    if up is not None:
        z = _orthonormal_up(up)
        # a basis of the floor plane
        a = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        e1 = a - z * (a @ z)
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(z, e1)
        rel = pts - pos
        p2 = np.column_stack([rel @ e1, rel @ e2]).astype(np.float32)
        (cx, cy), (w, h), ang = cv2.minAreaRect(p2)
        t = np.deg2rad(ang)
        d1 = np.array([np.cos(t), np.sin(t)])
        d2 = np.array([-np.sin(t), np.cos(t)])
        if h > w:
            d1, d2, w, h = d2, -d1, h, w
        x = d1[0] * e1 + d1[1] * e2
        y = np.cross(z, x)
        r = np.column_stack([x, y, z])
        hz = rel @ z
        size = np.array([w, h, float(hz.max() - hz.min())])
        centre = pos + e1 * cx + e2 * cy + z * 0.5 * float(hz.max() + hz.min())
        return ObbPose(r, pos, centre, size, True, len(pts))
    rel = pts - pts.mean(0)
    _, _, vt = np.linalg.svd(rel, full_matrices=False)
    r = vt.T.copy()
    if np.linalg.det(r) < 0:
        r[:, 2] *= -1
    local = rel @ r
    lo, hi = local.min(0), local.max(0)
    centre = pts.mean(0) + r @ (0.5 * (lo + hi))
    return ObbPose(r, pos, centre, hi - lo, False, len(pts))


def box_symmetries(square_footprint: bool = False) -> list[NDArray[np.float64]]:
    """Rotations (object frame) mapping a box onto itself: 180 deg about each axis,
    and 90 deg steps about z for a square footprint."""
    eye = np.eye(3)
    out = [eye, np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, 1.0, -1.0]), np.diag([-1.0, -1.0, 1.0])]
    if square_footprint:
        rz = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        out += [rz @ s for s in out]
    return out


def rotation_angle_deg(r: NDArray[np.float64]) -> float:
    c = (np.trace(r) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def rotation_error_deg(r_est: NDArray[np.float64], r_gt: NDArray[np.float64],
                       symmetries: list[NDArray[np.float64]] | None = None) -> float:
    """Geodesic angle between two rotations, minimised over the object's symmetries."""
    syms = symmetries or [np.eye(3)]
    return min(rotation_angle_deg(r_gt.T @ r_est @ s) for s in syms)


def nearest_symmetric(r: NDArray[np.float64], r_prev: NDArray[np.float64],
                      symmetries: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """The representative r @ s closest to r_prev (keeps a box's axes from flipping between frames)."""
    return min((r @ s for s in symmetries), key=lambda c: rotation_angle_deg(r_prev.T @ c))
