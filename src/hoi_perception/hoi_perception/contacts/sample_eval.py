"""Run the geometric contact estimator over a bag and score it against the bag's
/ground_truth/hoi (per-hand decisions) and /ground_truth/contacts (body and object contact vertices).

Inputs (every output says which were used):

* people: ``/ground_truth/humans`` (world frame, exact joints), or a
  recording of the body_pose node's ``/hoi/humans`` (camera optical frame,
  moved to the world through the bag's /tf_static);
* hands: until a hand model publishes hoi_msgs/Hand3DArray, hands are derived
  from each skeleton's five hand joints (contacts/hands.py, source
  "body-joints");
* objects: ``/ground_truth/objects`` poses with the scene's object meshes
  (the registered-mesh path: the sample scene's meshes stand for the
  class -> mesh map a robot's object node is configured with).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hoi_perception.contacts.body_mesh import BODY_MODEL_NAME, capsule_body_from_joints
from hoi_perception.contacts.geometric import (
    ContactConfig,
    FrameContacts,
    GeometricContactEstimator,
    HandInput,
    ObjectInput,
    PersonInput,
    hand_part_of_vertices,
)
from hoi_perception.contacts.hands import BODY_JOINTS_SOURCE, LEFT, RIGHT, hand_from_body_joints
from hoi_perception.contacts.metrics import (
    ContactEvaluation,
    Event,
    event_timing,
    events_from_decisions,
    index_counts,
)
from hoi_perception.contacts.surfaces import ObjectSurface, surface_from_mesh

TOPIC_GT_HUMANS = "/ground_truth/humans"
TOPIC_GT_OBJECTS = "/ground_truth/objects"
TOPIC_GT_HOI = "/ground_truth/hoi"
TOPIC_GT_CONTACTS = "/ground_truth/contacts"
WORLD_UP = np.array([0.0, 0.0, 1.0])
# scene/body.py: hand capsule radius of the 1.75 m body = the skin depth of a hand derived from its joints
SCENE_HAND_RADIUS_M = 0.028


def stamp_ns(header: Any) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def pose_matrix(pose: Any) -> NDArray[np.float64]:
    from hoi_perception.geometry.rotations import quat_to_matrix

    t = np.eye(4)
    q = pose.orientation
    t[:3, :3] = quat_to_matrix([q.x, q.y, q.z, q.w])
    t[:3, 3] = [pose.position.x, pose.position.y, pose.position.z]
    return t


def scene_object_surfaces() -> dict[int, ObjectSurface]:
    """Object-frame surfaces of the synthetic scene's objects, by track id (mesh source "scene-mesh:<name>")."""
    from hoi_perception.scene import SceneConfig, SyntheticScene

    scene = SyntheticScene(SceneConfig(num_static_cameras=0, duration_s=1.0))
    gt = scene.ground_truth(0, with_visibility=False)
    return {o.track_id: surface_from_mesh(o.vertices, o.faces, f"scene-mesh:{o.name.lower()}") for o in gt.objects}


def person_input(track_id: int, joints: NDArray[np.float64], source: str, up: NDArray[np.float64] | None,
                 hand_offset_m: float | None) -> PersonInput:
    """A person with body-joint hands and the capsule body posed from the skeleton."""
    hands = {side: HandInput(hand_from_body_joints(joints, side), BODY_JOINTS_SOURCE, hand_offset_m)
             for side in (LEFT, RIGHT)}
    body = capsule_body_from_joints(joints, up=up)
    return PersonInput(track_id=track_id, joints=joints, hands=hands, body_vertices=body.vertices,
                       body_vertex_part_is_hand=hand_part_of_vertices(body.vertex_part), body_model=BODY_MODEL_NAME,
                       body_source=source)


@dataclass
class FrameRecord:
    stamp_ns: int
    result: FrameContacts
    gt_hands: tuple[bool, bool]
    gt_object_id: int
    gt_body: NDArray[np.int64]
    gt_object: NDArray[np.int64]
    pred_hands: tuple[bool, bool]
    pred_body: NDArray[np.int64]
    pred_object: NDArray[np.int64]


@dataclass
class BagContactRun:
    evaluation: ContactEvaluation
    frames: list[FrameRecord] = field(default_factory=list)
    inputs: str = ""
    events: list[Any] = field(default_factory=list)


def joints_from_msg(h: Any) -> NDArray[np.float64]:
    return np.array([[p.x, p.y, p.z] for p in h.joints], dtype=np.float64).reshape(-1, 3)


def read_ground_truth(bag: Path) -> tuple[dict[int, Any], dict[int, Any], dict[int, Any], dict[int, Any]]:
    from hoi_perception.bag.io import BagReader

    humans, objects, hoi, contacts = {}, {}, {}, {}
    with BagReader(bag) as r:
        for m in r.messages([TOPIC_GT_HUMANS, TOPIC_GT_OBJECTS, TOPIC_GT_HOI, TOPIC_GT_CONTACTS]):
            msg = r.deserialize(m)
            {TOPIC_GT_HUMANS: humans, TOPIC_GT_OBJECTS: objects, TOPIC_GT_HOI: hoi,
             TOPIC_GT_CONTACTS: contacts}[m.topic][stamp_ns(msg.header)] = msg
    return humans, objects, hoi, contacts


def run_on_bag(bag: Path, config: ContactConfig | None = None, people: dict[int, list[tuple[int, NDArray]]] | None
               = None, people_source: str = "ground-truth joints (/ground_truth/humans)",
               hand_offset_m: float | None = SCENE_HAND_RADIUS_M, match_tolerance_ns: int = 50_000_000
               ) -> BagContactRun:
    """Estimate contacts frame by frame and score them.

    ``people``: {stamp_ns: [(track_id, joints (34, 3) world)]} from a detector; None = the bag's
    ground-truth skeletons. A detector's frame is scored against the ground-truth frame nearest in time
    (within ``match_tolerance_ns``); the interacting human's contacts are compared (ground truth's
    ``human_track_id`` for ground-truth people, else the detected person nearest the ground-truth pelvis)."""
    humans, objects, hoi, contacts = read_ground_truth(bag)
    if not hoi:
        raise ValueError(f"{bag}: no {TOPIC_GT_HOI} messages")
    surfaces = scene_object_surfaces()
    cfg = config or ContactConfig(hand_surface_offset_m=0.01)
    est = GeometricContactEstimator(cfg)
    ev = ContactEvaluation()
    run = BagContactRun(ev, inputs=f"people: {people_source}; hands: derived from the skeleton's hand joints "
                                   f"({BODY_JOINTS_SOURCE}); objects: /ground_truth/objects poses + scene meshes")
    gt_stamps = sorted(hoi)
    det_stamps = sorted(people) if people is not None else gt_stamps
    pred_seq: dict[tuple[int, int], list[bool]] = {}
    true_seq: dict[tuple[int, int], list[bool]] = {}
    seq_stamps: list[int] = []
    pred_events: list[Event] = []
    for t in det_stamps:
        g = min(gt_stamps, key=lambda s: abs(s - t))
        if abs(g - t) > match_tolerance_ns:
            continue
        obj_msg = objects.get(g)
        objs = []
        if obj_msg is not None:
            for o in obj_msg.objects:
                surf = surfaces.get(int(o.track_id))
                if surf is not None:
                    objs.append(ObjectInput.from_pose(int(o.track_id), str(o.object_name), pose_matrix(o.pose), surf,
                                                      str(o.source)))
        gt_state = hoi[g].states[0] if hoi[g].states else None
        if gt_state is None:
            continue
        gt_human = int(gt_state.smpl.track_id)
        if people is None:
            plist = [(int(h.track_id), joints_from_msg(h)) for h in humans[g].humans]
        else:
            plist = people[t]
        persons = [person_input(tid, j, people_source, WORLD_UP, hand_offset_m) for tid, j in plist
                   if j.shape == (34, 3) and np.all(np.isfinite(j))]
        result = est.update(t, persons, objs)
        for e in result.events:
            pred_events.append(Event(e.start, e.hand, e.object_track_id, e.stamp_ns))
        # the detected person that is the interacting human
        if people is None:
            target = gt_human
        else:
            gt_pelvis = next((joints_from_msg(h)[0] for h in humans[g].humans if int(h.track_id) == gt_human), None)
            target = min(plist, key=lambda p: np.linalg.norm(p[1][0] - gt_pelvis))[0] if plist and gt_pelvis is not None \
                else -1
        gt_obj = int(gt_state.object.track_id)
        pair = next((p for p in result.pairs if p.human_track_id == target and p.object_track_id == gt_obj), None)
        gt_hands = (bool(gt_state.left_hand_contact), bool(gt_state.right_hand_contact))
        pred_hands = (bool(pair.hand_decision[0]), bool(pair.hand_decision[1])) if pair is not None else (False, False)
        cs = next((c for c in contacts[g].contacts if int(c.human_track_id) == gt_human), None) if g in contacts else None
        gt_body = np.asarray(cs.body_vertex_indices, dtype=np.int64) if cs is not None else np.zeros(0, np.int64)
        gt_objv = np.asarray(cs.object_vertex_indices, dtype=np.int64) if cs is not None else np.zeros(0, np.int64)
        gt_objv_id = int(cs.object_track_id) if cs is not None else gt_obj
        pred_body = pair.body_vertex_indices if pair is not None else np.zeros(0, np.int64)
        pred_obj = pair.object_vertex_indices if pair is not None and pair.object_track_id == gt_objv_id \
            else np.zeros(0, np.int64)
        ev.body.add(index_counts(pred_body, gt_body))
        ev.object.add(index_counts(pred_obj, gt_objv))
        for side in (LEFT, RIGHT):
            ev.hands[side].add(pred_hands[side], gt_hands[side])
            pred_seq.setdefault((side, gt_obj), []).append(pred_hands[side])
            true_seq.setdefault((side, gt_obj), []).append(gt_hands[side])
        seq_stamps.append(g)
        ev.frames += 1
        run.frames.append(FrameRecord(t, result, gt_hands, gt_obj, gt_body, gt_objv, pred_hands, pred_body, pred_obj))
    true_events = [e for (side, obj), seq in true_seq.items() for e in events_from_decisions(seq_stamps, seq, side, obj)]
    target_objs = {obj for (_, obj) in true_seq}
    ev.events = event_timing([e for e in pred_events if e.object_id in target_objs], true_events)
    run.events = pred_events
    return run


def people_from_recording(recording: Path, bag: Path, topic: str = "/hoi/humans",
                          world_frame: str = "world") -> dict[int, list[tuple[int, NDArray[np.float64]]]]:
    """{stamp: [(track id, world joints)]} from a recording of the body_pose node (optical frame -> world via
    the sample bag's /tf_static)."""
    from hoi_perception.bag.io import BagReader
    from hoi_perception.geometry.tf_buffer import TfBuffer, add_transform, lookup_or_none

    static = TfBuffer()
    with BagReader(bag) as r:
        for m in r.messages(["/tf_static"]):
            for t in r.deserialize(m).transforms:
                add_transform(static, t, static=True)
    out: dict[int, list[tuple[int, NDArray[np.float64]]]] = {}
    with BagReader(recording) as r:
        for m in r.messages([topic]):
            msg = r.deserialize(m)
            world_from_cam = lookup_or_none(static, world_frame, str(msg.header.frame_id))
            if world_from_cam is None:
                continue
            people = []
            for h in msg.humans:
                j = joints_from_msg(h)
                if j.shape != (34, 3):
                    continue
                people.append((int(h.track_id), j @ world_from_cam[:3, :3].T + world_from_cam[:3, 3]))
            out[stamp_ns(msg.header)] = people
    return out


def iter_pairs(run: BagContactRun) -> Iterable[Any]:
    for f in run.frames:
        yield from f.result.pairs
