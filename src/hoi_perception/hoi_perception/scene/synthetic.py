"""The synthetic HOI scene: configuration, per-frame state, rendering, stamps and ground truth.

Actors and track ids (instance ids in renders are track ids, 0 = floor/background):

====  ========================  ==========================================================
id    class                     what
====  ========================  ==========================================================
1     Person                    the interacting human (34-joint skeleton, capsule body)
2     Person                    a second person walking a circle
3     Nova_Carter               Nova Carter-like AMR (boxes + cylinders) driving a circle
4     Forklift                  forklift-like (boxes + cylinders) shuttling along a line
5     Fourier_GR1_T2_Humanoid   1.65 m humanoid (same skeleton, robot colours) walking a circle
11    Box                       the carried cardboard box (not an MTMC class)
12    Bin                       a cylindrical bin (not an MTMC class)
13    Table                     table the box starts on (not an MTMC class)
14    Table                     table the box is put on (not an MTMC class)
====  ========================  ==========================================================

3D boxes use the OV world convention of the Sparse4D card: centre at the
box centroid in the world (z up), w along the object's x axis (its heading),
l along its y axis, h along z, yaw about world +z; see ground_truth.py.

Determinism: everything is a function of (config, frame index, camera). The
seed changes the other actors' start positions and speeds, the stamp jitter
and the dropped frames; the interaction script and the camera rig are fixed.

Timing: frame i is the state at ``time_s(i) = i / fps``; renders and ground
truth are at that nominal time. ``stamp_ns(i, camera)`` adds a per-camera
constant offset plus per-frame jitter (bounded by ``jitter_max_ms``, so stamps
stay monotone) to ``epoch_ns + time``; a dropped frame gives None (the image
can still be rendered, a bag writer just skips it).

Visibility rules (per camera, from the full-resolution z-buffer):

* box visibility = visible pixels of the instance / pixels its primitives
  cover when others are ignored (within the image; truncation at the image
  border is not counted as occlusion); 0 when it covers no pixel;
* a joint is visible when it projects inside the image in front of the camera
  and the surface at its (nearest) pixel is either the human itself no more
  than ``joint_self_occlusion_m`` in front of the joint (the joint lies inside
  its own body, and a limb further in front hides it) or anything no more
  than 2 cm in front of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hoi_perception.geometry.camera import PinholeCamera
from hoi_perception.scene import hoi_script as hs
from hoi_perception.scene.actors import (
    CircleTrajectory,
    RigidActor,
    ShuttleTrajectory,
    WalkingActor,
    body_primitives,
    forklift_parts,
    nova_carter_parts,
    pose_xy_yaw,
)
from hoi_perception.scene.body import CAPSULE_NAMES, HAND_CAPSULES, BodyState, HumanBody
from hoi_perception.scene.ground_truth import (
    BIN_CLASS,
    BOX_CLASS,
    TABLE_CLASS,
    Box3D,
    FrameGroundTruth,
    HandContact,
    ObjectState,
)
from hoi_perception.scene.locomotion import CirclePath
from hoi_perception.scene.meshes import (
    box_mesh,
    box_signed_distance,
    cylinder_mesh,
    merge_meshes,
    point_segment_distance,
)
from hoi_perception.scene.primitives import Cylinder, OrientedBox, Primitive, material
from hoi_perception.scene.raycast import FloorSpec, RenderedView, render_view
from hoi_perception.scene.rig import (
    SCENE_CENTRE,
    ZED_CAMERA_NAME,
    static_ring_cameras,
    zed_left_camera,
    zed_world_from_camera_link,
)

HUMAN_TRACK_ID = 1
WALKER_TRACK_ID = 2
CARTER_TRACK_ID = 3
FORKLIFT_TRACK_ID = 4
HUMANOID_TRACK_ID = 5
BOX_TRACK_ID = 11
BIN_TRACK_ID = 12
TABLE_A_TRACK_ID = 13
TABLE_B_TRACK_ID = 14

_OTHER_OCCLUDER_TOLERANCE_M = 0.02
_VELOCITY_DT_S = 0.01
_TABLE_TOP_M = 0.04
_TABLE_LEG_M = 0.05


def _chord(centre: NDArray[np.float64], radius: float, angle: float, half_length: float
           ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """End points of a segment tangent to a circle at ``angle`` (keeps a shuttling vehicle off the inner circles)."""
    p = centre + radius * np.array([math.cos(angle), math.sin(angle)])
    tangent = np.array([-math.sin(angle), math.cos(angle)])
    return p - half_length * tangent, p + half_length * tangent


@dataclass(frozen=True)
class SceneConfig:
    """Scene parameters. Image sizes in pixels, times in seconds unless the name says otherwise;
    ``jitter_*_ms`` bound the stamp noise, ``drop_probability`` drops (camera, frame) stamps;
    ``joint_self_occlusion_m`` and ``contact_distance_m`` set the visibility and contact rules."""

    seed: int = 0
    num_static_cameras: int = 4          # cam_00 .. cam_{N-1}, 0..30
    width: int = 640                     # static cameras
    height: int = 360
    zed_width: int = 640
    zed_height: int = 360
    fps: float = 10.0
    duration_s: float = 12.0
    epoch_ns: int = 1_700_000_000 * 1_000_000_000
    jitter_std_ms: float = 1.0           # per-frame stamp jitter (normal, clipped)
    jitter_max_ms: float = 4.0           # bound on |offset + jitter| per camera
    drop_probability: float = 0.0        # per camera and frame
    ring_radius_m: float = 8.5
    ring_height_m: float = 4.0
    floor_half_extent_m: float = 11.0
    joint_self_occlusion_m: float = 0.15
    contact_distance_m: float = 0.02
    extra_cameras: tuple[PinholeCamera, ...] = ()  # appended after the rig (e.g. a test camera)

    def __post_init__(self) -> None:
        if not 0 <= self.num_static_cameras <= 30:
            raise ValueError("num_static_cameras must be in 0..30")
        if self.fps <= 0 or self.duration_s <= 0:
            raise ValueError("fps and duration_s must be positive")
        if not 0.0 <= self.drop_probability <= 1.0:
            raise ValueError("drop_probability must be in [0, 1]")
        if 2 * self.jitter_max_ms * 1e-3 >= 1.0 / self.fps:
            raise ValueError("jitter_max_ms must be below half a frame period (stamps must stay monotone)")
        if self.epoch_ns <= 0:
            raise ValueError("epoch_ns must be positive")


@dataclass
class _WorldState:
    t: float
    hoi_state: BodyState
    hoi_sample: hs.HoiSample
    walkers: dict[int, BodyState]
    rigid: dict[int, NDArray[np.float64]]       # track id -> world_from_actor
    objects: dict[int, NDArray[np.float64]]     # track id -> world_from_object


class SyntheticScene:
    """Deterministic synthetic HOI scene (see the module docstring for actors, conventions and rules)."""

    def __init__(self, config: SceneConfig | None = None) -> None:
        self.config = cfg = config or SceneConfig()
        self.fps = float(cfg.fps)
        self.num_frames = int(round(cfg.duration_s * cfg.fps))
        self.duration_s = cfg.duration_s
        rng = np.random.default_rng([cfg.seed, 0])

        cams = [zed_left_camera(cfg.zed_width, cfg.zed_height)]
        cams += static_ring_cameras(cfg.num_static_cameras, cfg.width, cfg.height, cfg.ring_radius_m, cfg.ring_height_m)
        cams += list(cfg.extra_cameras)
        if len({c.name for c in cams}) != len(cams):
            raise ValueError("camera names must be unique")
        self.cameras: dict[str, PinholeCamera] = {c.name: c for c in cams}
        self.camera_names: tuple[str, ...] = tuple(self.cameras)
        self.floor = FloorSpec(half_extent=cfg.floor_half_extent_m)

        self.body = HumanBody(1.75)
        self.script = hs.HoiScript(self.body, cfg.duration_s)
        centre = SCENE_CENTRE[:2]
        self.walkers: dict[int, WalkingActor] = {
            WALKER_TRACK_ID: WalkingActor(
                WALKER_TRACK_ID, "Person", HumanBody(1.72),
                CirclePath(centre, 4.1, float(rng.uniform(0, 2 * np.pi)), counter_clockwise=True),
                float(rng.uniform(1.1, 1.3)),
                {"shirt": "shirt_red", "pants": "pants_khaki", "skin": "skin", "head": "hair", "shoes": "shoes"}),
            HUMANOID_TRACK_ID: WalkingActor(
                HUMANOID_TRACK_ID, "Fourier_GR1_T2_Humanoid", HumanBody(1.65),
                CirclePath(centre, 5.0, float(rng.uniform(0, 2 * np.pi)), counter_clockwise=False),
                float(rng.uniform(0.6, 0.8)),
                {"shirt": "robot_white", "pants": "robot_grey", "skin": "robot_grey", "head": "robot_black",
                 "shoes": "robot_black"}, stride_m=0.9),
        }
        self.rigid_actors: dict[int, RigidActor] = {
            CARTER_TRACK_ID: RigidActor(
                CARTER_TRACK_ID, "Nova_Carter", nova_carter_parts(),
                CircleTrajectory(centre, 2.85, float(rng.uniform(0.7, 0.9)), float(rng.uniform(0, 2 * np.pi)),
                                 counter_clockwise=False)),
            FORKLIFT_TRACK_ID: RigidActor(
                FORKLIFT_TRACK_ID, "Forklift", forklift_parts(),
                ShuttleTrajectory(*_chord(centre, 6.2, math.radians(245.0), 2.6), float(rng.uniform(14.0, 18.0)),
                                  float(rng.uniform(0, 1)))),
        }
        self._hoi_materials = {"shirt": "shirt_blue", "pants": "pants_dark", "skin": "skin", "head": "hair",
                               "shoes": "shoes"}

        # object meshes (object frame at the centroid)
        self._box_mesh = box_mesh(hs.BOX_SIZE)
        self._bin_mesh = cylinder_mesh(hs.BIN_RADIUS_M, hs.BIN_HEIGHT_M)
        self._tables: dict[int, tuple[NDArray[np.float64], NDArray[np.float64], list[OrientedBox]]] = {}
        for tid, centre_xy, size in ((TABLE_A_TRACK_ID, hs.TABLE_A_CENTRE_XY, hs.TABLE_A_SIZE),
                                     (TABLE_B_TRACK_ID, hs.TABLE_B_CENTRE_XY, hs.TABLE_B_SIZE)):
            self._tables[tid] = self._make_table(tid, centre_xy, size)
        self._bin_pose = pose_xy_yaw(hs.BIN_CENTRE_XY[0], hs.BIN_CENTRE_XY[1], hs.BIN_HEIGHT_M / 2, 0.0)

        # stamps: per camera, independent of how many cameras there are
        self._stamp_offsets_ns: dict[str, NDArray[np.int64]] = {}
        self._dropped: dict[str, NDArray[np.bool_]] = {}
        for ci, name in enumerate(self.camera_names):
            jr = np.random.default_rng([cfg.seed, 1, ci])
            const = jr.uniform(-0.5, 0.5) * cfg.jitter_max_ms
            jitter = np.clip(const + jr.normal(0.0, cfg.jitter_std_ms, self.num_frames),
                             -cfg.jitter_max_ms, cfg.jitter_max_ms)
            self._stamp_offsets_ns[name] = np.round(jitter * 1e6).astype(np.int64)
            dr = np.random.default_rng([cfg.seed, 2, ci])
            self._dropped[name] = dr.random(self.num_frames) < cfg.drop_probability

        self._state_cache: dict[int, _WorldState] = {}
        self._view_cache: dict[tuple[int, str], RenderedView] = {}

    # ------------------------------------------------------------------ time
    def time_s(self, i: int) -> float:
        return i / self.fps

    def stamp_ns(self, i: int, camera: str) -> int | None:
        """Capture stamp of frame ``i`` of ``camera`` in ns (epoch + nominal time + jitter), None if dropped."""
        self._check_frame(i)
        if self._dropped[camera][i]:
            return None
        return int(self.config.epoch_ns + round(i * 1e9 / self.fps) + int(self._stamp_offsets_ns[camera][i]))

    @property
    def zed_world_from_camera_link(self) -> NDArray[np.float64]:
        return zed_world_from_camera_link()

    @property
    def zed_camera_name(self) -> str:
        return ZED_CAMERA_NAME

    @property
    def num_body_vertices(self) -> int:
        return self.body.num_vertices

    @property
    def body_vertex_parts(self) -> tuple[str, ...]:
        """Body part (capsule) name of every body vertex."""
        return tuple(CAPSULE_NAMES[p] for p in self.body.vertex_part)

    def _check_frame(self, i: int) -> None:
        if not 0 <= i < self.num_frames:
            raise IndexError(f"frame {i} outside 0..{self.num_frames - 1}")

    # ----------------------------------------------------------------- state
    def _make_table(self, tid: int, centre_xy: NDArray[np.float64], size: NDArray[np.float64]
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64], list[OrientedBox]]:
        """Table = top + four legs; object frame at the centroid of its bounding box."""
        h = hs.TABLE_HEIGHT_M
        world_from_object = pose_xy_yaw(centre_xy[0], centre_xy[1], h / 2, 0.0)
        parts = [(np.array([size[0], size[1], _TABLE_TOP_M]), np.array([0.0, 0.0, h / 2 - _TABLE_TOP_M / 2]))]
        leg_h = h - _TABLE_TOP_M
        for sx in (-1, 1):
            for sy in (-1, 1):
                parts.append((np.array([_TABLE_LEG_M, _TABLE_LEG_M, leg_h]),
                              np.array([sx * (size[0] / 2 - 0.06), sy * (size[1] / 2 - 0.06), -h / 2 + leg_h / 2])))
        meshes, prims = [], []
        for part_size, offset in parts:
            v, f = box_mesh(part_size, max_edge=0.1)
            t = np.eye(4)
            t[:3, 3] = offset
            meshes.append((v, f, t))
            prims.append(OrientedBox(world_from_object @ t, part_size / 2, material("wood"), tid))
        verts, faces = merge_meshes(meshes)
        return verts, faces, prims

    def _world_state(self, t: float) -> _WorldState:
        sample = self.script.sample(t)
        return _WorldState(
            t=t,
            hoi_state=self.body.solve(sample.drive),
            hoi_sample=sample,
            walkers={tid: a.state(t) for tid, a in self.walkers.items()},
            rigid={tid: a.world_from_actor(t) for tid, a in self.rigid_actors.items()},
            objects={BOX_TRACK_ID: sample.world_from_box, BIN_TRACK_ID: self._bin_pose,
                     **{tid: pose_xy_yaw(*self._table_centre(tid), 0.0) for tid in self._tables}},
        )

    def _table_centre(self, tid: int) -> tuple[float, float, float]:
        xy = hs.TABLE_A_CENTRE_XY if tid == TABLE_A_TRACK_ID else hs.TABLE_B_CENTRE_XY
        return float(xy[0]), float(xy[1]), hs.TABLE_HEIGHT_M / 2

    def _frame_state(self, i: int) -> _WorldState:
        self._check_frame(i)
        st = self._state_cache.get(i)
        if st is None:
            if len(self._state_cache) > 8:
                self._state_cache.clear()
            st = self._state_cache[i] = self._world_state(self.time_s(i))
        return st

    def body_capsules(self, i: int) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Body surface of the interacting human at frame ``i``: capsule ends a, b (C, 3) and radii (C,),
        in the order of ``body.CAPSULE_NAMES``."""
        return self.body.capsule_segments(self._frame_state(i).hoi_state)

    def primitives(self, i: int) -> list[Primitive]:
        """All render primitives of frame ``i`` (world frame)."""
        st = self._frame_state(i)
        prims: list[Primitive] = body_primitives(self.body, st.hoi_state, self._hoi_materials, HUMAN_TRACK_ID)
        for tid, bs in st.walkers.items():
            walker = self.walkers[tid]
            prims += body_primitives(walker.body, bs, walker.materials, tid)
        for tid, pose in st.rigid.items():
            prims += self.rigid_actors[tid].primitives(pose)
        prims.append(OrientedBox(st.objects[BOX_TRACK_ID], hs.BOX_SIZE / 2, material("cardboard"), BOX_TRACK_ID))
        prims.append(Cylinder(self._bin_pose, hs.BIN_RADIUS_M, hs.BIN_HEIGHT_M / 2, material("bin_green"),
                              BIN_TRACK_ID))
        for _, _, table_prims in self._tables.values():
            prims += table_prims
        return prims

    # ---------------------------------------------------------------- render
    def render(self, i: int, camera: str) -> RenderedView:
        """Render frame ``i`` for ``camera``. Views of the most recent frame are cached (ground_truth()
        renders every camera for visibility), so the arrays are read-only."""
        key = (i, camera)
        view = self._view_cache.get(key)
        if view is None:
            if any(k[0] != i for k in self._view_cache):
                self._view_cache = {k: v for k, v in self._view_cache.items() if k[0] == i}
            view = render_view(self.cameras[camera], self.primitives(i), self.floor)
            for arr in (view.rgb, view.depth, view.instance_ids):
                arr.flags.writeable = False  # shared through the cache: copy before drawing on it
            self._view_cache[key] = view
        return view

    # ---------------------------------------------------------- ground truth
    def _boxes(self, st: _WorldState) -> list[Box3D]:
        """Boxes (without velocity/visibility) of every actor and object at a world state."""
        out = []
        centre, size, yaw = self.body.box_extents(st.hoi_state)
        out.append(Box3D(HUMAN_TRACK_ID, "Person", *centre, *size, yaw))
        for tid, bs in st.walkers.items():
            centre, size, yaw = self.walkers[tid].body.box_extents(bs)
            out.append(Box3D(tid, self.walkers[tid].class_name, *centre, *size, yaw))
        for tid, pose in st.rigid.items():
            actor = self.rigid_actors[tid]
            c = pose[:3, :3] @ actor.box_centre_local + pose[:3, 3]
            out.append(Box3D(tid, actor.class_name, *c, *actor.box_size, math.atan2(pose[1, 0], pose[0, 0])))
        for tid, pose in st.objects.items():
            if tid == BOX_TRACK_ID:
                size, cls = hs.BOX_SIZE, BOX_CLASS
            elif tid == BIN_TRACK_ID:
                size, cls = np.array([2 * hs.BIN_RADIUS_M, 2 * hs.BIN_RADIUS_M, hs.BIN_HEIGHT_M]), BIN_CLASS
            else:
                xy = hs.TABLE_A_SIZE if tid == TABLE_A_TRACK_ID else hs.TABLE_B_SIZE
                size, cls = np.array([xy[0], xy[1], hs.TABLE_HEIGHT_M]), TABLE_CLASS
            out.append(Box3D(tid, cls, *pose[:3, 3], *size, math.atan2(pose[1, 0], pose[0, 0])))
        return out

    def _objects(self, st: _WorldState) -> list[ObjectState]:
        objs = [ObjectState(BOX_TRACK_ID, BOX_CLASS, st.objects[BOX_TRACK_ID].copy(), *self._box_mesh),
                ObjectState(BIN_TRACK_ID, BIN_CLASS, st.objects[BIN_TRACK_ID].copy(), *self._bin_mesh)]
        for tid, (v, f, _) in self._tables.items():
            objs.append(ObjectState(tid, TABLE_CLASS, st.objects[tid].copy(), v, f))
        return objs

    def _contacts(self, st: _WorldState, body_vertices: NDArray[np.float64]
                  ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(body vertex indices near the box surface, box vertex indices near the grasping hands)."""
        left, right = st.hoi_sample.contact
        empty = np.zeros(0, dtype=np.int64)
        if not (left or right):
            return empty, empty
        tol = self.config.contact_distance_m
        box_pose = st.objects[BOX_TRACK_ID]
        local = (body_vertices - box_pose[:3, 3]) @ box_pose[:3, :3]
        body_idx = np.flatnonzero(np.abs(box_signed_distance(local, hs.BOX_SIZE)) <= tol)
        sides = [s for s, c in (("left", left), ("right", right)) if c]
        caps = [CAPSULE_NAMES.index(n) for s in sides for n in HAND_CAPSULES[s]]
        a, b, r = self.body.capsule_segments(st.hoi_state)
        box_verts = self._box_mesh[0] @ box_pose[:3, :3].T + box_pose[:3, 3]
        dist = point_segment_distance(box_verts, a[caps], b[caps]) - r[caps][None, :]
        obj_idx = np.flatnonzero(dist.min(axis=1) <= tol)
        return body_idx.astype(np.int64), obj_idx.astype(np.int64)

    def _joint_visibility(self, joints: NDArray[np.float64], view: RenderedView, camera: PinholeCamera
                          ) -> NDArray[np.bool_]:
        uv, z = camera.project(joints)
        vis = np.zeros(len(joints), dtype=np.bool_)
        ok = (z > 0.05) & np.all(np.isfinite(uv), axis=1)
        col = np.floor(np.where(ok, uv[:, 0], -1)).astype(np.int64)
        row = np.floor(np.where(ok, uv[:, 1], -1)).astype(np.int64)
        ok &= (col >= 0) & (col < camera.width) & (row >= 0) & (row < camera.height)
        idx = np.flatnonzero(ok)
        d = view.depth[row[idx], col[idx]].astype(np.float64)
        owner = view.instance_ids[row[idx], col[idx]]
        self_ok = (owner == HUMAN_TRACK_ID) & (d >= z[idx] - self.config.joint_self_occlusion_m)
        other_ok = ~np.isfinite(d) | (d >= z[idx] - _OTHER_OCCLUDER_TOLERANCE_M)
        vis[idx] = self_ok | other_ok
        return vis

    def ground_truth(self, i: int, with_visibility: bool = True) -> FrameGroundTruth:
        """Ground truth of frame ``i``. ``with_visibility`` renders every camera (cached) for joint
        and box visibility; without it those dicts are empty (fast kinematics-only ground truth)."""
        st = self._frame_state(i)
        t = st.t
        boxes = self._boxes(st)
        before = self._boxes(self._world_state(t - _VELOCITY_DT_S))
        after = self._boxes(self._world_state(t + _VELOCITY_DT_S))
        for b, b0, b1 in zip(boxes, before, after, strict=True):
            b.velocity = (b1.center - b0.center) / (2 * _VELOCITY_DT_S)
        joints = st.hoi_state.joints.copy()
        joint_vis: dict[str, NDArray[np.bool_]] = {}
        if with_visibility:
            for name, cam in self.cameras.items():
                view = self.render(i, name)
                joint_vis[name] = self._joint_visibility(joints, view, cam)
                counts = np.bincount(view.instance_ids.ravel())
                for b in boxes:
                    full = view.silhouette_pixels.get(b.track_id, 0)
                    seen = int(counts[b.track_id]) if b.track_id < counts.size else 0
                    b.visibility[name] = seen / full if full > 0 else 0.0
        body_vertices = self.body.vertices(st.hoi_state)
        body_idx, obj_idx = self._contacts(st, body_vertices)
        left, right = st.hoi_sample.contact
        return FrameGroundTruth(
            frame_index=i,
            time_s=t,
            human_track_id=HUMAN_TRACK_ID,
            joints_world=joints,
            joint_visibility=joint_vis,
            world_from_pelvis=st.hoi_state.world_from_pelvis.copy(),
            body_vertices_world=body_vertices,
            objects=self._objects(st),
            hand_contact=HandContact(left, right),
            grasped_object_id=BOX_TRACK_ID if (left or right) else None,
            body_contact_vertices=body_idx,
            object_contact_vertices=obj_idx,
            boxes=boxes,
            other_humans={tid: bs.joints.copy() for tid, bs in st.walkers.items()},
        )
