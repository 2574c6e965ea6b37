"""MTMC_Tracking_2025 readers (calibration.json, ground_truth.json, per-camera videos) and the
AI City Challenge 2025 track 1 submission text format.

Formats (NVIDIA PhysicalAI-SmartSpaces dataset card, MTMC_Tracking_2025; AI City
2025 track 1 page; field usage cross-checked in public converters):

calibration.json::
    {"calibrationType": "cartesian",
     "sensors": [{"type": "camera", "id": "Camera_0000",
                  "coordinates": {"x": .., "y": ..}, "scaleFactor": ..,
                  "translationToGlobalCoordinates": {"x": .., "y": ..},
                  "attributes": [{"name": "frameWidth", "value": "1920"}, ...],
                  "intrinsicMatrix": 3x3, "extrinsicMatrix": 3x4 world->camera [R|t],
                  "cameraMatrix": 3x4 = K @ extrinsic, "homography": 3x3}, ...]}

ground_truth.json (frame id string -> objects in that frame)::
    {"0": [{"object type": "Person", "object id": 3,
            "3d location": [x, y, z], "3d bounding box scale": [w, l, h],
            "3d bounding box rotation": [pitch, roll, yaw],
            "2d bounding box visible": {"Camera_0000": [xmin, ymin, xmax, ymax], ...}}, ...], ...}

AI City 2025 track 1 submission (track1.txt, one detection per line, spaces)::
    <scene_id> <class_id> <object_id> <frame_id> <x> <y> <z> <width> <length> <height> <yaw>
with class ids Person 0, Forklift 1, NovaCarter 2, Transporter 3, FourierGR1T2 4,
AgilityDigit 5 (PalletTruck 6 in the 2026 edition), object ids positive and unique
per scene and class, frame ids zero-based.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hoi_perception.evaluation.hota import TrackTable
from hoi_perception.geometry.camera import PinholeCamera
from hoi_perception.geometry.rotations import invert_transform
from hoi_perception.sparse4d.constants import AIC_CLASS_IDS, AIC_CLASS_NAMES, CARD_TO_AIC, canonical_class_name

log = logging.getLogger(__name__)

DEFAULT_FRAME_WH = (1920, 1080)  # MTMC_Tracking_2025 videos: 1920x1080 at 30 FPS


# ----------------------------------------------------------------------------- calibration
@dataclass
class MtmcSensor:
    camera: PinholeCamera
    fps: float | None = None
    camera_matrix: NDArray[np.float64] | None = None
    homography: NDArray[np.float64] | None = None
    attributes: dict[str, str] = field(default_factory=dict)


def parse_calibration(data: dict, default_wh: tuple[int, int] = DEFAULT_FRAME_WH) -> dict[str, MtmcSensor]:
    """calibration.json mapping -> {camera id: MtmcSensor}; non-camera sensors and broken entries are skipped (logged)."""
    out: dict[str, MtmcSensor] = {}
    for i, s in enumerate(data.get("sensors", [])):
        if str(s.get("type", "camera")).lower() != "camera":
            continue
        try:
            cid = str(s["id"])
            k = np.asarray(s["intrinsicMatrix"], dtype=np.float64).reshape(3, 3)
            ext = np.asarray(s["extrinsicMatrix"], dtype=np.float64).reshape(3, 4)
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("calibration sensor %d skipped: %s", i, exc)
            continue
        attrs = {str(a.get("name")): str(a.get("value")) for a in s.get("attributes", []) if isinstance(a, dict)}
        w = int(float(attrs.get("frameWidth", default_wh[0])))
        h = int(float(attrs.get("frameHeight", default_wh[1])))
        cam_from_world = np.eye(4)
        cam_from_world[:3, :] = ext
        cam = PinholeCamera(cid, w, h, k, world_from_camera=invert_transform(cam_from_world))
        cm = np.asarray(s["cameraMatrix"], dtype=np.float64).reshape(3, 4) if "cameraMatrix" in s else None
        if cm is not None:
            ref = k @ ext
            scale = cm[2, 3] / ref[2, 3] if abs(ref[2, 3]) > 1e-12 else 1.0
            if not np.allclose(cm, ref * scale, rtol=1e-3, atol=1e-3 * np.abs(ref).max()):
                log.warning("camera %s: cameraMatrix != intrinsicMatrix @ extrinsicMatrix", cid)
        hom = np.asarray(s["homography"], dtype=np.float64).reshape(3, 3) if "homography" in s else None
        fps = float(attrs["fps"]) if "fps" in attrs else None
        out[cid] = MtmcSensor(cam, fps, cm, hom, attrs)
    return out


def read_calibration(path: str | Path) -> dict[str, MtmcSensor]:
    with open(path, encoding="utf-8") as fh:
        return parse_calibration(json.load(fh))


# ----------------------------------------------------------------------------- ground truth
@dataclass
class MtmcObject:
    frame: int
    object_type: str  # as in the file (AI City spelling)
    object_id: int
    location: NDArray[np.float64]  # x, y, z (m)
    scale: NDArray[np.float64]  # w, l, h (m)
    rotation: NDArray[np.float64]  # pitch, roll, yaw (rad)
    boxes_2d: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)

    @property
    def yaw(self) -> float:
        return float(self.rotation[2])

    def box(self) -> NDArray[np.float64]:
        """OV box [x, y, z, w, l, h, yaw]."""
        return np.concatenate([self.location, self.scale, [self.yaw]])


def parse_ground_truth(data: dict) -> tuple[dict[int, list[MtmcObject]], dict[str, int]]:
    """ground_truth.json mapping -> ({frame: objects}, counters of skipped entries)."""
    frames: dict[int, list[MtmcObject]] = {}
    counters = {"bad_frame_key": 0, "bad_object": 0}
    for key, objs in data.items():
        try:
            f = int(key)
        except (TypeError, ValueError):
            counters["bad_frame_key"] += 1
            continue
        lst = frames.setdefault(f, [])
        for o in objs or []:
            try:
                rot = o.get("3d bounding box rotation", [0.0, 0.0, 0.0])
                rot = [0.0, 0.0, float(rot)] if isinstance(rot, (int, float)) else [float(v) for v in rot]
                lst.append(
                    MtmcObject(
                        frame=f,
                        object_type=str(o["object type"]),
                        object_id=int(o["object id"]),
                        location=np.asarray(o["3d location"], dtype=np.float64).reshape(3),
                        scale=np.asarray(o["3d bounding box scale"], dtype=np.float64).reshape(3),
                        rotation=np.asarray(rot, dtype=np.float64).reshape(3),
                        boxes_2d={str(c): tuple(float(v) for v in b) for c, b in
                                  (o.get("2d bounding box visible") or {}).items()},
                    )
                )
            except (KeyError, ValueError, TypeError):
                counters["bad_object"] += 1
    if any(counters.values()):
        log.warning("ground truth entries skipped: %s", counters)
    return dict(sorted(frames.items())), counters


def read_ground_truth(path: str | Path) -> dict[int, list[MtmcObject]]:
    with open(path, encoding="utf-8") as fh:
        return parse_ground_truth(json.load(fh))[0]


def ground_truth_table(frames: dict[int, list[MtmcObject]], scene: str = "0") -> TrackTable:
    """GT objects -> TrackTable with card class names (unknown types keep their own name)."""
    t = TrackTable()
    for f, objs in frames.items():
        for o in objs:
            t.add(scene, f, canonical_class_name(o.object_type) or o.object_type, o.object_id, o.box())
    return t


# ----------------------------------------------------------------------------- videos
def list_videos(scene_dir: str | Path) -> dict[str, Path]:
    """{camera id: video path} from <scene>/videos/*.mp4."""
    vdir = Path(scene_dir) / "videos"
    return {p.stem: p for p in sorted(vdir.glob("*.mp4"))} if vdir.is_dir() else {}


class VideoFrames:
    """Frame iterator over one camera's video (OpenCV). Yields (frame index, RGB uint8 image)."""

    def __init__(self, path: str | Path, rgb: bool = True) -> None:
        self.path = Path(path)
        self.rgb = rgb

    def __iter__(self) -> Iterator[tuple[int, NDArray[np.uint8]]]:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            log.error("cannot open video %s", self.path)
            return
        try:
            i = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                yield i, (cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if self.rgb else frame)
                i += 1
        finally:
            cap.release()


# ----------------------------------------------------------------------------- AI City submission
@dataclass
class AicRow:
    scene_id: int
    class_id: int
    object_id: int
    frame_id: int
    x: float
    y: float
    z: float
    width: float
    length: float
    height: float
    yaw: float


def format_aic_row(r: AicRow) -> str:
    return (f"{r.scene_id} {r.class_id} {r.object_id} {r.frame_id} "
            f"{r.x:.4f} {r.y:.4f} {r.z:.4f} {r.width:.4f} {r.length:.4f} {r.height:.4f} {r.yaw:.4f}")


def write_aic_submission(path: str | Path, rows: Iterable[AicRow]) -> int:
    """Write track1.txt; rows with non-finite values or non-positive ids are dropped (logged). Returns lines written."""
    n = bad = 0
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            vals = (r.x, r.y, r.z, r.width, r.length, r.height, r.yaw)
            if r.object_id <= 0 or r.frame_id < 0 or r.class_id not in AIC_CLASS_NAMES or not all(
                    math.isfinite(v) for v in vals):
                bad += 1
                continue
            fh.write(format_aic_row(r) + "\n")
            n += 1
    if bad:
        log.warning("AI City writer: %d invalid rows dropped", bad)
    return n


def read_aic_submission(path: str | Path) -> tuple[list[AicRow], int]:
    """Parse a track1.txt; returns (rows, number of malformed lines skipped)."""
    rows, bad = [], 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            try:
                if len(parts) != 11:
                    raise ValueError(len(parts))
                rows.append(AicRow(int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]),
                                   *(float(v) for v in parts[4:11])))
            except ValueError:
                bad += 1
    if bad:
        log.warning("AI City reader: %d malformed lines skipped in %s", bad, path)
    return rows, bad


def aic_class_id(class_name: str) -> int | None:
    """Card / AI City / OVPKL class name -> AI City class id."""
    card = canonical_class_name(class_name)
    return AIC_CLASS_IDS[CARD_TO_AIC[card]] if card is not None else None


def aic_rows_table(rows: Iterable[AicRow]) -> TrackTable:
    """Submission rows -> TrackTable (scene = str(scene_id), card class names)."""
    t = TrackTable()
    for r in rows:
        name = AIC_CLASS_NAMES.get(r.class_id)
        card = canonical_class_name(name) if name else None
        t.add(str(r.scene_id), r.frame_id, card or f"class_{r.class_id}", r.object_id,
              (r.x, r.y, r.z, r.width, r.length, r.height, r.yaw))
    return t


def table_to_aic_rows(table: TrackTable, scene_ids: dict[str, int] | None = None) -> list[AicRow]:
    """TrackTable -> submission rows (scene names mapped through ``scene_ids``, else int(scene))."""
    rows = []
    for s, f, c, i, b in zip(table.scene, table.frame, table.class_name, table.obj_id, table.boxes, strict=True):
        cid = aic_class_id(c)
        if cid is None:
            continue
        sid = scene_ids[s] if scene_ids and s in scene_ids else int(s)
        rows.append(AicRow(sid, cid, int(i), int(f), *(float(v) for v in b[:7])))
    return rows
