"""One camera's objects-and-hands step, ROS-free: detections -> hands ->
people mask -> per-object points -> 6DoF pose (OBB, or mesh registration) ->
3D tracks. The objects_hands node is a thin shell around ``process``.

People come in as 2D skeletons (34-joint joints_2d with confidence, and the
person's track id), from the body_pose node's HumanPose3DArray or from a
BlazePose run inside the node. Hands are seeded from them; the people's
skeletons and hand keypoints mask their pixels out of every object's points.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from hoi_perception.hands.estimator import HandEstimator, HandResult, seeds_from_joints
from hoi_perception.objects.detector import ObjectDetection, ObjectDetector
from hoi_perception.objects.held_proposals import HandPoints, HeldObjectConfig, held_object_proposals
from hoi_perception.objects.pose import ObbPose, box_symmetries, obb_pose
from hoi_perception.objects.registration import MeshModel, MeshRegistrar
from hoi_perception.objects.segmentation import person_mask_from_joints, segment_object
from hoi_perception.objects.tracker import ObjectObservation, ObjectTracker


@dataclass
class PersonInput:
    track_id: int
    joints_2d: NDArray[np.float64]  # (34, 2) pixels
    confidence: NDArray[np.float64]  # (34,)


@dataclass
class ObjectEstimate:
    track_id: int
    hoi_class: str
    label: str  # detector class
    cam_from_object: NDArray[np.float64]  # 4x4, camera optical frame
    size: NDArray[np.float64]  # (3,) metres along the object axes
    score: float
    method: str  # "obb", "obb-gravity", "mesh:<backend>"
    box: tuple[float, float, float, float]
    num_points: int
    mesh_path: str = ""
    registration_inliers: float = float("nan")


@dataclass
class FrameResult:
    objects: list[ObjectEstimate]
    hands: list[HandResult]
    detections: list[ObjectDetection]
    timings_ms: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> detections without a pose


def _hand_points(people: list[PersonInput], hands: list[HandResult]) -> list[HandPoints]:
    """Each hand once: its 21 keypoints where the hand model ran, else the skeleton's wrist and knuckles."""
    out = [HandPoints(hr.keypoints_2d, hr.person_track_id, hr.side) for hr in hands]
    have = {(hr.person_track_id, hr.side) for hr in hands}
    for p in people:
        for s in seeds_from_joints(p.joints_2d, p.confidence, p.track_id):
            if (p.track_id, s.side) not in have:
                pts = [s.wrist, s.index, s.pinky] + ([s.thumb] if s.thumb is not None else [])
                out.append(HandPoints(np.asarray(pts, dtype=np.float64), p.track_id, s.side))
    return out


def _pose4(r: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = r, t
    return m


class ObjectsHandsPipeline:
    def __init__(self, detector: ObjectDetector | None, hands: HandEstimator | None = None,
                 meshes: dict[str, MeshModel] | None = None, registrar: MeshRegistrar | None = None,
                 tracker: ObjectTracker | None = None, min_points: int = 30, max_points: int = 6000,
                 min_registration_inliers: float = 0.5, skip_classes: tuple[str, ...] = ("person",),
                 accept_inliers: float = 0.8, held_objects: HeldObjectConfig | None = None) -> None:
        """``held_objects``: also propose class-agnostic objects held in a hand from depth
        (objects/held_proposals.py); None: detector boxes only."""
        self.detector = detector
        self.held_objects = held_objects
        self.hands = hands
        self.meshes = dict(meshes or {})
        self.registrar = registrar or MeshRegistrar()
        self.tracker = tracker or ObjectTracker()
        self.min_points, self.max_points = min_points, max_points
        self.min_registration_inliers = min_registration_inliers
        self.accept_inliers = accept_inliers
        self.skip_classes = set(skip_classes)
        self._prev_world: dict[int, NDArray[np.float64]] = {}  # track id -> world_from_object (mesh poses)
        self.counters: dict[str, int] = {"frames": 0, "detections": 0, "objects": 0, "hands": 0, "mesh_poses": 0,
                                         "obb_poses": 0, "bad_input": 0, "held_proposals": 0}

    def process(self, rgb: NDArray[np.uint8], depth: NDArray[np.float32] | None, k: NDArray[np.float64],
                stamp_s: float, people: list[PersonInput] | None = None,
                world_from_cam: NDArray[np.float64] | None = None,
                external_tracks: list[tuple[int, str, NDArray[np.float64]]] | None = None,
                detections: list[ObjectDetection] | None = None) -> FrameResult:
        """One frame. ``world_from_cam`` (4x4) gives gravity (world +z) and a fixed tracking frame;
        ``external_tracks`` are Sparse4D's (id, class, world position); ``detections`` replaces the
        detector (evaluation with given boxes)."""
        self.counters["frames"] += 1
        tm: dict[str, float] = {}
        h, w = rgb.shape[:2]
        people = people or []
        t0 = time.perf_counter()
        if detections is None:
            detections = self.detector.detect(rgb) if self.detector is not None else []
        tm["detect"] = (time.perf_counter() - t0) * 1e3
        self.counters["detections"] += len(detections)

        t0 = time.perf_counter()
        hands: list[HandResult] = []
        if self.hands is not None and people:
            seeds = [s for p in people for s in seeds_from_joints(p.joints_2d, p.confidence, p.track_id)]
            hands = self.hands.estimate(rgb, k, seeds, depth)
        tm["hands"] = (time.perf_counter() - t0) * 1e3
        self.counters["hands"] += len(hands)

        skipped: dict[str, int] = {}
        estimates: list[tuple[ObjectDetection, NDArray[np.float64], NDArray[np.float64], float, str, int, str, float]] = []
        tm["segment"] = tm["pose"] = tm["register"] = 0.0
        held = self.held_objects is not None and depth is not None and bool(people or hands)
        if depth is not None and (detections or held):
            t0 = time.perf_counter()
            pmask = person_mask_from_joints((h, w), [(p.joints_2d, p.confidence) for p in people],
                                            [hr.keypoints_2d for hr in hands]) if (people or hands) else None
            tm["segment"] += (time.perf_counter() - t0) * 1e3
            if held:
                t0 = time.perf_counter()
                proposals, _why = held_object_proposals(depth, k, (w, h), _hand_points(people, hands), pmask,
                                                        detections, self.held_objects)
                tm["held"] = (time.perf_counter() - t0) * 1e3
                self.counters["held_proposals"] += len(proposals)
                detections = [*detections, *proposals]
            up = world_from_cam[:3, :3].T @ np.array([0.0, 0.0, 1.0]) if world_from_cam is not None else None
            for det in detections:
                if det.hoi_class is None or det.hoi_class in self.skip_classes:
                    continue
                t0 = time.perf_counter()
                seg = segment_object(depth, k, det.box, pmask, (w, h), max_points=self.max_points,
                                     min_points=self.min_points, up=up)
                tm["segment"] += (time.perf_counter() - t0) * 1e3
                if seg.reason != "ok":
                    skipped[seg.reason] = skipped.get(seg.reason, 0) + 1
                    continue
                t0 = time.perf_counter()
                obb: ObbPose = obb_pose(seg.points, up)
                tm["pose"] += (time.perf_counter() - t0) * 1e3
                pose = _pose4(obb.rotation, obb.position)
                method = "obb-gravity" if obb.gravity_aligned else "obb"
                size, inl, mesh_path = obb.size, float("nan"), ""
                score = det.score * min(1.0, len(seg.points) / (4.0 * self.min_points))
                mesh = self.meshes.get(det.hoi_class)
                if mesh is not None:
                    t0 = time.perf_counter()
                    prev, inits = self._inits(obb, mesh, det.hoi_class, world_from_cam)
                    reg = self.registrar.register(mesh, seg.points, prev + inits, n_preferred=len(prev),
                                                  accept_inliers=self.accept_inliers)
                    tm["register"] += (time.perf_counter() - t0) * 1e3
                    if reg is not None and reg.inlier_fraction >= self.min_registration_inliers:
                        pose, method, size = reg.cam_from_object, f"mesh:{self.registrar.backend}", mesh.extents
                        inl, mesh_path = reg.inlier_fraction, mesh.path
                        score = det.score * reg.inlier_fraction
                        self.counters["mesh_poses"] += 1
                    else:
                        skipped["registration_rejected"] = skipped.get("registration_rejected", 0) + 1
                if not method.startswith("mesh"):
                    self.counters["obb_poses"] += 1
                estimates.append((det, pose, size, score, method, len(seg.points), mesh_path, inl))

        t0 = time.perf_counter()
        to_track = world_from_cam if world_from_cam is not None else np.eye(4)
        obs = []
        for e in estimates:
            det, pose, size, score, method = e[0], e[1], e[2], e[3], e[4]
            wp = to_track @ pose
            obs.append(ObjectObservation(det.hoi_class or det.label, wp[:3, 3], wp[:3, :3], np.asarray(size), score,
                                         method, payload=e))
        tracks = self.tracker.update(stamp_s, obs, external_tracks)
        cam_from_track = np.linalg.inv(to_track)
        out = []
        for t in tracks:
            det, _pose, _size, score, method, npts, mesh_path, inl = t.payload  # type: ignore[misc]
            wp = _pose4(t.rotation, t.position)
            cp = cam_from_track @ wp
            out.append(ObjectEstimate(t.track_id, t.hoi_class, det.label, cp, t.size.copy(), score, method, det.box,
                                      npts, mesh_path, inl))
            if method.startswith("mesh"):
                self._prev_world[t.track_id] = wp
        live = {t.track_id for t in self.tracker.tracks}
        self._prev_world = {k_: v for k_, v in self._prev_world.items() if k_ in live}
        tm["track"] = (time.perf_counter() - t0) * 1e3
        tm["total"] = sum(tm.values())
        self.counters["objects"] += len(out)
        return FrameResult(out, hands, detections, tm, skipped)

    def _inits(self, obb: ObbPose, mesh: MeshModel, cls: str,
               world_from_cam: NDArray[np.float64] | None) -> tuple[list[NDArray[np.float64]],
                                                                    list[NDArray[np.float64]]]:
        """Initial cam_from_object poses, previous frames' first: previous mesh poses of live tracks of
        this class, then the OBB (centred on the OBB centre, with its box symmetries, and with
        90 deg yaw turns when the mesh's footprint axes could be swapped)."""
        prev = []
        if world_from_cam is not None:
            cam_from_world = np.linalg.inv(world_from_cam)
            for tid, wp in self._prev_world.items():
                t = next((x for x in self.tracker.tracks if x.track_id == tid), None)
                if t is not None and t.hoi_class == cls:
                    prev.append(cam_from_world @ wp)
        inits = []
        rz = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        syms = box_symmetries() if not obb.gravity_aligned else [np.eye(3), np.diag([-1.0, -1.0, 1.0])]
        for s in syms:
            for turn in (np.eye(3), rz):
                r = obb.rotation @ s @ turn
                # visible surface only: the centre lies behind the OBB centre by part of the hidden depth
                inits.append(_pose4(r, obb.centre))
        return prev, inits
