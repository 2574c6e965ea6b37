"""Conversions between numpy / core results and ROS messages.

Nodes call these so they never touch array layouts themselves; core modules
never see a message class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from numpy.typing import ArrayLike

from hoi_perception.geometry.rotations import matrix_to_quat, quat_to_matrix, yaw_to_quat


def points_to_msgs(points: ArrayLike) -> list[Point]:
    """(N, 3) array -> list of geometry_msgs/Point (NaN kept as NaN)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    return [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in p]


def points_from_msgs(points: Sequence[Point]) -> np.ndarray:
    return np.array([[p.x, p.y, p.z] for p in points], dtype=np.float64).reshape(-1, 3)


def vector3(v: ArrayLike) -> Vector3:
    x, y, z = (float(a) for a in np.asarray(v, dtype=np.float64).reshape(3))
    return Vector3(x=x, y=y, z=z)


def quaternion(q_xyzw: ArrayLike) -> Quaternion:
    x, y, z, w = (float(a) for a in np.asarray(q_xyzw, dtype=np.float64).reshape(4))
    return Quaternion(x=x, y=y, z=z, w=w)


def pose_from_matrix(m: ArrayLike) -> Pose:
    """4x4 transform -> geometry_msgs/Pose."""
    m = np.asarray(m, dtype=np.float64)
    pose = Pose()
    pose.position = Point(x=float(m[0, 3]), y=float(m[1, 3]), z=float(m[2, 3]))
    pose.orientation = quaternion(matrix_to_quat(m[:3, :3]))
    return pose


def matrix_from_pose(pose: Pose) -> np.ndarray:
    m = np.eye(4)
    q = pose.orientation
    m[:3, :3] = quat_to_matrix([q.x, q.y, q.z, q.w])
    m[:3, 3] = [pose.position.x, pose.position.y, pose.position.z]
    return m


def pose_from_center_yaw(center: ArrayLike, yaw: float) -> Pose:
    """Box centre + heading about +z -> Pose (pitch and roll zero)."""
    c = np.asarray(center, dtype=np.float64).reshape(3)
    pose = Pose()
    pose.position = Point(x=float(c[0]), y=float(c[1]), z=float(c[2]))
    pose.orientation = quaternion(yaw_to_quat(float(yaw)))
    return pose
