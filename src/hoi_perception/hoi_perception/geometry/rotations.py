"""Rotation conversions on numpy.

Conventions:

* quaternions are ``(x, y, z, w)``, the order of geometry_msgs/Quaternion and
  scipy; functions return the ``w >= 0`` hemisphere;
* matrices are 3x3 active rotations (``v_world = R @ v_body``);
* axis-angle is a 3-vector whose norm is the angle in radians;
* the 6D representation (Zhou et al., CVPR 2019) comes in two layouts:
  ``matrix_to_rotation_6d`` is PyTorch3D's (the first two *rows*, row-major);
  ``matrix_to_rotation_6d_columns`` is the one CARI4D's CoCoNet uses (the
  first two *columns*, row-major [r00, r01, r10, r11, r20, r21]:
  NVlabs/CARI4D tools/geometry_utils.py rot6d_to_rotmat views x as (3, 2)
  columns, and its targets are ``R[:3, :2].reshape(6)``). Decoding
  re-orthonormalises with Gram-Schmidt, so any 6-vector with independent
  halves maps to a valid rotation.

All functions accept leading batch dimensions.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

_EPS = 1e-12


def _as_float(a: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(a, dtype=np.float64)


def quat_normalize(q: ArrayLike) -> NDArray[np.float64]:
    """Unit quaternion with ``w >= 0``."""
    q = _as_float(q)
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    q = q / np.maximum(n, _EPS)
    return np.where(q[..., 3:4] < 0.0, -q, q)


def quat_to_matrix(q: ArrayLike) -> NDArray[np.float64]:
    """(x, y, z, w) quaternion -> 3x3 rotation matrix."""
    q = quat_normalize(q)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    m = np.stack(
        [
            1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
            2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
            2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy),
        ],
        axis=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(m: ArrayLike) -> NDArray[np.float64]:
    """3x3 rotation matrix -> (x, y, z, w) quaternion (Shepperd's method,
    choosing the largest diagonal term for numerical stability)."""
    m = _as_float(m)
    batch = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    diag = np.stack([m[:, 0, 0], m[:, 1, 1], m[:, 2, 2], tr], axis=-1)
    pick = np.argmax(diag, axis=-1)
    q = np.empty((m.shape[0], 4))
    for case in range(4):
        sel = pick == case
        if not np.any(sel):
            continue
        r = m[sel]
        if case == 3:
            s = np.sqrt(1.0 + tr[sel]) * 2.0
            q[sel] = np.stack(
                [(r[:, 2, 1] - r[:, 1, 2]) / s, (r[:, 0, 2] - r[:, 2, 0]) / s,
                 (r[:, 1, 0] - r[:, 0, 1]) / s, 0.25 * s], axis=-1)
        else:
            i, j, k = case, (case + 1) % 3, (case + 2) % 3
            s = np.sqrt(1.0 + r[:, i, i] - r[:, j, j] - r[:, k, k]) * 2.0
            out = np.empty((r.shape[0], 4))
            out[:, i] = 0.25 * s
            out[:, j] = (r[:, j, i] + r[:, i, j]) / s
            out[:, k] = (r[:, k, i] + r[:, i, k]) / s
            out[:, 3] = (r[:, k, j] - r[:, j, k]) / s
            q[sel] = out
    return quat_normalize(q).reshape(batch + (4,))


def axis_angle_to_matrix(v: ArrayLike) -> NDArray[np.float64]:
    """Axis-angle (rotation vector) -> 3x3 matrix (Rodrigues)."""
    v = _as_float(v)
    theta = np.linalg.norm(v, axis=-1, keepdims=True)
    axis = v / np.maximum(theta, _EPS)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(v.shape[:-1] + (3, 3))
    s = np.sin(theta)[..., None]
    c = np.cos(theta)[..., None]
    eye = np.broadcast_to(np.eye(3), k.shape)
    return eye + s * k + (1.0 - c) * (k @ k)


def matrix_to_axis_angle(m: ArrayLike) -> NDArray[np.float64]:
    """3x3 matrix -> axis-angle, via the quaternion (stable near 0 and pi)."""
    return quat_to_axis_angle(matrix_to_quat(m))


def quat_to_axis_angle(q: ArrayLike) -> NDArray[np.float64]:
    q = quat_normalize(q)
    vec = q[..., :3]
    s = np.linalg.norm(vec, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., 3:4])
    # angle / sin(angle/2) -> 2 as s -> 0
    scale = np.where(s > 1e-9, angle / np.maximum(s, _EPS), 2.0)
    return vec * scale


def axis_angle_to_quat(v: ArrayLike) -> NDArray[np.float64]:
    v = _as_float(v)
    theta = np.linalg.norm(v, axis=-1, keepdims=True)
    half = 0.5 * theta
    scale = np.where(theta > 1e-9, np.sin(half) / np.maximum(theta, _EPS), 0.5)
    return quat_normalize(np.concatenate([v * scale, np.cos(half)], axis=-1))


def matrix_to_rotation_6d(m: ArrayLike) -> NDArray[np.float64]:
    """3x3 matrix -> 6D (first two rows, PyTorch3D convention)."""
    m = _as_float(m)
    return m[..., :2, :].reshape(m.shape[:-2] + (6,))


def rotation_6d_to_matrix(d6: ArrayLike) -> NDArray[np.float64]:
    """6D -> 3x3 matrix by Gram-Schmidt (rows b1, b2, b3 = b1 x b2)."""
    d6 = _as_float(d6)
    a1, a2 = d6[..., :3], d6[..., 3:6]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), _EPS)
    b2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = b2 / np.maximum(np.linalg.norm(b2, axis=-1, keepdims=True), _EPS)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-2)


def matrix_to_rotation_6d_columns(m: ArrayLike) -> NDArray[np.float64]:
    """3x3 matrix -> 6D as CARI4D lays it out: the first two columns, row-major."""
    m = _as_float(m)
    return m[..., :, :2].reshape(m.shape[:-2] + (6,))


def rotation_6d_columns_to_matrix(d6: ArrayLike) -> NDArray[np.float64]:
    """CARI4D's 6D (first two columns, row-major) -> 3x3 matrix by Gram-Schmidt on the columns.

    The same Gram-Schmidt as :func:`rotation_6d_to_matrix` applied to the
    transposed layout, then transposed back."""
    d6 = _as_float(d6)
    cols = np.concatenate([d6[..., 0::2], d6[..., 1::2]], axis=-1)  # [c0 (3), c1 (3)]
    return np.swapaxes(rotation_6d_to_matrix(cols), -1, -2)


def yaw_to_quat(yaw: ArrayLike) -> NDArray[np.float64]:
    """Rotation about +z by ``yaw`` radians -> (x, y, z, w)."""
    yaw = _as_float(yaw)
    half = 0.5 * yaw
    zero = np.zeros_like(half)
    return quat_normalize(np.stack([zero, zero, np.sin(half), np.cos(half)], axis=-1))


def quat_to_yaw(q: ArrayLike) -> NDArray[np.float64]:
    """Heading about +z of a quaternion (ZYX Euler yaw)."""
    q = quat_normalize(q)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def make_transform(rotation: ArrayLike, translation: ArrayLike) -> NDArray[np.float64]:
    """4x4 homogeneous transform from a 3x3 matrix and a translation."""
    r = _as_float(rotation)
    t = _as_float(translation)
    out = np.zeros(r.shape[:-2] + (4, 4))
    out[..., :3, :3] = r
    out[..., :3, 3] = t
    out[..., 3, 3] = 1.0
    return out


def invert_transform(t: ArrayLike) -> NDArray[np.float64]:
    """Inverse of a rigid 4x4 transform (R^T, -R^T t)."""
    t = _as_float(t)
    r = t[..., :3, :3]
    rt = np.swapaxes(r, -1, -2)
    return make_transform(rt, -(rt @ t[..., :3, 3:4])[..., 0])


def transform_points(t: ArrayLike, points: ArrayLike) -> NDArray[np.float64]:
    """Apply a 4x4 transform to (..., 3) points."""
    t = _as_float(t)
    p = _as_float(points)
    return p @ t[:3, :3].T + t[:3, 3]
