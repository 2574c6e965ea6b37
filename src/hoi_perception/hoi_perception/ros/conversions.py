"""Conversions between numpy / core results and ROS messages.

Nodes call these so they never touch array layouts themselves; core modules
never see a message class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from numpy.typing import ArrayLike
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from hoi_msgs.msg import BoundingBox2D, HumanPose3D, Point2D, TrackedObject3D, TrackedObject3DArray

if TYPE_CHECKING:  # the sparse4d package pulls in scipy.optimize: load it only where tracks are built
    from hoi_perception.sparse4d import GtBox, Track3D

from hoi_perception.geometry.box3d import Box3D
from hoi_perception.geometry.rotations import matrix_to_quat, quat_to_matrix, quat_to_yaw, yaw_to_quat


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


def camera_info_msg(k: ArrayLike, width: int, height: int, frame_id: str, stamp_ns: int,
                    distortion: ArrayLike | None = None) -> CameraInfo:
    """sensor_msgs/CameraInfo of a pinhole camera (plumb_bob, no rectification)."""
    from hoi_perception.ros.time import stamp_from_ns

    kk = np.asarray(k, dtype=np.float64).reshape(3, 3)
    msg = CameraInfo()
    msg.header.stamp = stamp_from_ns(stamp_ns)
    msg.header.frame_id = frame_id
    msg.width, msg.height = int(width), int(height)
    msg.distortion_model = "plumb_bob"
    msg.d = [float(x) for x in (np.zeros(5) if distortion is None else np.asarray(distortion, dtype=np.float64))]
    msg.k = [float(x) for x in kk.reshape(-1)]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    p = np.zeros((3, 4))
    p[:, :3] = kk
    msg.p = [float(x) for x in p.reshape(-1)]
    return msg


def k_from_camera_info(msg: CameraInfo) -> np.ndarray:
    """3x3 intrinsics of a CameraInfo; raises ValueError if unset (all zero)."""
    k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
    if k[0, 0] <= 0 or k[1, 1] <= 0:
        raise ValueError(f"camera_info of frame {msg.header.frame_id!r} has no intrinsics (K = {list(msg.k)})")
    return k


def human_pose_msg(result: object, header: Header, track_id: int, skeleton: str) -> HumanPose3D:
    """hoi_perception.bodypose.PoseResult -> hoi_msgs/HumanPose3D."""
    msg = HumanPose3D()
    msg.header = header
    msg.track_id = int(track_id)
    msg.skeleton = skeleton
    msg.joints = points_to_msgs(result.joints_cam)  # type: ignore[attr-defined]
    msg.joint_confidence = [float(c) for c in result.confidence]  # type: ignore[attr-defined]
    msg.joint_derived = [bool(d) for d in result.derived]  # type: ignore[attr-defined]
    msg.joints_2d = [Point2D(x=float(u), y=float(v)) for u, v in np.asarray(result.joints_2d)]  # type: ignore[attr-defined]
    x0, y0, x1, y1 = (float(v) for v in result.box)  # type: ignore[attr-defined]
    msg.box_2d = BoundingBox2D(x_min=x0, y_min=y0, x_max=x1, y_max=y1)
    msg.score = float(result.score)  # type: ignore[attr-defined]
    msg.depth_used = bool(result.depth_used)  # type: ignore[attr-defined]
    msg.source = str(result.source)  # type: ignore[attr-defined]
    return msg


def track_to_msg(t: Track3D, camera_group: str = "", local_track_id: int | None = None) -> TrackedObject3D:
    """Core Track3D -> hoi_msgs/TrackedObject3D (world frame, OV box)."""
    m = TrackedObject3D()
    m.track_id = int(t.track_id)
    m.local_track_id = int(t.track_id if local_track_id is None else local_track_id)
    m.class_label = str(t.class_name)
    m.class_id = int(t.class_id)
    m.score = float(t.score)
    m.class_score = float(t.score)  # Track3D keeps one score (scores_3d); the cls score is not carried
    m.pose = pose_from_center_yaw(t.position, t.yaw)
    m.size = vector3(t.size)
    m.velocity = vector3(t.velocity)
    m.camera_group = camera_group
    return m


def track_from_msg(m: TrackedObject3D, stamp_ns: int = 0, source: str = "") -> Track3D:
    """hoi_msgs/TrackedObject3D -> core Track3D (yaw = heading of the pose's quaternion about +z)."""
    from hoi_perception.sparse4d import Track3D

    q = m.pose.orientation
    yaw = float(quat_to_yaw([q.x, q.y, q.z, q.w])) if (q.x, q.y, q.z, q.w) != (0.0, 0.0, 0.0, 0.0) else 0.0
    p, s, v = m.pose.position, m.size, m.velocity
    return Track3D(
        track_id=int(m.track_id), class_id=int(m.class_id), class_name=str(m.class_label), score=float(m.score),
        position=np.array([p.x, p.y, p.z]), size=np.array([s.x, s.y, s.z]), yaw=yaw,
        velocity=np.array([v.x, v.y, v.z]), stamp_ns=int(stamp_ns), source=source,
    )


def box3d_from_msg(m: TrackedObject3D) -> Box3D:
    """hoi_msgs/TrackedObject3D -> geometry.box3d.Box3D (no Sparse4D import: body_pose uses it)."""
    q = m.pose.orientation
    yaw = float(quat_to_yaw([q.x, q.y, q.z, q.w])) if (q.x, q.y, q.z, q.w) != (0.0, 0.0, 0.0, 0.0) else 0.0
    p, s, v = m.pose.position, m.size, m.velocity
    return Box3D(int(m.track_id), str(m.class_label), p.x, p.y, p.z, s.x, s.y, s.z, yaw,
                 velocity=np.array([v.x, v.y, v.z]), score=float(m.score))


def gt_boxes_from_msg(msg: TrackedObject3DArray, cameras: Sequence[str] | None = None) -> list[GtBox]:
    """Ground-truth TrackedObject3DArray -> stand-in GtBox list (card class names only).

    ``cameras``: keep only objects visible in one of them (objects without a
    ``visible_cameras`` list are kept).
    """
    from hoi_perception.sparse4d import GtBox, canonical_class_name

    out = []
    cams = set(cameras) if cameras else None
    for o in msg.objects:
        name = canonical_class_name(str(o.class_label))
        if name is None:
            continue
        if cams is not None and len(o.visible_cameras) and not cams.intersection(o.visible_cameras):
            continue
        t = track_from_msg(o)
        out.append(GtBox(name, t.box(), t.velocity, int(o.track_id)))
    return out
