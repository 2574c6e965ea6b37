"""visualization_msgs/MarkerArray builders for RViz / Foxglove."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from numpy.typing import NDArray
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

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
