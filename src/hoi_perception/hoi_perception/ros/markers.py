"""visualization_msgs/MarkerArray builders for RViz / Foxglove."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from numpy.typing import NDArray
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

if TYPE_CHECKING:
    from hoi_perception.sparse4d import Track3D

from hoi_perception.ros.conversions import pose_from_center_yaw, vector3
from hoi_perception.ros.time import stamp_from_ns
from hoi_perception.skeleton.bodypose34 import BONES


def _colour(rgb: tuple[int, int, int], a: float = 1.0) -> ColorRGBA:
    return ColorRGBA(r=rgb[0] / 255.0, g=rgb[1] / 255.0, b=rgb[2] / 255.0, a=a)


def delete_all(header: Header, ns: str = "") -> Marker:
    return Marker(header=header, ns=ns, action=Marker.DELETEALL)


def skeleton_markers(
    header: Header,
    people: Sequence[tuple[int, NDArray[np.floating], NDArray[np.floating]]],
    ns: str = "skeletons",
    lifetime_s: float = 0.5,
    min_confidence: float = 0.3,
    colour_of: object = None,
) -> MarkerArray:
    """One LINE_LIST (bones) and one SPHERE_LIST (joints) per person.

    ``people``: (track_id, joints (34, 3) in header.frame_id, confidence (34,)).
    Markers expire after ``lifetime_s`` so people who leave disappear.
    """
    from hoi_perception.render.skeleton import track_colour

    out = MarkerArray()
    life = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1.0) * 1e9))
    for track_id, joints, conf in people:
        ok = np.isfinite(joints).all(axis=1) & (np.asarray(conf) >= min_confidence)
        colour = _colour(track_colour(track_id))
        bones = Marker(header=header, ns=ns, id=2 * track_id, type=Marker.LINE_LIST, action=Marker.ADD, lifetime=life)
        bones.scale.x = 0.02
        bones.color = colour
        bones.pose.orientation.w = 1.0
        for a, b in BONES:
            if ok[a] and ok[b]:
                bones.points.append(Point(x=float(joints[a, 0]), y=float(joints[a, 1]), z=float(joints[a, 2])))
                bones.points.append(Point(x=float(joints[b, 0]), y=float(joints[b, 1]), z=float(joints[b, 2])))
        dots = Marker(header=header, ns=ns, id=2 * track_id + 1, type=Marker.SPHERE_LIST, action=Marker.ADD,
                      lifetime=life)
        dots.scale.x = dots.scale.y = dots.scale.z = 0.04
        dots.color = colour
        dots.pose.orientation.w = 1.0
        dots.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in joints[ok]]
        out.markers.extend([bones, dots])
    return out


# One colour per card class (labels_3d order), RGB in [0, 1].
CLASS_COLOURS: dict[str, tuple[float, float, float]] = {
    "Person": (0.12, 0.47, 0.71),
    "Fourier_GR1_T2_Humanoid": (1.00, 0.50, 0.05),
    "Agility_Digit_Humanoid": (0.17, 0.63, 0.17),
    "Nova_Carter": (0.84, 0.15, 0.16),
    "Transporter": (0.58, 0.40, 0.74),
    "Forklift": (0.89, 0.47, 0.76),
    "Pallet_Truck": (0.74, 0.74, 0.13),
}


def _colour(class_name: str, alpha: float = 1.0) -> ColorRGBA:
    r, g, b = CLASS_COLOURS.get(class_name, (0.6, 0.6, 0.6))
    return ColorRGBA(r=r, g=g, b=b, a=float(alpha))


def track_markers(tracks: Sequence[Track3D], frame_id: str, stamp_ns: int, ns_prefix: str = "tracks") -> MarkerArray:
    """DELETEALL, then per track a CUBE (box with yaw, class colour), a TEXT (id + class) and an ARROW (velocity)."""
    arr = MarkerArray()
    clear = Marker()
    clear.header.frame_id = frame_id
    clear.header.stamp = stamp_from_ns(stamp_ns)
    clear.action = Marker.DELETEALL
    arr.markers.append(clear)
    stamp = stamp_from_ns(stamp_ns)
    for t in tracks:
        tid = int(t.track_id)
        box = Marker()
        box.header.frame_id, box.header.stamp = frame_id, stamp
        box.ns, box.id, box.type, box.action = f"{ns_prefix}/boxes", tid, Marker.CUBE, Marker.ADD
        box.pose = pose_from_center_yaw(t.position, t.yaw)
        box.scale = vector3(np.maximum(np.asarray(t.size, dtype=np.float64), 1e-3))
        box.color = _colour(t.class_name, 0.45)
        arr.markers.append(box)

        text = Marker()
        text.header.frame_id, text.header.stamp = frame_id, stamp
        text.ns, text.id, text.type, text.action = f"{ns_prefix}/labels", tid, Marker.TEXT_VIEW_FACING, Marker.ADD
        top = np.asarray(t.position, dtype=np.float64) + [0.0, 0.0, 0.5 * float(t.size[2]) + 0.25]
        text.pose = pose_from_center_yaw(top, 0.0)
        text.scale.z = 0.3
        text.color = _colour(t.class_name, 1.0)
        text.text = f"{tid} {t.class_name}"
        arr.markers.append(text)

        v = np.asarray(t.velocity, dtype=np.float64)
        if np.all(np.isfinite(v)) and np.linalg.norm(v) > 0.05:
            arrow = Marker()
            arrow.header.frame_id, arrow.header.stamp = frame_id, stamp
            arrow.ns, arrow.id, arrow.type, arrow.action = f"{ns_prefix}/velocity", tid, Marker.ARROW, Marker.ADD
            p0 = np.asarray(t.position, dtype=np.float64)
            p1 = p0 + v  # one second ahead
            arrow.points = [Point(x=float(p0[0]), y=float(p0[1]), z=float(p0[2])),
                            Point(x=float(p1[0]), y=float(p1[1]), z=float(p1[2]))]
            arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.05, 0.1, 0.15
            arrow.color = _colour(t.class_name, 1.0)
            arr.markers.append(arrow)
    return arr
