"""InteractVLM node: Render-Localize-Lift contacts on keyframes, asynchronously.

A slow model never blocks the per-frame path: the node keeps only the latest
``humans_topic`` and ``objects_topic`` messages; on a keyframe (every
``keyframe_period_s``, and whenever a std_msgs/Empty arrives on
``~/request``) it hands a snapshot to one worker thread. A keyframe that
arrives while the worker is busy is skipped and counted (the next one uses
fresher data). Per person, the nearest object within ``max_object_distance_m``
of a hand is evaluated.

Publishes ``~/contacts`` hoi_msgs/ContactSetArray (stamped with the keyframe's
humans stamp; ``source`` names the engine, "stand-in:proximity-painter" when
no MV-Loc model is configured; ``body_model`` names the body mesh) and
/diagnostics with the render / engine / lift split of the last keyframe. The
geometric ``contacts`` node stays the published default; this one is an
additional, slower opinion.

Body mesh: ``body_model_path`` (an SMPL/SMPL-X .npz; a .pkl only with
``allow_pickle_body_model``) or the project's capsule body. The stand-in
needs the capsule body (it paints the posed body's proximity contacts onto
the canonical body's renders, which share vertex indices).
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rclpy.node import Node
from std_msgs.msg import Empty

from hoi_msgs.msg import ContactSet, ContactSetArray, HumanPose3DArray, ObjectPoseArray
from hoi_perception.contacts.body_mesh import BODY_MODEL_NAME, capsule_body_from_joints
from hoi_perception.contacts.hands import LEFT, RIGHT, hand_from_body_joints
from hoi_perception.contacts.surfaces import load_mesh, resolve_mesh_uri
from hoi_perception.engine.factory import BACKENDS
from hoi_perception.interactvlm.body_models import load_body_model
from hoi_perception.interactvlm.pipeline import EmbeddingTable, ProximityPainterStandIn, RenderLocalizeLift
from hoi_perception.ros.conversions import matrix_from_pose, points_from_msgs, points_to_msgs
from hoi_perception.ros.diagnostics import OK, WARN, DiagnosticsPublisher
from hoi_perception.ros.node_main import run_node
from hoi_perception.ros.parameters import Param, declare_parameters
from hoi_perception.ros.qos import reliable_qos
from hoi_perception.ros.time import ns_from_stamp
from hoi_perception.skeleton.bodypose34 import NUM_JOINTS

PROXIMITY_M = 0.02  # stand-in contact distance (the scene's contact_distance_m)
STOP_WAIT_S = 2.0  # close(): how long a stopping node waits for the keyframe in flight

PARAMETERS = (
    Param("humans_topic", "/hoi/humans", "hoi_msgs/HumanPose3DArray topic of the humans"),
    Param("objects_topic", "/hoi/objects", "hoi_msgs/ObjectPoseArray topic of the objects"),
    Param("model_path", "", "MV-Loc ONNX model or TensorRT plan; empty: the STAND-IN proximity painter"),
    Param("engine", "auto", "engine backend for model_path", choices=BACKENDS),
    Param("embeddings_path", "", ".npz of <label>__hcon / <label>__ocon (256-d) from the VLM; empty: zeros"),
    Param("body_model_path", "", "SMPL/SMPL-X .npz (licensed, user-supplied); empty: the capsule body"),
    Param("allow_pickle_body_model", False, "a .pkl body model is read only when true (unpickling runs code)"),
    Param("object_meshes", "", "YAML file object_name -> mesh (.npz/.obj), for poses without mesh_resource"),
    Param("keyframe_period_s", 2.0, "seconds between keyframes; 0: only on request (std_msgs/Empty on ~/request)",
          0.0, 3600.0),
    Param("max_object_distance_m", 0.5, "objects farther than this from the body are not localized [m]",
          0.0, 10.0),
    Param("up_axis", [0.0, 0.0, 0.0], "the frame's vertical for the capsule body; zeros: the body's own"),
)


class InteractVlmNode(Node):
    def __init__(self) -> None:
        super().__init__("interactvlm")
        declare_parameters(self, PARAMETERS)
        period = float(self.get_parameter("keyframe_period_s").value)
        if not 0.0 <= period <= 3600.0:
            raise ValueError("keyframe_period_s must be in [0, 3600] (0 = only on request)")
        self.max_dist = float(self.get_parameter("max_object_distance_m").value)
        if not 0.0 < self.max_dist <= 5.0:
            raise ValueError("max_object_distance_m must be in (0, 5]")
        up = np.array([float(x) for x in self.get_parameter("up_axis").value])
        self.up = up if up.shape == (3,) and np.linalg.norm(up) > 0 else None
        self.body = load_body_model(str(self.get_parameter("body_model_path").value),
                                    bool(self.get_parameter("allow_pickle_body_model").value))
        model_path = str(self.get_parameter("model_path").value)
        if model_path:
            if not Path(model_path).is_file():
                raise FileNotFoundError(f"model_path {model_path} does not exist (engines/README.md)")
            from hoi_perception.engine import create_engine, load_contract

            engine = create_engine(model_path, load_contract("interactvlm_mvloc"),
                                   backend=str(self.get_parameter("engine").value))
        else:
            if self.body.model != BODY_MODEL_NAME:
                raise ValueError("the stand-in engine (no model_path) needs the capsule body: leave body_model_path "
                                 "empty or configure an MV-Loc model")
            engine = ProximityPainterStandIn()
        self.standin = engine if isinstance(engine, ProximityPainterStandIn) else None
        self.pipeline = RenderLocalizeLift(engine, self.body, EmbeddingTable(str(self.get_parameter("embeddings_path").value)))
        self.mesh_map: dict[str, str] = {}
        self.mesh_dir: Path | None = None
        meshes_yaml = str(self.get_parameter("object_meshes").value)
        if meshes_yaml:
            path = Path(meshes_yaml)
            if not path.is_file():
                raise FileNotFoundError(f"object_meshes: {path} does not exist")
            self.mesh_map = {str(k).lower(): str(v) for k, v in (yaml.safe_load(path.read_text()) or {}).items()}
            self.mesh_dir = path.parent
        self.meshes: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
        self.latest_humans: Any = None
        self.latest_objects: Any = None
        self.busy = threading.Lock()
        self.worker: threading.Thread | None = None
        self.keyframes = 0
        self.skipped_busy = 0
        self.stopped_in_flight = 0  # keyframes not published because the node was stopped meanwhile
        self.abandoned = False  # close() stopped waiting for the keyframe in flight
        self.bad_input: Counter[str] = Counter()
        self.timings: list[dict[str, float]] = []
        q = reliable_qos(10)
        self.create_subscription(HumanPose3DArray, str(self.get_parameter("humans_topic").value), self._on_humans, q)
        self.create_subscription(ObjectPoseArray, str(self.get_parameter("objects_topic").value), self._on_objects, q)
        self.create_subscription(Empty, "~/request", lambda _m: self.trigger(), q)
        self.pub = self.create_publisher(ContactSetArray, "~/contacts", q)
        if period > 0:
            self.create_timer(period, self.trigger)
        self.diag = DiagnosticsPublisher(self)
        self.diag.add("keyframes", self.status)
        prefix = "STAND-IN " if engine.is_stand_in else ""
        self.get_logger().info(f"{prefix}InteractVLM Render-Localize-Lift: engine {self.pipeline.source}, body mesh "
                               f"{self.body.model} ({len(self.body.vertices)} vertices), keyframe period {period} s")

    def _on_humans(self, msg: HumanPose3DArray) -> None:
        self.latest_humans = msg

    def _on_objects(self, msg: ObjectPoseArray) -> None:
        self.latest_objects = msg

    def status(self) -> tuple[bytes, str, dict[str, object]]:
        values: dict[str, object] = {"keyframes": self.keyframes, "skipped_busy": self.skipped_busy,
                                     "engine": self.pipeline.source, "body_model": self.body.model}
        if self.timings:
            for k, v in self.timings[-1].items():
                values[f"last_{k}_ms"] = v
        values.update({f"bad_input.{k}": v for k, v in self.bad_input.items()})
        return (WARN if self.bad_input else OK), f"{self.keyframes} keyframes ({self.pipeline.source})", values

    def trigger(self) -> None:
        """Start a keyframe on the worker unless one is running (never blocks the executor)."""
        if self.latest_humans is None or self.latest_objects is None:
            return
        if not self.busy.acquire(blocking=False):
            self.skipped_busy += 1
            return
        snapshot = (self.latest_humans, self.latest_objects)
        self.worker = threading.Thread(target=self._keyframe, args=snapshot, daemon=True)
        self.worker.start()

    def _mesh(self, obj: Any) -> tuple[np.ndarray, np.ndarray] | None:
        uri = str(obj.mesh_resource)
        name = str(obj.object_name).lower()
        key = uri or f"name:{name}"
        if key not in self.meshes:
            path = resolve_mesh_uri(uri) if uri else (
                resolve_mesh_uri(self.mesh_map[name], [self.mesh_dir] if self.mesh_dir else None)
                if name in self.mesh_map else None)
            try:
                self.meshes[key] = load_mesh(path) if path is not None else None
            except (ValueError, FileNotFoundError) as e:
                self.bad_input["mesh"] += 1
                self.get_logger().warning(f"object mesh {key}: {e}", throttle_duration_sec=2.0)
                self.meshes[key] = None
        return self.meshes[key]

    def _keyframe(self, humans: Any, objects: Any) -> None:
        try:
            if str(humans.header.frame_id) != str(objects.header.frame_id):
                self.bad_input["frame"] += 1
                self.get_logger().warning(f"humans in {humans.header.frame_id}, objects in {objects.header.frame_id}: "
                                          "keyframe skipped", throttle_duration_sec=2.0)
                return
            out = ContactSetArray(header=humans.header)
            for h in humans.humans:
                j = points_from_msgs(h.joints)
                if j.shape != (NUM_JOINTS, 3) or not np.all(np.isfinite(j)):
                    self.bad_input["human"] += 1
                    continue
                cs = self._person(h, j, objects, humans.header)
                if cs is not None:
                    out.contacts.append(cs)
            self.pub.publish(out)
            self.keyframes += 1
        except Exception as e:  # a failing keyframe must not kill the node
            if not self.context.ok():  # stopped while this keyframe was in flight: not a fault of the keyframe
                if not self.abandoned:
                    self.stopped_in_flight += 1
                return
            self.bad_input["keyframe_error"] += 1
            self.get_logger().error(f"keyframe failed: {e!r}")
        finally:
            self.busy.release()

    def _person(self, h: Any, joints: np.ndarray, objects: Any, header: Any) -> ContactSet | None:
        hands = np.concatenate([hand_from_body_joints(joints, s) for s in (LEFT, RIGHT)])
        best = None
        for o in objects.objects:
            mesh = self._mesh(o)
            if mesh is None:
                continue
            t = matrix_from_pose(o.pose)
            v = mesh[0] @ t[:3, :3].T + t[:3, 3]
            d = float(np.min(np.linalg.norm(v[::max(1, len(v) // 2000), None, :] - hands[None], axis=2)))
            if d <= self.max_dist and (best is None or d < best[0]):
                best = (d, o, mesh, v)
        if best is None:
            return None
        _, o, (v_obj, f_obj), v_posed = best
        posed = capsule_body_from_joints(joints, up=self.up) if self.body.model == BODY_MODEL_NAME else None

        def paint(bv: Any, ov: Any) -> None:
            if self.standin is None or posed is None:
                return
            from scipy.spatial import cKDTree

            body_c = (cKDTree(v_posed).query(posed.vertices)[0] <= PROXIMITY_M).astype(float)
            obj_c = (cKDTree(posed.vertices).query(v_posed)[0] <= PROXIMITY_M).astype(float)
            self.standin.set_keyframe(bv, ov, body_c, obj_c)

        key = str(o.mesh_resource) or f"name:{str(o.object_name).lower()}"
        r = self.pipeline.run(key, str(o.object_name), v_obj, f_obj, before_engine=paint)
        self.timings.append(r.timings_ms)
        self.get_logger().info(f"keyframe {ns_from_stamp(header.stamp)}: person {h.track_id}, object {o.track_id}: "
                               f"{len(r.body_vertices)} body / {len(r.object_vertices)} object contact vertices; "
                               + ", ".join(f"{k} {v:.0f} ms" for k, v in r.timings_ms.items()))
        body_pts = posed.vertices[r.body_vertices] if posed is not None else np.zeros((0, 3))
        return ContactSet(header=header, human_track_id=int(h.track_id), object_track_id=int(o.track_id),
                          object_label=str(o.object_name).lower(), body_model=r.body_model,
                          body_vertex_indices=r.body_vertices.astype(np.int32),
                          body_vertex_scores=r.body_scores[r.body_vertices].astype(np.float32),
                          body_points=points_to_msgs(body_pts),
                          object_vertex_indices=r.object_vertices.astype(np.int32),
                          object_vertex_scores=r.object_scores[r.object_vertices].astype(np.float32),
                          object_points=points_to_msgs(v_posed[r.object_vertices]),
                          source=f"{r.source}; embeddings: {r.embeddings}")

    def close(self) -> None:
        """Wait for a keyframe in flight while its output can still be published. Once the context is
        shut down (the node is being stopped) it cannot be: wait only STOP_WAIT_S, so the stop ends well
        within a launcher's SIGINT -> SIGTERM escalation (5 s) even while a slow render runs."""
        if self.worker is None:
            return
        self.worker.join(timeout=30.0 if self.context.ok() else STOP_WAIT_S)
        if self.worker.is_alive():  # abandoned (a daemon thread): counted as not published
            self.abandoned = True
            self.stopped_in_flight += 1

    def summary(self) -> str:
        parts = []
        if self.timings:
            for k in self.timings[-1]:
                vals = [t[k] for t in self.timings]
                parts.append(f"{k} p50 {np.percentile(vals, 50):.0f} ms (first {vals[0]:.0f} ms)")
        return (f"interactvlm summary: engine {self.pipeline.source}, body mesh {self.body.model}; {self.keyframes} "
                f"keyframes, {self.skipped_busy} skipped while busy, {self.stopped_in_flight} not published (stopped "
                f"while in flight); {'; '.join(parts) or 'no timings'}; bad inputs: {dict(self.bad_input) or 'none'}")


def main(argv: list[str] | None = None) -> int:
    return run_node(InteractVlmNode, "interactvlm", lambda node: node.summary(), argv)


if __name__ == "__main__":
    sys.exit(main())
