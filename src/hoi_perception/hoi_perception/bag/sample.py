"""Sample bag: the synthetic HOI scene (hoi_perception.scene) as a rosbag2 MCAP bag.

    python -m hoi_perception.bag.sample --out data/sample_bag --seconds 6 --cameras 4

Topics (names as zed-ros2-wrapper and the stack's defaults, docs/ARCHITECTURE.md):

=====================================================  ================================  =======================
topic                                                  type                              content
=====================================================  ================================  =======================
/zed/zed_node/left/image_rect_color                    sensor_msgs/Image                 bgra8
/zed/zed_node/depth/depth_registered                   sensor_msgs/Image                 32FC1 metres, NaN = none
/zed/zed_node/left/camera_info                         sensor_msgs/CameraInfo            plumb_bob, D = 0
/cameras/cam_XX/image_raw, /cameras/cam_XX/camera_info  sensor_msgs/Image, CameraInfo     rgb8
/tf_static                                             tf2_msgs/TFMessage                one message, first
/ground_truth/humans                                   hoi_msgs/HumanPose3DArray         world frame
/ground_truth/objects                                  hoi_msgs/ObjectPoseArray          world frame
/ground_truth/hoi                                      hoi_msgs/HoiStateArray            hand contact labels
/ground_truth/contacts                                 hoi_msgs/ContactSetArray          body/object vertices
/ground_truth/tracks                                   hoi_msgs/TrackedObject3DArray     every actor and object
=====================================================  ================================  =======================

Time: camera messages carry the scene's capture stamps (per-camera offset and
jitter); a dropped frame is not written. Ground truth is stamped at the
nominal frame time (``epoch + i / fps``), the instant it describes. Every
message's log (record) time equals its header stamp, so a replay with /clock
reproduces the recording exactly. /clock itself is not recorded (the player
publishes it).

/tf_static (one TFMessage, at the bag's first instant): ``world`` -> each
camera's optical frame, and the ZED chain of zed-ros2-wrapper's URDF
(zed_macro.urdf.xacro, ZED 2i values): ``zed_camera_link`` ->
``zed_camera_center`` (+h/2 up) -> ``zed_left_camera_frame`` (optical offset
-0.01 m, +baseline/2 left) -> ``zed_left_camera_optical_frame`` (rpy
-pi/2, 0, -pi/2). The scene renders the left image from a camera pitched
down at the interaction; the bag keeps the wrapper's rigid joints and places
``world -> zed_camera_link`` so that the optical frame is exactly the
rendering camera (the link is therefore pitched with it, as a tilted
ZED would be; it differs from the scene's level ``zed_world_from_camera_link``
by that pitch and the few centimetres of the joint offsets).

Ground truth notes:

* HoiState.smpl: the synthetic human is a capsule body, not SMPL, so the SMPL
  fields (gender, pose_6d, betas, translation) are zero/empty; only
  ``smpl.track_id`` is set (the human's track id). Hand contact labels are
  exact (1.0/0.0 probabilities). One state per frame: the interacting human
  and the carried box.
* ContactSet: ``body_model`` "hoi_capsules" (vertex indices into the scene's
  capsule-body vertex list), written only while a hand grasps the box.
* /ground_truth/humans: the Person-class skeletons (the interacting human and
  the walker); the humanoid robot is only in /ground_truth/tracks.
* TrackedObject3D: class_id is the MTMC 2025 class index, -1 for classes
  outside it (Box, Bin, Table); visible_cameras lists the cameras with a
  visible fraction > 0.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception import paths
from hoi_perception.bag.io import LATCHED_QOS, BagReader, BagWriter, is_complete_bag
from hoi_perception.bag.typestore import default_typestore

ZED_NS = "/zed/zed_node"
TOPIC_ZED_IMAGE = f"{ZED_NS}/left/image_rect_color"
TOPIC_ZED_DEPTH = f"{ZED_NS}/depth/depth_registered"
TOPIC_ZED_INFO = f"{ZED_NS}/left/camera_info"
TOPIC_TF_STATIC = "/tf_static"
TOPIC_GT_HUMANS = "/ground_truth/humans"
TOPIC_GT_OBJECTS = "/ground_truth/objects"
TOPIC_GT_HOI = "/ground_truth/hoi"
TOPIC_GT_CONTACTS = "/ground_truth/contacts"
TOPIC_GT_TRACKS = "/ground_truth/tracks"
GROUND_TRUTH_SOURCE = "ground-truth"
WORLD_FRAME = "world"
SKELETON = "bodypose3dnet_34"
BODY_MODEL = "hoi_capsules"

# zed-ros2-wrapper frame names (zed_wrapper/urdf/zed_macro.urdf.xacro with name=zed).
ZED_CAMERA_LINK = "zed_camera_link"
ZED_CAMERA_CENTER = "zed_camera_center"
ZED_LEFT_CAMERA_FRAME = "zed_left_camera_frame"
ZED_LEFT_OPTICAL_FRAME = "zed_left_camera_optical_frame"
# ZED 2i joint values of that URDF: half height, optical offset x, baseline.
ZED2I_HEIGHT_M = 0.03
ZED2I_OPTICAL_OFFSET_X_M = -0.01
ZED2I_BASELINE_M = 0.12

# Bump when the bag's content changes, so ensure_sample_bag regenerates old bags.
SAMPLE_FORMAT_VERSION = "1"
SAMPLE_BAG_NAME = "sample_bag"


def default_sample_dir() -> Path:
    """$HOI_SAMPLE_BAG, else ``sample_bag`` in the data folder (paths.data_dir():
    $HOI_DATA_DIR, which make sets to the checkout's data/, else the user cache)."""
    return Path(os.environ.get("HOI_SAMPLE_BAG") or paths.data_dir() / SAMPLE_BAG_NAME)


DEFAULT_SECONDS = 6.0
DEFAULT_CAMERAS = 4


def camera_image_topic(camera: str) -> str:
    return f"/cameras/{camera}/image_raw"


def camera_info_topic(camera: str) -> str:
    return f"/cameras/{camera}/camera_info"


@dataclass
class SampleBagInfo:
    """What generate_sample_bag wrote."""

    path: Path
    frames: int
    duration_s: float
    message_count: int
    size_bytes: int
    generation_s: float
    topics: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"{self.path}: {self.frames} frames, {self.duration_s:.3f} s of bag, {self.message_count} messages, "
            f"{self.size_bytes / 1e6:.1f} MB, generated in {self.generation_s:.1f} s"
        ]
        width = max((len(t) for t in self.topics), default=0)
        lines += [f"  {t:<{width}} {n:>6}" for t, n in sorted(self.topics.items())]
        return "\n".join(lines)


# ----------------------------------------------------------------- geometry


def _optical_from_camera_frame_rotation() -> NDArray[np.float64]:
    """Rotation of an optical frame in its camera frame (URDF rpy -pi/2, 0, -pi/2).

    Columns: optical x (right) = -y, optical y (down) = -z, optical z (forward) = +x.
    """
    return np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def zed_fixed_joints() -> list[tuple[str, str, NDArray[np.float64]]]:
    """The wrapper's fixed joints from zed_camera_link down to the left optical frame (ZED 2i values)."""
    link_from_center = np.eye(4)
    link_from_center[2, 3] = ZED2I_HEIGHT_M / 2
    center_from_left = np.eye(4)
    center_from_left[:3, 3] = [ZED2I_OPTICAL_OFFSET_X_M, ZED2I_BASELINE_M / 2, 0.0]
    left_from_optical = np.eye(4)
    left_from_optical[:3, :3] = _optical_from_camera_frame_rotation()
    return [
        (ZED_CAMERA_LINK, ZED_CAMERA_CENTER, link_from_center),
        (ZED_CAMERA_CENTER, ZED_LEFT_CAMERA_FRAME, center_from_left),
        (ZED_LEFT_CAMERA_FRAME, ZED_LEFT_OPTICAL_FRAME, left_from_optical),
    ]


def zed_tf_chain(world_from_optical: NDArray[np.float64]) -> list[tuple[str, str, NDArray[np.float64]]]:
    """(parent, child, parent_from_child) for world -> zed_camera_link and the fixed joints below it,
    with world -> zed_camera_link placed so that the left optical frame is ``world_from_optical``."""
    joints = zed_fixed_joints()
    link_from_optical = np.eye(4)
    for _, _, t in joints:
        link_from_optical = link_from_optical @ t
    world_from_link = world_from_optical @ np.linalg.inv(link_from_optical)
    return [(WORLD_FRAME, ZED_CAMERA_LINK, world_from_link), *joints]


def _quat_xyzw(r: NDArray[np.float64]) -> NDArray[np.float64]:
    from hoi_perception.geometry.rotations import matrix_to_quat

    return np.asarray(matrix_to_quat(r), dtype=np.float64)


# ----------------------------------------------------------------- messages


class _Msgs:
    """rosbags message constructors for the sample's types."""

    def __init__(self) -> None:
        self.ts = default_typestore()
        t = self.ts.types
        self.Time = t["builtin_interfaces/msg/Time"]
        self.Header = t["std_msgs/msg/Header"]
        self.Image = t["sensor_msgs/msg/Image"]
        self.CameraInfo = t["sensor_msgs/msg/CameraInfo"]
        self.RegionOfInterest = t["sensor_msgs/msg/RegionOfInterest"]
        self.Point = t["geometry_msgs/msg/Point"]
        self.Vector3 = t["geometry_msgs/msg/Vector3"]
        self.Quaternion = t["geometry_msgs/msg/Quaternion"]
        self.Pose = t["geometry_msgs/msg/Pose"]
        self.Transform = t["geometry_msgs/msg/Transform"]
        self.TransformStamped = t["geometry_msgs/msg/TransformStamped"]
        self.TFMessage = t["tf2_msgs/msg/TFMessage"]
        self.HumanPose3D = t["hoi_msgs/msg/HumanPose3D"]
        self.HumanPose3DArray = t["hoi_msgs/msg/HumanPose3DArray"]
        self.BoundingBox2D = t["hoi_msgs/msg/BoundingBox2D"]
        self.ObjectPose = t["hoi_msgs/msg/ObjectPose"]
        self.ObjectPoseArray = t["hoi_msgs/msg/ObjectPoseArray"]
        self.SmplParams = t["hoi_msgs/msg/SmplParams"]
        self.HoiState = t["hoi_msgs/msg/HoiState"]
        self.HoiStateArray = t["hoi_msgs/msg/HoiStateArray"]
        self.ContactSet = t["hoi_msgs/msg/ContactSet"]
        self.ContactSetArray = t["hoi_msgs/msg/ContactSetArray"]
        self.TrackedObject3D = t["hoi_msgs/msg/TrackedObject3D"]
        self.TrackedObject3DArray = t["hoi_msgs/msg/TrackedObject3DArray"]

    def header(self, stamp_ns: int, frame_id: str) -> Any:
        sec, nsec = divmod(int(stamp_ns), 1_000_000_000)
        return self.Header(stamp=self.Time(sec=sec, nanosec=nsec), frame_id=frame_id)

    def point(self, p: Any) -> Any:
        return self.Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))

    def vector3(self, v: Any) -> Any:
        return self.Vector3(x=float(v[0]), y=float(v[1]), z=float(v[2]))

    def quaternion(self, q: Any) -> Any:
        return self.Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3]))

    def pose(self, m: NDArray[np.float64]) -> Any:
        return self.Pose(position=self.point(m[:3, 3]), orientation=self.quaternion(_quat_xyzw(m[:3, :3])))

    def transform(self, parent: str, child: str, m: NDArray[np.float64], stamp_ns: int) -> Any:
        return self.TransformStamped(
            header=self.header(stamp_ns, parent),
            child_frame_id=child,
            transform=self.Transform(translation=self.vector3(m[:3, 3]),
                                     rotation=self.quaternion(_quat_xyzw(m[:3, :3]))),
        )

    def image(self, array: NDArray[Any], encoding: str, header: Any) -> Any:
        """Image from an array without per-pixel Python: the flat uint8 view becomes ``data``."""
        try:
            from hoi_perception.imaging.encodings import numpy_to_image
        except ImportError:  # pragma: no cover - imaging is part of the package; keep a direct path anyway
            numpy_to_image = None
        if numpy_to_image is not None:
            # ndarray data: rosbags serializes it directly (no copy into array.array).
            return numpy_to_image(array, encoding, factory=lambda **f: self.Image(header=header, **f),
                                  ndarray_data=True)
        a = np.ascontiguousarray(array)
        h, w = a.shape[:2]
        return self.Image(header=header, height=h, width=w, encoding=encoding, is_bigendian=0,
                          step=a.nbytes // h, data=a.reshape(-1).view(np.uint8))

    def camera_info(self, camera: Any, header: Any) -> Any:
        k = np.asarray(camera.k, dtype=np.float64)
        p = np.zeros((3, 4))
        p[:, :3] = k  # rectified monocular/left camera: P = [K | 0]
        d = np.asarray(camera.distortion, dtype=np.float64).reshape(-1)
        return self.CameraInfo(
            header=header, height=int(camera.height), width=int(camera.width), distortion_model="plumb_bob",
            d=d.copy(), k=k.reshape(-1).copy(), r=np.eye(3).reshape(-1), p=p.reshape(-1),
            binning_x=0, binning_y=0,
            roi=self.RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
        )


# ------------------------------------------------------------ ground truth


def _human_pose(m: _Msgs, header: Any, track_id: int, joints: NDArray[np.float64]) -> Any:
    n = len(joints)
    return m.HumanPose3D(
        header=header, track_id=int(track_id), skeleton=SKELETON,
        joints=[m.point(p) for p in joints],
        joint_confidence=np.ones(n, dtype=np.float32),
        joint_derived=np.zeros(0, dtype=np.bool_),
        joints_2d=[],  # world-frame ground truth: no single source image
        box_2d=m.BoundingBox2D(x_min=0.0, y_min=0.0, x_max=0.0, y_max=0.0),
        score=1.0, depth_used=False, source=GROUND_TRUTH_SOURCE,
    )


def _object_pose(m: _Msgs, header: Any, obj: Any) -> Any:
    return m.ObjectPose(header=header, track_id=int(obj.track_id), object_name=str(obj.name), mesh_resource="",
                        pose=m.pose(obj.world_from_object), score=1.0, source=GROUND_TRUTH_SOURCE)


def ground_truth_messages(m: _Msgs, gt: Any, stamp_ns: int, person_ids: Sequence[int],
                          interaction_object_id: int) -> dict[str, Any]:
    """rosbags messages of one frame's ground truth, by topic."""
    from hoi_perception.scene import MTMC_CLASSES

    header = m.header(stamp_ns, WORLD_FRAME)
    humans = [_human_pose(m, header, gt.human_track_id, gt.joints_world)]
    humans += [_human_pose(m, header, tid, j) for tid, j in sorted(gt.other_humans.items()) if tid in person_ids]

    objects = {o.track_id: o for o in gt.objects}
    object_poses = [_object_pose(m, header, o) for o in gt.objects]

    left, right = bool(gt.hand_contact.left), bool(gt.hand_contact.right)
    target_id = gt.grasped_object_id if gt.grasped_object_id is not None else interaction_object_id
    states = []
    if target_id in objects:
        smpl = m.SmplParams(track_id=int(gt.human_track_id), gender="", pose_6d=np.zeros(144, dtype=np.float32),
                            betas=np.zeros(10, dtype=np.float32), translation=m.vector3((0.0, 0.0, 0.0)))
        states.append(m.HoiState(
            header=header, smpl=smpl, object=_object_pose(m, header, objects[target_id]),
            left_hand_contact_prob=float(left), right_hand_contact_prob=float(right),
            left_hand_contact=left, right_hand_contact=right, human_track_id=int(gt.human_track_id),
            interacting=bool(left or right), body_source=GROUND_TRUTH_SOURCE, left_hand_source=GROUND_TRUTH_SOURCE,
            right_hand_source=GROUND_TRUTH_SOURCE, object_surface_source=f"scene-mesh:{str(objects[target_id].name).lower()}",
            source=GROUND_TRUTH_SOURCE,
        ))

    contacts = []
    if gt.grasped_object_id is not None and gt.grasped_object_id in objects:
        obj = objects[gt.grasped_object_id]
        bi = np.asarray(gt.body_contact_vertices, dtype=np.int32)
        oi = np.asarray(gt.object_contact_vertices, dtype=np.int32)
        obj_world = obj.vertices_world()
        contacts.append(m.ContactSet(
            header=header, human_track_id=int(gt.human_track_id), object_track_id=int(obj.track_id),
            object_label=str(obj.name).lower(), body_model=BODY_MODEL,
            body_vertex_indices=bi, body_vertex_scores=np.ones(len(bi), dtype=np.float32),
            body_points=[m.point(p) for p in gt.body_vertices_world[bi]],
            object_vertex_indices=oi, object_vertex_scores=np.ones(len(oi), dtype=np.float32),
            object_points=[m.point(p) for p in obj_world[oi]],
            source=GROUND_TRUTH_SOURCE,
        ))

    tracks = []
    for b in gt.boxes:
        vis = [(cam, float(v)) for cam, v in b.visibility.items() if v > 0]
        tracks.append(m.TrackedObject3D(
            track_id=int(b.track_id), local_track_id=int(b.track_id), class_label=str(b.class_name),
            class_id=MTMC_CLASSES.index(b.class_name) if b.class_name in MTMC_CLASSES else -1,
            score=1.0, class_score=1.0,
            pose=m.Pose(position=m.point(b.center),
                        orientation=m.Quaternion(x=0.0, y=0.0, z=math.sin(b.yaw / 2), w=math.cos(b.yaw / 2))),
            size=m.vector3((b.w, b.l, b.h)), velocity=m.vector3(b.velocity), camera_group="",
            visible_cameras=[c for c, _ in vis], visibility=np.array([v for _, v in vis], dtype=np.float32),
            instance_feature=np.zeros(0, dtype=np.float32),
        ))

    return {
        TOPIC_GT_HUMANS: m.HumanPose3DArray(header=header, humans=humans),
        TOPIC_GT_OBJECTS: m.ObjectPoseArray(header=header, objects=object_poses),
        TOPIC_GT_HOI: m.HoiStateArray(header=header, states=states),
        TOPIC_GT_CONTACTS: m.ContactSetArray(header=header, contacts=contacts),
        TOPIC_GT_TRACKS: m.TrackedObject3DArray(header=header, objects=tracks, source=GROUND_TRUTH_SOURCE),
    }


# --------------------------------------------------------------- generation


def _scene_config(scene_config: Any, seconds: float | None, cameras: int | None) -> Any:
    from hoi_perception.scene import SceneConfig

    cfg = scene_config if scene_config is not None else SceneConfig()
    changes: dict[str, Any] = {}
    if seconds is not None:
        changes["duration_s"] = float(seconds)
    if cameras is not None:
        changes["num_static_cameras"] = int(cameras)
    return replace(cfg, **changes) if changes else cfg


def generate_sample_bag(
    out_dir: Path | str,
    scene_config: Any = None,
    *,
    seconds: float | None = None,
    cameras: int | None = None,
    compress: bool = True,
    progress: bool = True,
    overwrite: bool = False,
) -> SampleBagInfo:
    """Write the synthetic scene as an MCAP bag at ``out_dir`` (a rosbag2 directory).

    ``scene_config``: a :class:`hoi_perception.scene.SceneConfig` (default
    one if None); ``seconds``/``cameras`` override its duration and number of
    static cameras. The bag is written into a temporary sibling directory and
    renamed into place when complete, so an interrupted run never leaves a
    bag that looks complete. ``overwrite`` replaces an existing ``out_dir``.
    """
    from hoi_perception.scene import SyntheticScene

    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} exists (pass overwrite=True to replace it)")
    cfg = _scene_config(scene_config, seconds, cameras)
    t_start = time.monotonic()
    scene = SyntheticScene(cfg)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(out_dir)
    work = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    tmp_bag = work / out_dir.name  # the .mcap is named after its directory: keep the final name
    try:
        _write_scene(scene, cfg, tmp_bag, compress=compress, progress=progress)
        if out_dir.exists():
            old = work / "old"
            out_dir.rename(old)
        try:
            tmp_bag.rename(out_dir)
        except OSError:
            # Another process finished the same bag first; keep theirs if it is complete.
            if not is_complete_bag(out_dir):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - t_start
    with BagReader(out_dir) as r:
        topics = {t: info.count for t, info in r.topics().items()}
        info = SampleBagInfo(
            path=out_dir, frames=scene.num_frames, duration_s=r.duration_ns / 1e9, message_count=r.message_count,
            size_bytes=sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file()), generation_s=elapsed,
            topics=topics,
        )
    return info


def _write_scene(scene: Any, cfg: Any, path: Path, *, compress: bool, progress: bool) -> None:
    m = _Msgs()
    zed = scene.zed_camera_name
    statics = [c for c in scene.camera_names if c != zed]
    epoch = int(cfg.epoch_ns)
    custom = {
        "hoi_sample_format": SAMPLE_FORMAT_VERSION,
        "hoi_sample_fingerprint": generator_fingerprint(),
        "generator": "hoi_perception.bag.sample",
        "scene_config": repr(cfg),
    }
    person_ids = {b.track_id for b in scene.ground_truth(0, with_visibility=False).boxes if b.class_name == "Person"}
    from hoi_perception.scene.synthetic import BOX_TRACK_ID

    def gt_stamp(i: int) -> int:
        return epoch + round(i * 1e9 / scene.fps)

    # /tf_static goes first: at the earliest stamp of frame 0 (camera offsets can be negative).
    first = min([gt_stamp(0)] + [s for c in scene.camera_names if (s := scene.stamp_ns(0, c)) is not None])

    with BagWriter(path, compress=compress, custom_data=custom) as w:
        w.add_topic(TOPIC_TF_STATIC, "tf2_msgs/msg/TFMessage", LATCHED_QOS)
        w.add_topic(TOPIC_ZED_IMAGE, "sensor_msgs/msg/Image")
        w.add_topic(TOPIC_ZED_DEPTH, "sensor_msgs/msg/Image")
        w.add_topic(TOPIC_ZED_INFO, "sensor_msgs/msg/CameraInfo")
        for c in statics:
            w.add_topic(camera_image_topic(c), "sensor_msgs/msg/Image")
            w.add_topic(camera_info_topic(c), "sensor_msgs/msg/CameraInfo")
        w.add_topic(TOPIC_GT_HUMANS, "hoi_msgs/msg/HumanPose3DArray")
        w.add_topic(TOPIC_GT_OBJECTS, "hoi_msgs/msg/ObjectPoseArray")
        w.add_topic(TOPIC_GT_HOI, "hoi_msgs/msg/HoiStateArray")
        w.add_topic(TOPIC_GT_CONTACTS, "hoi_msgs/msg/ContactSetArray")
        w.add_topic(TOPIC_GT_TRACKS, "hoi_msgs/msg/TrackedObject3DArray")

        transforms = [m.transform(WORLD_FRAME, scene.cameras[c].optical_frame, scene.cameras[c].world_from_camera,
                                  first) for c in statics]
        transforms += [m.transform(p, ch, t, first) for p, ch, t in zed_tf_chain(scene.cameras[zed].world_from_camera)]
        w.write(TOPIC_TF_STATIC, first, m.TFMessage(transforms=transforms))

        frames = range(scene.num_frames)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=scene.num_frames, desc=f"sample bag {path.name}", unit="frame", file=sys.stderr)
        written = 0
        try:
            for i in frames:
                batch: list[tuple[int, str, Any]] = []
                stamp = scene.stamp_ns(i, zed)
                if stamp is not None:
                    view = scene.render(i, zed)
                    h = m.header(stamp, ZED_LEFT_OPTICAL_FRAME)
                    bgra = cv2.cvtColor(view.rgb, cv2.COLOR_RGB2BGRA)
                    batch += [(stamp, TOPIC_ZED_IMAGE, m.image(bgra, "bgra8", h)),
                              (stamp, TOPIC_ZED_DEPTH, m.image(view.depth.astype(np.float32, copy=False), "32FC1", h)),
                              (stamp, TOPIC_ZED_INFO, m.camera_info(scene.cameras[zed], h))]
                for c in statics:
                    s = scene.stamp_ns(i, c)
                    if s is None:
                        continue
                    cam = scene.cameras[c]
                    h = m.header(s, cam.optical_frame)
                    batch += [(s, camera_image_topic(c), m.image(scene.render(i, c).rgb, "rgb8", h)),
                              (s, camera_info_topic(c), m.camera_info(cam, h))]
                gt = scene.ground_truth(i, with_visibility=True)
                g = gt_stamp(i)
                batch += [(g, topic, msg) for topic, msg in
                          ground_truth_messages(m, gt, g, sorted(person_ids), BOX_TRACK_ID).items()]
                # Time order within the frame (jitter keeps frames apart, see SceneConfig).
                batch.sort(key=lambda x: x[0])
                for t_ns, topic, msg in batch:
                    written += w.write(topic, t_ns, msg)
                if bar is not None:
                    bar.set_postfix_str(f"{written / 1e6:.0f} MB raw")
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()


def _remove_stale_partials(out_dir: Path) -> None:
    """Delete partial directories of generations whose process is gone (killed runs)."""
    for p in out_dir.parent.glob(f".{out_dir.name}.partial-*"):
        try:
            pid = int(p.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if pid == os.getpid() or not _pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def generator_fingerprint() -> str:
    """Hash of the code that determines a sample bag's content (this module and hoi_perception.scene),
    so a bag made by older code is regenerated instead of silently reused."""
    import hashlib

    import hoi_perception.scene as scene_pkg

    h = hashlib.sha256(SAMPLE_FORMAT_VERSION.encode())
    files = [Path(__file__), *sorted(Path(scene_pkg.__file__).parent.glob("*.py"))]
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def sample_bag_matches(path: Path | str) -> bool:
    """True if ``path`` is a complete bag written by this generator's current code."""
    path = Path(path)
    if not is_complete_bag(path):
        return False
    try:
        import yaml

        meta = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        return (meta.get("custom_data") or {}).get("hoi_sample_fingerprint") == generator_fingerprint()
    except Exception:  # noqa: BLE001 - unreadable metadata = regenerate
        return False


def ensure_sample_bag(path: Path | str | None = None, *, progress: bool = True, **kwargs: Any) -> Path:
    """The default sample bag (:func:`default_sample_dir`), generated on first use.

    A complete bag made by the current generator and scene code (see
    :func:`generator_fingerprint`) at ``path`` is reused as it is;
    otherwise it is (re)generated with :func:`generate_sample_bag` (``kwargs``
    go there; without a ``scene_config``: 6 s, 4 static cameras, seed 0).
    """
    path = Path(path) if path is not None else default_sample_dir()
    if sample_bag_matches(path):
        return path
    if kwargs.get("scene_config") is None:
        kwargs.setdefault("seconds", DEFAULT_SECONDS)
        kwargs.setdefault("cameras", DEFAULT_CAMERAS)
    info = generate_sample_bag(path, progress=progress, overwrite=True, **kwargs)
    if progress:
        print(info.summary(), file=sys.stderr)
    return info.path


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: write a sample bag; prints a summary. Exit 0 ok, 1 output exists, 2 bad arguments."""
    ap = argparse.ArgumentParser(prog="hoi-make-sample", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None,
                    help=f"bag directory to write (default {default_sample_dir()})")
    ap.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="scene duration (default %(default)s)")
    ap.add_argument("--cameras", type=int, default=DEFAULT_CAMERAS, help="static cameras, 0..30 (default %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fps", type=float, default=None, help="frame rate (default: the scene's)")
    ap.add_argument("--width", type=int, default=None, help="image width of every camera (default: the scene's)")
    ap.add_argument("--height", type=int, default=None, help="image height of every camera (default: the scene's)")
    ap.add_argument("--drop-probability", type=float, default=None, help="per camera and frame")
    ap.add_argument("--no-compress", action="store_true", help="no zstd chunk compression")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing bag")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)

    from hoi_perception.scene import SceneConfig

    fields: dict[str, Any] = {"seed": args.seed}
    if args.fps is not None:
        fields["fps"] = args.fps
    if args.width is not None:
        fields.update(width=args.width, zed_width=args.width)
    if args.height is not None:
        fields.update(height=args.height, zed_height=args.height)
    if args.drop_probability is not None:
        fields["drop_probability"] = args.drop_probability
    try:
        cfg = _scene_config(SceneConfig(**fields), args.seconds, args.cameras)
    except (TypeError, ValueError) as exc:
        print(f"hoi-make-sample: {exc}", file=sys.stderr)
        return 2
    try:
        info = generate_sample_bag(args.out or default_sample_dir(), cfg, compress=not args.no_compress, progress=not args.quiet,
                                   overwrite=args.overwrite)
    except FileExistsError as exc:
        print(f"hoi-make-sample: {exc}", file=sys.stderr)
        return 1
    print(info.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
