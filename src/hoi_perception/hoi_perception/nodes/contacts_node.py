"""Contacts node: hand/body-object contacts, HOI state and grasp events, per frame.

Subscribes (all reliable, keep last 10):

* ``humans_topic`` hoi_msgs/HumanPose3DArray (drives the per-frame step),
* ``hands_topic`` hoi_msgs/Hand3DArray (optional; a person's hand without a
  Hand3D is derived from the skeleton's hand joints when
  ``hands_from_body_joints``, source "body-joints"),
* ``objects_topic`` hoi_msgs/ObjectPoseArray (the latest within
  ``object_max_age_s`` of the humans' stamp).

Object surfaces: the pose's ``mesh_resource`` (file://, package:// or a
path; .npz or .obj, loaded once), else the ``object_meshes`` YAML map
(object_name -> mesh file), else, when ``extents_topic`` is set, the box
objects_hands measured for that object (hoi_msgs/ObjectExtentArray with the
objects' header; "box-measured"), else a box of ``fallback_object_size_m``
("box-extent"). Inputs in different frames are joined through /tf_static.

Publishes ``~/hoi_states`` HoiStateArray (one state per person: the object
in interaction), ``~/contacts`` ContactSetArray (body model "hoi_capsules":
the project's capsule body posed from the skeleton), ``~/grasp_events``
GraspEventArray (only when an event happened), ``~/markers`` and /diagnostics.
Bad inputs are logged (throttled) and counted by reason, never fatal.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rclpy.node import Node
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from hoi_msgs.msg import (
    ContactSetArray,
    GraspEventArray,
    Hand3DArray,
    HoiStateArray,
    HumanPose3DArray,
    ObjectExtentArray,
    ObjectPoseArray,
)
from hoi_perception.contacts.body_mesh import BODY_MODEL_NAME, capsule_body_from_joints
from hoi_perception.contacts.geometric import (
    SOURCE,
    ContactConfig,
    GeometricContactEstimator,
    HandInput,
    ObjectInput,
    PersonInput,
    hand_part_of_vertices,
)
from hoi_perception.contacts.hands import BODY_JOINTS_SOURCE, LEFT, RIGHT, hand_from_body_joints
from hoi_perception.contacts.surfaces import (
    ObjectSurface,
    load_mesh,
    resolve_mesh_uri,
    surface_from_box,
    surface_from_mesh,
)
from hoi_perception.geometry.tf_buffer import TfBuffer, add_transform, lookup_or_none
from hoi_perception.ros.contact_msgs import contact_markers, contact_set_msg, grasp_event_msg, hoi_state_msg
from hoi_perception.ros.conversions import matrix_from_pose, points_from_msgs
from hoi_perception.ros.diagnostics import OK, WARN, DiagnosticsPublisher, RateMonitor
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.parameters import Param, declare_parameters
from hoi_perception.ros.qos import TF_STATIC_LISTENER_QOS, reliable_qos
from hoi_perception.ros.time import ns_from_stamp, steady_timer
from hoi_perception.skeleton.bodypose34 import NUM_JOINTS

_CONFIG_PARAMS = ("hand_contact_m", "probability_scale_m", "hand_surface_offset_m", "enter_probability",
                  "exit_probability", "min_on_frames", "min_off_frames", "body_contact_m", "object_contact_m",
                  "gate_m", "max_gap_s")

_C = ContactConfig()
PARAMETERS = (
    Param("humans_topic", "/hoi/humans", "hoi_msgs/HumanPose3DArray topic; each message drives one contact step"),
    Param("hands_topic", "/hoi/hands", "hoi_msgs/Hand3DArray topic (optional; hands refine the body's hands)"),
    Param("objects_topic", "/hoi/objects", "hoi_msgs/ObjectPoseArray topic of the objects tested for contact"),
    Param("hands_from_body_joints", True, "derive a missing hand from the skeleton's hand joints (body-joints)",
          read_only=False),
    Param("body_joint_hand_offset_m", 0.02, "skin depth of a hand derived from body joints [m]", 0.0, 0.1),
    Param("object_meshes", "", "YAML file object_name -> mesh (.npz/.obj), for poses without mesh_resource"),
    # Off by default: boxes measured from one view cover the visible side only (too thin), and on the
    # sample bag contact F1 went from 0.39-0.47 (fixed cube) to 0.28-0.33 with them (two runs each).
    Param("extents_topic", "", "hoi_msgs/ObjectExtentArray topic (objects_hands: /hoi/object_extents): measured "
          "boxes for objects without a mesh instead of fallback_object_size_m; empty: off"),
    Param("fallback_object_size_m", [0.3, 0.3, 0.3], "box extent [m] used when no mesh and no measured box is "
          "known (box-extent)"),
    Param("object_max_age_s", 0.5, "objects within this of the humans' stamp are used [s]", 0.0, 60.0),
    Param("hand_max_age_s", 0.1, "hands within this of the humans' stamp are used [s]", 0.0, 60.0),
    Param("inputs_wait_s", 0.0, "hold a humans message this long (wall clock) for the hands and objects of its stamp "
          "(topics with a publisher only); 0: use what has arrived", 0.0, 10.0),
    Param("up_axis", [0.0, 0.0, 0.0], "the frame's vertical for the capsule body; zeros: the body's own "
          "pelvis->neck"),
    Param("hand_contact_m", _C.hand_contact_m, "skin-to-surface gap at contact probability 0.5 [m]", 0.0, 0.2),
    Param("probability_scale_m", _C.probability_scale_m, "logistic width of the contact probability [m]",
          1e-4, 0.1),
    Param("hand_surface_offset_m", _C.hand_surface_offset_m, "keypoint-to-skin depth of a Hand3D hand [m]",
          0.0, 0.1),
    Param("enter_probability", _C.enter_probability, "hysteresis: contact on at or above this (min_on_frames)",
          0.0, 1.0),
    Param("exit_probability", _C.exit_probability, "hysteresis: contact off at or below this (min_off_frames); "
          "must be below enter_probability", 0.0, 1.0),
    Param("min_on_frames", _C.min_on_frames, "frames at or above enter_probability before contact starts",
          1, 1000),
    Param("min_off_frames", _C.min_off_frames, "frames at or below exit_probability before contact ends",
          1, 1000),
    Param("body_contact_m", _C.body_contact_m, "body vertex / joint gap counted as contact [m]", 0.0, 0.2),
    Param("object_contact_m", _C.object_contact_m, "object points within this of a contacting skin [m]",
          0.0, 0.2),
    Param("gate_m", _C.gate_m, "objects farther than this beyond their extent are not tested [m]", 0.0, 10.0),
    Param("max_gap_s", _C.max_gap_s, "an idle human/object pair is forgotten after this long unseen [s]",
          0.0, 3600.0),
)


class ContactsNode(Node):
    def __init__(self) -> None:
        super().__init__("contacts")
        declare_parameters(self, PARAMETERS)
        kw = {n: self.get_parameter(n).value for n in _CONFIG_PARAMS}
        kw["min_on_frames"], kw["min_off_frames"] = int(kw["min_on_frames"]), int(kw["min_off_frames"])
        self.config = ContactConfig(**{k: (float(v) if not k.startswith("min_") else v) for k, v in kw.items()})
        self.hand_offset = float(self.get_parameter("body_joint_hand_offset_m").value)
        if not 0.0 <= self.hand_offset <= 0.1:
            raise ValueError("body_joint_hand_offset_m must be in [0, 0.1]")
        size = [float(x) for x in self.get_parameter("fallback_object_size_m").value]
        if len(size) != 3 or not all(0.01 <= s <= 5.0 for s in size):
            raise ValueError("fallback_object_size_m must be 3 sizes in [0.01, 5] m")
        self.fallback_size = np.array(size)
        up = np.array([float(x) for x in self.get_parameter("up_axis").value])
        if up.shape != (3,):
            raise ValueError("up_axis must have 3 values")
        self.up = up if np.linalg.norm(up) > 0 else None
        self.object_max_age_ns = int(float(self.get_parameter("object_max_age_s").value) * 1e9)
        self.hand_max_age_ns = int(float(self.get_parameter("hand_max_age_s").value) * 1e9)
        if self.object_max_age_ns <= 0 or self.hand_max_age_ns < 0:
            raise ValueError("object_max_age_s must be > 0 and hand_max_age_s >= 0")
        self.mesh_map: dict[str, str] = {}
        meshes_yaml = str(self.get_parameter("object_meshes").value)
        self.mesh_dir: Path | None = None
        if meshes_yaml:
            path = Path(meshes_yaml)
            if not path.is_file():
                raise FileNotFoundError(f"object_meshes: {path} does not exist")
            data = yaml.safe_load(path.read_text()) or {}
            if not isinstance(data, dict):
                raise ValueError(f"object_meshes: {path} must map object names to mesh files")
            self.mesh_map = {str(k).lower(): str(v) for k, v in data.items()}
            self.mesh_dir = path.parent
        self.estimator = GeometricContactEstimator(self.config)
        self.static_tf = TfBuffer()
        self.surfaces: dict[str, ObjectSurface] = {}
        self.bad_input: Counter[str] = Counter()
        self.hands: deque[Any] = deque(maxlen=20)
        self.objects: deque[Any] = deque(maxlen=20)
        q = reliable_qos(10)
        self.hands_topic = str(self.get_parameter("hands_topic").value)
        self.objects_topic = str(self.get_parameter("objects_topic").value)
        self.create_subscription(Hand3DArray, self.hands_topic, lambda m: self._arrived(self.hands, m), q)
        self.create_subscription(ObjectPoseArray, self.objects_topic, lambda m: self._arrived(self.objects, m), q)
        # objects_hands answers a frame later than body_pose: a step may wait for the hands and objects of
        # its stamp instead of pairing the people with the previous frame's
        self.inputs_wait_s = float(self.get_parameter("inputs_wait_s").value)
        self.waiting: deque[tuple[float, Any]] = deque()
        self.wait_counts: Counter[str] = Counter()
        if self.inputs_wait_s > 0:
            steady_timer(self, min(0.05, self.inputs_wait_s / 2), self._release_waiting)
        self.extents: deque[Any] = deque(maxlen=20)
        extents_topic = str(self.get_parameter("extents_topic").value)
        if extents_topic:
            self.create_subscription(ObjectExtentArray, extents_topic, lambda m: self.extents.append(m), q)
        self.surface_sources: Counter[str] = Counter()
        # created last: when a frame's hands/objects and its humans are ready in one wait, the executor
        # takes subscriptions in creation order, so the step sees this frame's hands, not the last one's
        self.create_subscription(HumanPose3DArray, str(self.get_parameter("humans_topic").value), self.on_humans, q)

        self.create_subscription(TFMessage, "/tf_static", self.on_tf_static, TF_STATIC_LISTENER_QOS)
        self.pub_states = self.create_publisher(HoiStateArray, "~/hoi_states", q)
        self.pub_contacts = self.create_publisher(ContactSetArray, "~/contacts", q)
        self.pub_events = self.create_publisher(GraspEventArray, "~/grasp_events", reliable_qos(100))
        self.pub_markers = self.create_publisher(MarkerArray, "~/markers", q)
        self.monitor = RateMonitor()
        self.frames = 0
        self.events = 0
        self.latency_ms: list[float] = []
        self.diag = DiagnosticsPublisher(self)
        self.diag.add("contacts", self.status)
        self.get_logger().info(f"geometric contacts; humans {self.get_parameter('humans_topic').value}, hands "
                               f"{self.get_parameter('hands_topic').value}, objects {self.get_parameter('objects_topic').value}")

    # ------------------------------------------------------------------------------------------
    def status(self) -> tuple[bytes, str, dict[str, object]]:
        values: dict[str, object] = {"frames": self.frames, "grasp_events": self.events,
                                     "active_contacts": len(self.estimator.active_contacts()),
                                     "latency_ms_mean": float(np.mean(self.latency_ms[-50:])) if self.latency_ms else 0.0}
        values.update({f"bad_input.{k}": v for k, v in self.bad_input.items()})
        values.update({f"inputs_wait.{k}": v for k, v in self.wait_counts.items()})
        # object surfaces used, by source: mesh:<file>, box-measured, box-extent (the fixed fallback)
        values.update({f"object_surface.{k}": v for k, v in self.surface_sources.items()})
        n_bad = sum(self.bad_input.values())
        return (WARN if n_bad else OK), f"{self.frames} frames, {n_bad} bad inputs", values

    def bad(self, reason: str, detail: str) -> None:
        self.bad_input[reason] += 1
        self.monitor.errors += 1
        self.get_logger().warning(f"bad input ({reason}): {detail} ({self.bad_input[reason]} so far)",
                                  throttle_duration_sec=2.0)

    def on_tf_static(self, msg: TFMessage) -> None:
        for t in msg.transforms:
            try:
                add_transform(self.static_tf, t, static=True)
            except ValueError as e:
                self.bad("tf_static", str(e))

    def _to_frame(self, frame: str, other: str) -> np.ndarray | None:
        if frame == other:
            return np.eye(4)
        return lookup_or_none(self.static_tf, frame, other)

    def _measured_size(self, obj: Any, objects_stamp: Any) -> np.ndarray | None:
        """The box objects_hands measured for ``obj`` (same stamp as its ObjectPoseArray)."""
        for m in reversed(self.extents):
            if m.header.stamp == objects_stamp:
                for e in m.extents:
                    if int(e.track_id) == int(obj.track_id):
                        size = np.array([e.size.x, e.size.y, e.size.z], dtype=np.float64)
                        if np.all(np.isfinite(size)) and np.all(size > 0) and np.all(size < 10.0):
                            return np.maximum(size, 0.02)
                        self.bad("extent", f"object {obj.track_id}: measured size {size.tolist()}")
                        return None
                return None
        return None

    def _surface(self, obj: Any, objects_stamp: Any = None) -> ObjectSurface | None:
        uri = str(obj.mesh_resource)
        name = str(obj.object_name).lower()
        size = None
        if not uri and name not in self.mesh_map and objects_stamp is not None:
            size = self._measured_size(obj, objects_stamp)
        if size is not None:
            # rounded to 2 cm so a track's jittering box does not rebuild its surface every frame
            q = tuple(np.round(size / 0.02).astype(int).tolist())
            key = f"measured:{q}"
            surf = self.surfaces.get(key)
            if surf is None:
                if len(self.surfaces) > 512:  # bounded: a long run sees many sizes
                    self.surfaces.clear()
                box = np.array(q, dtype=np.float64) * 0.02
                # exact distances (closed form); samples only name contact points, so 1/25 of the longest
                # side is enough (a table at 1 cm would be ~45k samples, ~0.1 s to build in the callback)
                surf = surface_from_box(box, spacing_m=max(0.01, float(box.max()) / 25), source="box-measured",
                                        exact=True)
                self.surfaces[key] = surf
            self.surface_sources["box-measured"] += 1
            return surf
        key = uri or f"name:{name}"
        surf = self.surfaces.get(key)
        if surf is not None:
            self.surface_sources[surf.source] += 1
            return surf
        path = None
        if uri:
            path = resolve_mesh_uri(uri)
        elif name in self.mesh_map:
            path = resolve_mesh_uri(self.mesh_map[name], [self.mesh_dir] if self.mesh_dir else None)
        try:
            if path is not None:
                v, f = load_mesh(path)
                surf = surface_from_mesh(v, f, f"mesh:{path.name}")
            else:
                surf = surface_from_box(self.fallback_size)
        except (ValueError, FileNotFoundError) as e:
            self.bad("mesh", f"{key}: {e}; using the fallback box")
            surf = surface_from_box(self.fallback_size)
        self.surfaces[key] = surf
        self.surface_sources[surf.source] += 1
        return surf

    def _nearest(self, buf: deque[Any], stamp: int, max_age_ns: int) -> Any:
        best = min(buf, key=lambda m: abs(ns_from_stamp(m.header.stamp) - stamp), default=None)
        if best is None or abs(ns_from_stamp(best.header.stamp) - stamp) > max_age_ns:
            return None
        return best

    def _arrived(self, buf: deque[Any], msg: Any) -> None:
        buf.append(msg)
        if self.waiting:
            self._release_waiting()

    def on_humans(self, msg: HumanPose3DArray) -> None:
        if self.inputs_wait_s <= 0:
            self.step(msg)
            return
        self.waiting.append((time.monotonic(), msg))
        if len(self.waiting) > 100:  # bounded: the oldest goes with what there is
            self.wait_counts["overflow"] += 1
            self.step(self.waiting.popleft()[1])
        self._release_waiting()

    def _release_waiting(self) -> None:
        """Step the held humans messages, in order, once their stamp's hands and objects are in
        (or the wait is over: counted as inputs_wait_timeouts)."""
        now = time.monotonic()
        awaited = [buf for buf, topic in ((self.hands, self.hands_topic), (self.objects, self.objects_topic))
                   if self.count_publishers(topic) > 0]
        while self.waiting:
            t0, msg = self.waiting[0]
            stamp = ns_from_stamp(msg.header.stamp)
            ready = all(self._nearest(buf, stamp, 1_000_000) is not None for buf in awaited)  # same stamp, 1 ms
            if not ready and now - t0 < self.inputs_wait_s:
                return
            self.wait_counts["complete" if ready else "timeouts"] += 1
            self.waiting.popleft()
            self.step(msg)

    def step(self, msg: HumanPose3DArray) -> None:
        t0 = time.perf_counter()
        self.monitor.tick()
        stamp = ns_from_stamp(msg.header.stamp)
        frame = str(msg.header.frame_id)
        hands_msg = self._nearest(self.hands, stamp, self.hand_max_age_ns)
        hands_by_person: dict[tuple[int, int], HandInput] = {}
        if hands_msg is not None:
            t = self._to_frame(frame, str(hands_msg.header.frame_id))
            if t is None:
                self.bad("frame", f"no /tf_static from {hands_msg.header.frame_id} to {frame} for hands")
            else:
                for h in hands_msg.hands:
                    k = points_from_msgs(h.keypoints)
                    if k.shape != (21, 3) or not np.all(np.isfinite(k)) or int(h.handedness) not in (LEFT, RIGHT):
                        self.bad("hand", f"hand of person {h.person_track_id}: {k.shape} keypoints, handedness "
                                         f"{h.handedness}")
                        continue
                    hands_by_person[(int(h.person_track_id), int(h.handedness))] = HandInput(
                        k @ t[:3, :3].T + t[:3, 3], str(h.source))
        people = []
        body_sources: dict[int, str] = {}
        for h in msg.humans:
            j = points_from_msgs(h.joints)
            tid = int(h.track_id)
            if j.shape != (NUM_JOINTS, 3) or not np.all(np.isfinite(j)):
                self.bad("human", f"person {tid}: {j.shape} joints (need {NUM_JOINTS} finite, skeleton "
                                  f"{h.skeleton!r})")
                continue
            hands = {}
            for side in (LEFT, RIGHT):
                if (tid, side) in hands_by_person:
                    hands[side] = hands_by_person[(tid, side)]
                elif self.get_parameter("hands_from_body_joints").value:
                    hands[side] = HandInput(hand_from_body_joints(j, side), BODY_JOINTS_SOURCE, self.hand_offset)
            body = capsule_body_from_joints(j, up=self.up)
            people.append(PersonInput(tid, j, hands, body.vertices, hand_part_of_vertices(body.vertex_part),
                                      BODY_MODEL_NAME, str(h.source)))
            body_sources[tid] = str(h.source)
        objs_msg = self._nearest(self.objects, stamp, self.object_max_age_ns)
        objects, poses = [], {}
        if objs_msg is not None:
            t = self._to_frame(frame, str(objs_msg.header.frame_id))
            if t is None:
                self.bad("frame", f"no /tf_static from {objs_msg.header.frame_id} to {frame} for objects")
            else:
                for o in objs_msg.objects:
                    m = matrix_from_pose(o.pose)
                    if not np.all(np.isfinite(m)) or abs(np.linalg.det(m[:3, :3]) - 1.0) > 1e-3:
                        self.bad("object", f"object {o.track_id}: invalid pose")
                        continue
                    surf = self._surface(o, objs_msg.header.stamp)
                    objects.append(ObjectInput.from_pose(int(o.track_id), str(o.object_name), t @ m, surf,
                                                         str(o.source)))
                    o_frame = type(o)()
                    o_frame.header = msg.header
                    o_frame.track_id, o_frame.object_name, o_frame.mesh_resource = o.track_id, o.object_name, o.mesh_resource
                    from hoi_perception.ros.conversions import pose_from_matrix

                    o_frame.pose = pose_from_matrix(t @ m)
                    o_frame.score, o_frame.source = o.score, o.source
                    poses[int(o.track_id)] = o_frame
        result = self.estimator.update(stamp, people, objects)
        header = msg.header
        states = HoiStateArray(header=header)
        states.states = [hoi_state_msg(pair, header, poses.get(pair.object_track_id), body_sources.get(hid, ""), SOURCE)
                         for hid, pair in sorted(result.state_per_person().items())]
        self.pub_states.publish(states)
        contacts = ContactSetArray(header=header)
        contacts.contacts = [contact_set_msg(pair, header, SOURCE) for pair in result.pairs if pair.interacting]
        self.pub_contacts.publish(contacts)
        if result.events:
            ev = GraspEventArray(header=header)
            ev.events = [grasp_event_msg(e, frame, SOURCE) for e in result.events]
            self.pub_events.publish(ev)
            self.events += len(result.events)
            for e in result.events:
                self.get_logger().info(f"grasp {'START' if e.start else 'END'}: person {e.human_track_id} "
                                       f"{'left' if e.hand == LEFT else 'right'} hand, object {e.object_track_id} "
                                       f"({e.object_name}) at {e.stamp_ns} ns")
        self.pub_markers.publish(contact_markers(header, [p for p in result.pairs if p.interacting or
                                                          p.hand_probability.max() > 0.05]))
        self.frames += 1
        self.latency_ms.append((time.perf_counter() - t0) * 1e3)

    def summary(self) -> str:
        lat = np.array(self.latency_ms) if self.latency_ms else np.zeros(1)
        return (f"contacts summary: {self.frames} frames, {self.events} grasp events, latency p50 "
                f"{np.percentile(lat, 50):.1f} ms, p90 {np.percentile(lat, 90):.1f} ms; bad inputs: "
                f"{dict(self.bad_input) or 'none'}; object surfaces: {dict(self.surface_sources) or 'none'}"
                + (f"; inputs wait: {dict(self.wait_counts) or 'none'}, {len(self.waiting)} held at stop (no state "
                   f"published)" if self.inputs_wait_s > 0 else ""))


def main(argv: list[str] | None = None) -> int:
    return run_node(ContactsNode, "contacts", lambda node: node.summary(), argv)


if __name__ == "__main__":
    sys.exit(main())
