"""Object pose checks against the sample bag's ground truth.

``load_zed_frames`` reads the ZED RGB-D frames of a bag (offline, no DDS)
with the world -> optical transform and the ground-truth object poses
nearest each frame; ``score_object_poses`` matches estimated poses to
ground truth by class and 3D distance and reports position error, rotation
error (minimised over the box's symmetries) and id switches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hoi_perception.objects.pose import box_symmetries, rotation_error_deg
from hoi_perception.objects.vocabulary import same_object_class

ZED_IMAGE = "/zed/zed_node/left/image_rect_color"
ZED_DEPTH = "/zed/zed_node/depth/depth_registered"
ZED_INFO = "/zed/zed_node/left/camera_info"
GT_OBJECTS = "/ground_truth/objects"
GT_HUMANS = "/ground_truth/humans"
# ground-truth class name (scene/ground_truth.py) -> HOI vocabulary name
GT_TO_HOI = {"Box": "box", "Bin": "bin", "Table": "table"}


@dataclass
class GtObject:
    track_id: int
    name: str  # vocabulary name
    world_from_object: NDArray[np.float64]


@dataclass
class ZedFrame:
    stamp_ns: int
    rgb: NDArray[np.uint8]
    depth: NDArray[np.float32]
    k: NDArray[np.float64]
    frame_id: str
    world_from_cam: NDArray[np.float64] | None
    objects: list[GtObject] = field(default_factory=list)
    humans_world: list[tuple[int, NDArray[np.float64]]] = field(default_factory=list)


def _stamp(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def _pose_matrix(p: Any) -> NDArray[np.float64]:
    from scipy.spatial.transform import Rotation

    m = np.eye(4)
    q = p.orientation
    m[:3, :3] = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
    m[:3, 3] = [p.position.x, p.position.y, p.position.z]
    return m


def load_zed_frames(bag: Path, every: int = 1, max_frames: int | None = None,
                    tolerance_ns: int = 40_000_000) -> list[ZedFrame]:
    from hoi_perception.bag.io import BagReader
    from hoi_perception.geometry.tf_buffer import TfBuffer, add_transform, lookup_or_none
    from hoi_perception.imaging.encodings import image_to_depth, image_to_rgb8

    static = TfBuffer()
    gt_obj: dict[int, list[GtObject]] = {}
    gt_hum: dict[int, list[tuple[int, NDArray[np.float64]]]] = {}
    images: dict[int, Any] = {}
    depths: dict[int, Any] = {}
    k = None
    with BagReader(bag) as reader:
        for m in reader.messages(["/tf_static", GT_OBJECTS, GT_HUMANS, ZED_INFO, ZED_IMAGE, ZED_DEPTH]):
            msg = reader.deserialize(m)
            if m.topic == "/tf_static":
                for t in msg.transforms:
                    add_transform(static, t, static=True)
            elif m.topic == ZED_INFO:
                k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
            elif m.topic == GT_OBJECTS:
                gt_obj[_stamp(msg)] = [GtObject(int(o.track_id), GT_TO_HOI.get(o.object_name, o.object_name.lower()),
                                                _pose_matrix(o.pose)) for o in msg.objects]
            elif m.topic == GT_HUMANS:
                gt_hum[_stamp(msg)] = [(int(h.track_id), np.array([[p.x, p.y, p.z] for p in h.joints]))
                                       for h in msg.humans]
            elif m.topic == ZED_IMAGE:
                images[_stamp(msg)] = msg
            else:
                depths[_stamp(msg)] = msg
    if k is None:
        raise ValueError(f"{bag}: no {ZED_INFO}")
    gt_stamps = np.array(sorted(gt_obj)) if gt_obj else np.zeros(0, dtype=np.int64)
    hum_stamps = np.array(sorted(gt_hum)) if gt_hum else np.zeros(0, dtype=np.int64)
    out: list[ZedFrame] = []
    for i, s in enumerate(sorted(set(images) & set(depths))):
        if i % every:
            continue
        im = images[s]
        f = ZedFrame(s, image_to_rgb8(im), image_to_depth(depths[s]), k, str(im.header.frame_id),
                     lookup_or_none(static, "world", str(im.header.frame_id)))
        if gt_stamps.size:
            j = int(np.argmin(np.abs(gt_stamps - s)))
            if abs(int(gt_stamps[j]) - s) <= tolerance_ns:
                f.objects = gt_obj[int(gt_stamps[j])]
        if hum_stamps.size:
            j = int(np.argmin(np.abs(hum_stamps - s)))
            if abs(int(hum_stamps[j]) - s) <= tolerance_ns:
                f.humans_world = gt_hum[int(hum_stamps[j])]
        out.append(f)
        if max_frames is not None and len(out) >= max_frames:
            break
    return out


@dataclass
class ObjectScore:
    name: str
    gt_track_id: int
    frames: int = 0  # frames the object was visible in ground truth and matched
    position_errors_mm: list[float] = field(default_factory=list)
    rotation_errors_deg: list[float] = field(default_factory=list)
    track_ids: list[int] = field(default_factory=list)

    @property
    def id_switches(self) -> int:
        ids = [t for t in self.track_ids if t]
        return sum(1 for a, b in zip(ids, ids[1:], strict=False) if a != b)

    def summary(self) -> dict[str, Any]:
        def med(v: list[float]) -> float:
            return float(np.median(v)) if v else float("nan")

        return {"object": self.name, "gt_track_id": self.gt_track_id, "matched_frames": self.frames,
                "position_error_mm_median": med(self.position_errors_mm),
                "position_error_mm_p90": float(np.percentile(self.position_errors_mm, 90)) if self.position_errors_mm
                else float("nan"),
                "rotation_error_deg_median": med(self.rotation_errors_deg),
                "id_switches": self.id_switches, "distinct_ids": len({t for t in self.track_ids if t})}


def score_object_poses(frames: list[tuple[ZedFrame, list[tuple[str, int, NDArray[np.float64]]]]],
                       max_distance_m: float = 0.6, yaw_only: bool = True) -> dict[int, ObjectScore]:
    """frames: (frame, [(vocabulary name, track id, cam_from_object 4x4)]) per processed frame.

    Each ground-truth object is matched to the nearest estimate of its class
    within ``max_distance_m``. Boxes are symmetric under 180 deg turns about
    each axis, so rotation errors are the minimum over those."""
    scores: dict[int, ObjectScore] = {}
    syms = box_symmetries()
    for f, est in frames:
        if f.world_from_cam is None:
            continue
        cam_from_world = np.linalg.inv(f.world_from_cam)
        used: set[int] = set()
        for g in f.objects:
            cam_from_obj = cam_from_world @ g.world_from_object
            best, best_d = None, max_distance_m
            for i, (name, _tid, pose) in enumerate(est):
                if not same_object_class(name, g.name) or i in used:
                    continue
                d = float(np.linalg.norm(pose[:3, 3] - cam_from_obj[:3, 3]))
                if d < best_d:
                    best, best_d = i, d
            sc = scores.setdefault(g.track_id, ObjectScore(g.name, g.track_id))
            if best is None:
                continue
            used.add(best)
            sc.frames += 1
            sc.position_errors_mm.append(best_d * 1000.0)
            sc.rotation_errors_deg.append(rotation_error_deg(est[best][2][:3, :3], cam_from_obj[:3, :3], syms))
            sc.track_ids.append(est[best][1])
    return scores


def gt_box_detections(frame: ZedFrame, k: NDArray[np.float64] | None = None, name: str = "box") -> list[Any]:
    """The ground-truth 2D box of the carried box (projected corners of its 3D box), as an
    ObjectDetection whose source says "ground-truth-box": for scoring the pose stage alone,
    apart from the detector."""
    from hoi_perception.objects.detector import ObjectDetection
    from hoi_perception.scene import hoi_script as hs

    if frame.world_from_cam is None:
        return []
    k = frame.k if k is None else k
    out = []
    cam_from_world = np.linalg.inv(frame.world_from_cam)
    for g in frame.objects:
        if g.name != name:
            continue
        c = cam_from_world @ g.world_from_object
        s = hs.BOX_SIZE / 2
        corners = np.array([[x, y, z] for x in (-s[0], s[0]) for y in (-s[1], s[1]) for z in (-s[2], s[2])])
        p = (corners @ c[:3, :3].T + c[:3, 3]) @ k.T
        uv = p[:, :2] / p[:, 2:]
        out.append(ObjectDetection((float(uv[:, 0].min()), float(uv[:, 1].min()), float(uv[:, 0].max()),
                                    float(uv[:, 1].max())), 1.0, "Box", "box", "ground-truth-box"))
    return out


def evaluate_pose_stage(bag: Path, meshes: dict[str, Any] | None, people: bool = True) -> dict[str, Any]:
    """The carried box's pose from its ground-truth 2D box through segmentation, OBB or mesh
    registration and tracking, scored against ground truth (offline, no DDS)."""
    from hoi_perception.objects.pipeline import ObjectsHandsPipeline, PersonInput

    pipe = ObjectsHandsPipeline(None, None, meshes or {})
    bp = None
    if people:
        from hoi_perception.bodypose.blazepose import BlazePoseEstimator

        bp = BlazePoseEstimator()
    pairs = []
    ms = []
    for fr in load_zed_frames(bag):
        ppl = [PersonInput(i + 1, r.joints_2d, r.confidence) for i, r in
               enumerate(bp.estimate(fr.rgb, fr.k, fr.depth))] if bp is not None else []
        res = pipe.process(fr.rgb, fr.depth, fr.k, fr.stamp_ns * 1e-9, ppl, fr.world_from_cam,
                           detections=gt_box_detections(fr))
        ms.append(res.timings_ms["total"])
        pairs.append((fr, [(o.hoi_class, o.track_id, o.cam_from_object) for o in res.objects]))
    sc = score_object_poses(pairs)
    out = sc[min(sc)].summary() if sc else {}
    box = [s for s in sc.values() if s.name == "box"]
    if box:
        out = box[0].summary()
        out["rotation_error_deg_p90"] = float(np.percentile(box[0].rotation_errors_deg, 90))
    out["pose_stage_ms_median"] = float(np.median(ms)) if ms else float("nan")
    return out
