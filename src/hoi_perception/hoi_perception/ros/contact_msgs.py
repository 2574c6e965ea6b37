"""Contact results <-> hoi_msgs (HoiState, ContactSet, GraspEvent) and contact markers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from hoi_msgs.msg import ContactSet, GraspEvent, HoiState, ObjectPose, SmplParams
from hoi_perception.contacts.geometric import GraspEventRecord, PairContact
from hoi_perception.ros.conversions import points_to_msgs
from hoi_perception.ros.time import stamp_from_ns


def hoi_state_msg(pair: PairContact, header: Header, object_pose: ObjectPose | None, body_source: str,
                  source: str) -> HoiState:
    smpl = SmplParams(track_id=int(pair.human_track_id))
    st = HoiState(header=header, smpl=smpl, object=object_pose or ObjectPose(header=header),
                  left_hand_contact_prob=float(pair.hand_probability[0]),
                  right_hand_contact_prob=float(pair.hand_probability[1]),
                  left_hand_contact=bool(pair.hand_decision[0]), right_hand_contact=bool(pair.hand_decision[1]),
                  human_track_id=int(pair.human_track_id), interacting=pair.interacting, body_source=body_source,
                  left_hand_source=pair.hand_source[0], right_hand_source=pair.hand_source[1],
                  object_surface_source=pair.object_surface_source, source=source)
    return st


def contact_set_msg(pair: PairContact, header: Header, source: str) -> ContactSet:
    return ContactSet(
        header=header, human_track_id=int(pair.human_track_id), object_track_id=int(pair.object_track_id),
        object_label=pair.object_name.lower(), body_model=pair.body_model,
        body_vertex_indices=np.asarray(pair.body_vertex_indices, dtype=np.int32),
        body_vertex_scores=np.asarray(pair.body_vertex_scores, dtype=np.float32),
        body_points=points_to_msgs(pair.body_vertex_points),
        object_vertex_indices=np.asarray(pair.object_vertex_indices, dtype=np.int32),
        object_vertex_scores=np.asarray(pair.object_point_scores, dtype=np.float32),
        object_points=points_to_msgs(pair.object_points), source=source)


def grasp_event_msg(e: GraspEventRecord, frame_id: str, source: str) -> GraspEvent:
    p = e.contact_point if np.all(np.isfinite(e.contact_point)) else np.zeros(3)
    return GraspEvent(event=GraspEvent.START if e.start else GraspEvent.END, hand=int(e.hand),
                      header=Header(stamp=stamp_from_ns(e.stamp_ns), frame_id=frame_id),
                      human_track_id=int(e.human_track_id), object_track_id=int(e.object_track_id),
                      object_name=e.object_name, contact_start=stamp_from_ns(e.contact_start_ns),
                      probability=float(e.probability), contact_point=Point(x=float(p[0]), y=float(p[1]), z=float(p[2])),
                      source=source)


def _points_marker(header: Header, ns: str, mid: int, pts: np.ndarray, rgba: tuple[float, float, float, float],
                   scale: float) -> Marker:
    m = Marker(header=header, ns=ns, id=mid, type=Marker.SPHERE_LIST, action=Marker.ADD)
    m.scale.x = m.scale.y = m.scale.z = scale
    m.color = ColorRGBA(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])
    m.points = points_to_msgs(pts)
    m.pose.orientation.w = 1.0
    return m


def contact_markers(header: Header, pairs: Sequence[PairContact]) -> MarkerArray:
    """Body contact points (red), object contact points (orange) and a per-hand sphere whose size and
    colour say the decision (green = contact), for every interacting pair; DELETEALL first."""
    out = MarkerArray()
    out.markers.append(Marker(header=header, action=Marker.DELETEALL))
    mid = 0
    for p in pairs:
        if len(p.body_vertex_points):
            mid += 1
            out.markers.append(_points_marker(header, "contacts/body", mid, p.body_vertex_points, (1.0, 0.1, 0.1, 0.9),
                                              0.012))
        if len(p.object_points):
            mid += 1
            out.markers.append(_points_marker(header, "contacts/object", mid, p.object_points, (1.0, 0.6, 0.0, 0.9),
                                              0.01))
        for side in (0, 1):
            pt = p.hand_contact_point[side]
            if not np.all(np.isfinite(pt)) or p.hand_probability[side] < 0.05:
                continue
            mid += 1
            on = bool(p.hand_decision[side])
            out.markers.append(_points_marker(header, f"contacts/hand_{'left' if side == 0 else 'right'}", mid,
                                              pt[None], (0.1, 0.9, 0.1, 0.9) if on else (0.9, 0.9, 0.1, 0.6),
                                              0.04 if on else 0.025))
    return out
