"""Geometric hand/body-object contact estimator with temporal hysteresis and grasp events.

Per frame, for every person and every object near them:

* per hand: the distance from the hand's skin (hand keypoints plus points
  along its bones, minus ``hand_surface_offset_m``, the keypoint-to-skin
  depth) to the object's surface (registered mesh, observed depth points or
  box extent; surfaces.py). The contact probability is a logistic function of
  that gap, 0.5 at ``hand_contact_m``;
* the decision per (person, hand, object) has hysteresis over time: it turns
  on after ``min_on_frames`` consecutive frames with probability >=
  ``enter_probability`` and off after ``min_off_frames`` consecutive frames at
  or below ``exit_probability``. A transition is a grasp event stamped with
  the first frame of the run that caused it (so a START's stamp is the first
  frame in contact, not the frame it was confirmed on);
* body contact points: body keypoints (34-joint skeleton) whose gap to the
  surface (distance minus the joint's soft-tissue radius) is within
  ``body_contact_m``, and, where a body mesh is given (the capsule body
  posed from the joints, or a user mesh), mesh vertices within
  ``body_contact_m`` of the surface, while the pair interacts;
* object contact points: surface samples (mesh vertex indices where a mesh is
  known) within ``object_contact_m`` of the skin of a hand in contact or of a
  body vertex in contact.

All geometry is in one metric frame chosen by the caller (camera optical or
world); nothing here knows ROS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from hoi_perception.contacts.hands import LEFT, RIGHT, SIDES, hand_sample_points
from hoi_perception.contacts.surfaces import ObjectSurface
from hoi_perception.skeleton.bodypose34 import JOINT_NAMES, NUM_JOINTS

SOURCE = "geometric-contact"
_SEARCH_M = 0.3  # nearest-surface searches stop here: farther hands and joints have no contact probability

# Soft-tissue radius around each skeleton joint (metres, 1.75 m adult): the capsule radii of the project's
# body (scene/body.py CAPSULES) at the joint each capsule ends on; hands and feet use their capsule radius.
_JOINT_RADIUS = {
    "pelvis": 0.10, "left_hip": 0.10, "right_hip": 0.10, "torso": 0.12, "neck": 0.05, "left_knee": 0.06,
    "right_knee": 0.06, "left_ankle": 0.05, "right_ankle": 0.05, "nose": 0.02, "left_eye": 0.02,
    "right_eye": 0.02, "left_ear": 0.02, "right_ear": 0.02, "left_shoulder": 0.065, "right_shoulder": 0.065,
    "left_elbow": 0.04, "right_elbow": 0.04, "left_wrist": 0.028, "right_wrist": 0.028,
}
JOINT_RADIUS_M: NDArray[np.float64] = np.array([_JOINT_RADIUS.get(n, 0.028 if "hand" in n or "knuckle" in n or "tip"
                                                                   in n else 0.035) for n in JOINT_NAMES])


@dataclass(frozen=True)
class ContactConfig:
    """Thresholds in metres; probabilities in [0, 1]; frame counts >= 1."""

    hand_contact_m: float = 0.015
    probability_scale_m: float = 0.005
    hand_surface_offset_m: float = 0.01
    enter_probability: float = 0.6
    exit_probability: float = 0.3
    min_on_frames: int = 2
    min_off_frames: int = 2
    body_contact_m: float = 0.02
    object_contact_m: float = 0.02
    gate_m: float = 0.5
    max_gap_s: float = 1.0

    def __post_init__(self) -> None:
        checks = [
            (0.0 <= self.hand_contact_m <= 0.2, "hand_contact_m must be in [0, 0.2]"),
            (1e-4 <= self.probability_scale_m <= 0.1, "probability_scale_m must be in [1e-4, 0.1]"),
            (0.0 <= self.hand_surface_offset_m <= 0.1, "hand_surface_offset_m must be in [0, 0.1]"),
            (0.0 < self.exit_probability < self.enter_probability < 1.0,
             "need 0 < exit_probability < enter_probability < 1 (hysteresis)"),
            (1 <= self.min_on_frames <= 100 and 1 <= self.min_off_frames <= 100, "min_on/off_frames must be in 1..100"),
            (0.0 <= self.body_contact_m <= 0.2 and 0.0 <= self.object_contact_m <= 0.2,
             "body_contact_m and object_contact_m must be in [0, 0.2]"),
            (0.0 < self.gate_m <= 5.0, "gate_m must be in (0, 5]"),
            (0.0 < self.max_gap_s <= 60.0, "max_gap_s must be in (0, 60]"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)


@dataclass
class HandInput:
    keypoints: NDArray[np.float64]  # (21, 3)
    source: str
    surface_offset_m: float | None = None  # keypoint-to-skin depth; None = the config's hand_surface_offset_m


@dataclass
class PersonInput:
    track_id: int
    joints: NDArray[np.float64] | None = None           # (34, 3) or None
    hands: dict[int, HandInput] = field(default_factory=dict)  # LEFT/RIGHT -> hand
    body_vertices: NDArray[np.float64] | None = None    # (V, 3) body mesh vertices, or None
    body_vertex_part_is_hand: NDArray[np.int64] | None = None  # (V,) -1 = not a hand, else LEFT/RIGHT
    body_model: str = ""
    body_source: str = ""


@dataclass
class ObjectInput:
    track_id: int
    name: str
    object_from_frame: NDArray[np.float64]  # 4x4: frame points -> object frame
    surface: ObjectSurface
    pose_source: str = ""
    world_from_object: NDArray[np.float64] | None = None  # frame_from_object (for output points)

    @staticmethod
    def from_pose(track_id: int, name: str, frame_from_object: NDArray[np.float64], surface: ObjectSurface,
                  pose_source: str = "") -> ObjectInput:
        t = np.asarray(frame_from_object, dtype=np.float64)
        inv = np.eye(4)
        inv[:3, :3] = t[:3, :3].T
        inv[:3, 3] = -t[:3, :3].T @ t[:3, 3]
        return ObjectInput(track_id, name, inv, surface, pose_source, t)


@dataclass
class GraspEventRecord:
    start: bool
    hand: int
    human_track_id: int
    object_track_id: int
    object_name: str
    stamp_ns: int
    contact_start_ns: int
    probability: float
    contact_point: NDArray[np.float64]


@dataclass
class PairContact:
    """Contact of one person with one object on one frame (points in the caller's frame)."""

    human_track_id: int
    object_track_id: int
    object_name: str
    hand_probability: NDArray[np.float64]      # (2,) left, right; 0 where the hand is missing
    hand_decision: NDArray[np.bool_]           # (2,)
    hand_gap_m: NDArray[np.float64]            # (2,) inf where the hand is missing
    hand_source: tuple[str, str]
    hand_contact_point: NDArray[np.float64]    # (2, 3) nearest surface point per hand (NaN if none)
    body_joint_indices: NDArray[np.int64]
    body_joint_gap_m: NDArray[np.float64]
    body_model: str
    body_vertex_indices: NDArray[np.int64]
    body_vertex_points: NDArray[np.float64]
    body_vertex_scores: NDArray[np.float64]
    object_vertex_indices: NDArray[np.int64]   # mesh vertex ids (empty when the surface has no mesh)
    object_points: NDArray[np.float64]         # contact points on the object surface
    object_point_scores: NDArray[np.float64]
    object_surface_source: str
    nearest_gap_m: float

    @property
    def interacting(self) -> bool:
        return bool(self.hand_decision.any() or len(self.body_vertex_indices) or len(self.body_joint_indices))

    @property
    def strength(self) -> float:
        return float(self.hand_probability.max()) + (1.0 if self.interacting else 0.0)


@dataclass
class FrameContacts:
    stamp_ns: int
    pairs: list[PairContact]
    events: list[GraspEventRecord]

    def state_per_person(self) -> dict[int, PairContact]:
        """The object in interaction per person: strongest contact, else the nearest object."""
        out: dict[int, PairContact] = {}
        for p in self.pairs:
            best = out.get(p.human_track_id)
            key = (p.strength, -p.nearest_gap_m)
            if best is None or key > (best.strength, -best.nearest_gap_m):
                out[p.human_track_id] = p
        return out


@dataclass
class _Hysteresis:
    on: bool = False
    run: int = 0
    run_start_ns: int = 0
    contact_start_ns: int = 0
    last_ns: int = 0
    last_point: NDArray[np.float64] = field(default_factory=lambda: np.full(3, np.nan))
    object_name: str = ""


def contact_probability(gap_m: NDArray[np.float64] | float, config: ContactConfig) -> NDArray[np.float64]:
    """Logistic in the skin-to-surface gap: 0.5 at ``hand_contact_m``, falling with ``probability_scale_m``."""
    g = np.asarray(gap_m, dtype=np.float64)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp((g - config.hand_contact_m) / config.probability_scale_m))


class GeometricContactEstimator:
    """Stateful per-frame contact estimation (see the module docstring)."""

    def __init__(self, config: ContactConfig | None = None) -> None:
        self.config = config or ContactConfig()
        self._states: dict[tuple[int, int, int], _Hysteresis] = {}
        self.last_stamp_ns: int | None = None
        self.frames = 0
        self.events_total = 0

    def reset(self) -> None:
        self._states.clear()
        self.last_stamp_ns = None

    def active_contacts(self) -> list[tuple[int, int, int]]:
        return [k for k, s in self._states.items() if s.on]

    # ------------------------------------------------------------------------------------------
    def update(self, stamp_ns: int, people: list[PersonInput], objects: list[ObjectInput]) -> FrameContacts:
        cfg = self.config
        events: list[GraspEventRecord] = []
        if self.last_stamp_ns is not None and stamp_ns < self.last_stamp_ns:
            self.reset()  # time went backwards (bag loop): contacts of the old timeline are void
        self.last_stamp_ns = stamp_ns
        pairs: list[PairContact] = []
        seen: set[tuple[int, int, int]] = set()
        for person in people:
            for obj in objects:
                pair = self._pair(person, obj)
                if pair is None:
                    continue
                for hand in (LEFT, RIGHT):
                    key = (person.track_id, obj.track_id, hand)
                    seen.add(key)
                    ev = self._step(key, stamp_ns, float(pair.hand_probability[hand]), pair.hand_contact_point[hand],
                                    obj.name)
                    pair.hand_decision[hand] = self._states[key].on if key in self._states else False
                    if ev is not None:
                        events.append(ev)
                if not pair.interacting:
                    pair.body_vertex_indices = np.zeros(0, dtype=np.int64)
                    pair.body_vertex_points = np.zeros((0, 3))
                    pair.body_vertex_scores = np.zeros(0)
                    pair.object_vertex_indices = np.zeros(0, dtype=np.int64)
                    pair.object_points = np.zeros((0, 3))
                    pair.object_point_scores = np.zeros(0)
                elif not pair.hand_decision.all():
                    self._drop_undecided_hands(pair, person, obj)
                pairs.append(pair)
        # pairs not evaluated this frame (person/object missing or out of the gate) count as "no contact"
        for key in list(self._states):
            if key in seen:
                continue
            st = self._states[key]
            if (stamp_ns - st.last_ns) * 1e-9 > cfg.max_gap_s and not st.on:
                del self._states[key]
                continue
            ev = self._step(key, stamp_ns, 0.0, st.last_point, st.object_name)
            if ev is not None:
                events.append(ev)
        self.frames += 1
        self.events_total += len(events)
        return FrameContacts(stamp_ns, pairs, events)

    def _step(self, key: tuple[int, int, int], stamp_ns: int, p: float, point: NDArray[np.float64],
              object_name: str) -> GraspEventRecord | None:
        cfg = self.config
        st = self._states.get(key)
        if st is None:
            if p < cfg.enter_probability:
                return None  # nothing to remember
            st = self._states[key] = _Hysteresis(object_name=object_name)
        st.last_ns = stamp_ns
        if np.all(np.isfinite(point)):
            st.last_point = np.asarray(point, dtype=np.float64)
        wants_change = p <= cfg.exit_probability if st.on else p >= cfg.enter_probability
        if not wants_change:
            st.run = 0
            return None
        if st.run == 0:
            st.run_start_ns = stamp_ns
        st.run += 1
        if st.run < (cfg.min_off_frames if st.on else cfg.min_on_frames):
            return None
        st.on = not st.on
        st.run = 0
        human, obj, hand = key
        if st.on:
            st.contact_start_ns = st.run_start_ns
            return GraspEventRecord(True, hand, human, obj, object_name, st.run_start_ns, st.run_start_ns, p,
                                    st.last_point.copy())
        return GraspEventRecord(False, hand, human, obj, object_name, st.run_start_ns, st.contact_start_ns, p,
                                st.last_point.copy())

    # ------------------------------------------------------------------------------------------
    def _pair(self, person: PersonInput, obj: ObjectInput) -> PairContact | None:
        cfg = self.config
        to_obj = obj.object_from_frame
        frame_from_obj = obj.world_from_object if obj.world_from_object is not None else np.linalg.inv(to_obj)
        radius = obj.surface.extent_radius() + cfg.gate_m

        def local(p: NDArray[np.float64]) -> NDArray[np.float64]:
            return p @ to_obj[:3, :3].T + to_obj[:3, 3]

        def frame(p: NDArray[np.float64]) -> NDArray[np.float64]:
            return p @ frame_from_obj[:3, :3].T + frame_from_obj[:3, 3]

        probs, gaps = np.zeros(2), np.full(2, np.inf)
        points = np.full((2, 3), np.nan)
        hand_skin: dict[int, NDArray[np.float64]] = {}
        sources = ["", ""]
        near = False
        for side in (LEFT, RIGHT):
            hand = person.hands.get(side)
            if hand is None:
                continue
            pts = hand_sample_points(np.asarray(hand.keypoints, dtype=np.float64))
            pts = pts[np.all(np.isfinite(pts), axis=1)]
            if len(pts) == 0:
                continue
            sources[side] = hand.source
            lp = local(pts)
            if np.min(np.linalg.norm(lp, axis=1)) > radius:
                continue
            near = True
            d, idx = obj.surface.distance(lp, _SEARCH_M)
            k = int(np.argmin(d))
            if not np.isfinite(d[k]):
                continue
            offset = cfg.hand_surface_offset_m if hand.surface_offset_m is None else float(hand.surface_offset_m)
            gaps[side] = float(d[k]) - offset
            probs[side] = float(contact_probability(gaps[side], cfg))
            points[side] = frame(obj.surface.samples[idx[k]][None])[0]
            hand_skin[side] = (lp, offset)
        joint_idx = np.zeros(0, dtype=np.int64)
        joint_gap = np.zeros(0)
        nearest = float(np.nanmin(gaps)) if np.isfinite(gaps).any() else np.inf
        if person.joints is not None:
            j = np.asarray(person.joints, dtype=np.float64)
            ok = np.all(np.isfinite(j), axis=1)
            if ok.any():
                lj = local(j[ok])
                if np.min(np.linalg.norm(lj, axis=1)) <= radius + 1.0:
                    near = True
                    d, _ = obj.surface.distance(lj, _SEARCH_M)
                    g = d - JOINT_RADIUS_M[:NUM_JOINTS][ok]
                    nearest = min(nearest, float(g.min()))
                    hit = g <= cfg.body_contact_m
                    joint_idx = np.flatnonzero(ok)[hit].astype(np.int64)
                    joint_gap = g[hit]
        if not near:
            return None
        bv_idx = np.zeros(0, dtype=np.int64)
        bv_pts = np.zeros((0, 3))
        bv_score = np.zeros(0)
        if person.body_vertices is not None and len(person.body_vertices):
            lv = local(np.asarray(person.body_vertices, dtype=np.float64))
            d = np.full(len(lv), np.inf)
            close = np.linalg.norm(lv, axis=1) <= obj.surface.extent_radius() + cfg.body_contact_m
            if close.any():
                d[close], _ = obj.surface.distance(lv[close], cfg.body_contact_m + 1e-9)
            hit = d <= cfg.body_contact_m
            bv_idx = np.flatnonzero(hit).astype(np.int64)
            bv_pts = np.asarray(person.body_vertices, dtype=np.float64)[hit]
            bv_score = np.clip(1.0 - d[hit] / max(cfg.body_contact_m, 1e-6), 0.0, 1.0) * 0.5 + 0.5
            if hit.any():
                nearest = min(nearest, float(d[hit].min()))
        # object contact points: samples near the skin of the hands (any; undecided hands are dropped later)
        # and near the body vertices in contact
        skins = [hand_skin[s] for s in sorted(hand_skin)]
        if len(bv_idx):
            skins.append((local(bv_pts), 0.0))
        obj_idx, obj_pts, obj_scores = self._object_points(obj, skins)
        return PairContact(
            human_track_id=person.track_id, object_track_id=obj.track_id, object_name=obj.name,
            hand_probability=probs, hand_decision=np.zeros(2, dtype=np.bool_), hand_gap_m=gaps,
            hand_source=(sources[0], sources[1]), hand_contact_point=points,
            body_joint_indices=joint_idx, body_joint_gap_m=joint_gap, body_model=person.body_model,
            body_vertex_indices=bv_idx, body_vertex_points=bv_pts, body_vertex_scores=bv_score,
            object_vertex_indices=obj_idx, object_points=frame(obj_pts) if len(obj_pts) else obj_pts,
            object_point_scores=obj_scores, object_surface_source=obj.surface.source, nearest_gap_m=nearest,
        )

    def _object_points(self, obj: ObjectInput, skins: list[tuple[NDArray[np.float64], float]]
                       ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """(mesh vertex ids, object-frame contact points, scores) within object_contact_m of the skins.

        A skin is (object-frame points, offset): hand skeleton points lie ``offset`` inside the skin."""
        cfg = self.config
        if not skins:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 3)), np.zeros(0)
        surf = obj.surface
        targets = surf.vertices if surf.has_mesh else surf.samples
        gap = np.full(len(targets), np.inf)
        for pts, offset in skins:
            d, _ = cKDTree(pts).query(targets, k=1)
            gap = np.minimum(gap, d - offset)
        hit = gap <= cfg.object_contact_m
        scores = np.clip(1.0 - np.maximum(gap[hit], 0.0) / max(cfg.object_contact_m, 1e-6), 0.0, 1.0) * 0.5 + 0.5
        idx = np.flatnonzero(hit).astype(np.int64)
        if surf.has_mesh:
            return idx, surf.vertices[idx], scores
        return np.zeros(0, dtype=np.int64), surf.samples[idx], scores

    def _drop_undecided_hands(self, pair: PairContact, person: PersonInput, obj: ObjectInput) -> None:
        """Keep body/object contact points of decided hands only (and of non-hand body parts)."""
        if person.body_vertex_part_is_hand is not None and len(pair.body_vertex_indices):
            side_of = person.body_vertex_part_is_hand[pair.body_vertex_indices]
            keep = (side_of < 0) | np.isin(side_of, np.flatnonzero(pair.hand_decision))
            pair.body_vertex_indices = pair.body_vertex_indices[keep]
            pair.body_vertex_points = pair.body_vertex_points[keep]
            pair.body_vertex_scores = pair.body_vertex_scores[keep]
        skins: list[tuple[NDArray[np.float64], float]] = []
        to_obj = obj.object_from_frame
        for side in np.flatnonzero(pair.hand_decision):
            hand = person.hands.get(int(side))
            if hand is not None:
                pts = hand_sample_points(np.asarray(hand.keypoints, dtype=np.float64))
                offset = self.config.hand_surface_offset_m if hand.surface_offset_m is None else hand.surface_offset_m
                skins.append((pts @ to_obj[:3, :3].T + to_obj[:3, 3], float(offset)))
        if person.body_vertex_part_is_hand is not None and len(pair.body_vertex_indices):
            non_hand = person.body_vertex_part_is_hand[pair.body_vertex_indices] < 0
            if non_hand.any():
                skins.append((pair.body_vertex_points[non_hand] @ to_obj[:3, :3].T + to_obj[:3, 3], 0.0))
        idx, pts, scores = self._object_points(obj, skins)
        frame_from_obj = obj.world_from_object if obj.world_from_object is not None else np.linalg.inv(to_obj)
        pair.object_vertex_indices = idx
        pair.object_points = pts @ frame_from_obj[:3, :3].T + frame_from_obj[:3, 3] if len(pts) else pts
        pair.object_point_scores = scores


def hand_part_of_vertices(vertex_part: NDArray[np.int64]) -> NDArray[np.int64]:
    """Per capsule-body vertex: LEFT/RIGHT for the hand capsules (hand, palm, thumb), -1 elsewhere."""
    from hoi_perception.scene.body import CAPSULE_NAMES, HAND_CAPSULES

    out = np.full(len(vertex_part), -1, dtype=np.int64)
    for side, name in enumerate(SIDES):
        ids = [CAPSULE_NAMES.index(c) for c in HAND_CAPSULES[name]]
        out[np.isin(vertex_part, ids)] = side
    return out
