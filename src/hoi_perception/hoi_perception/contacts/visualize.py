"""Contact overlays on camera frames: body contact points (red), object contact points (orange), per-hand
contact decision (green disc = contact, yellow ring = near, none = far), with ground truth in the banner."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from hoi_perception.contacts.sample_eval import BagContactRun, FrameRecord, stamp_ns

TOPIC_ZED_IMAGE = "/zed/zed_node/left/image_rect_color"
TOPIC_ZED_INFO = "/zed/zed_node/left/camera_info"


def _project(k: NDArray[np.float64], cam_from_world: NDArray[np.float64], pts: NDArray[np.float64]
             ) -> NDArray[np.int64]:
    p = pts @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    p = p[p[:, 2] > 0.05]
    uv = p[:, :2] / p[:, 2:3] * [k[0, 0], k[1, 1]] + [k[0, 2], k[1, 2]]
    return np.round(uv).astype(np.int64)


def draw_frame(rgb: NDArray[np.uint8], rec: FrameRecord, k: NDArray[np.float64], cam_from_world: NDArray[np.float64],
               label: str) -> NDArray[np.uint8]:
    img = rgb.copy()
    h, w = img.shape[:2]
    for pair in rec.result.pairs:
        for pts, colour, r in ((pair.body_vertex_points, (255, 40, 40), 2), (pair.object_points, (255, 160, 0), 1)):
            for u, v in _project(k, cam_from_world, np.asarray(pts).reshape(-1, 3)):
                if 0 <= u < w and 0 <= v < h:
                    cv2.circle(img, (int(u), int(v)), r, colour, -1)
        for side in (0, 1):
            pt = pair.hand_contact_point[side]
            if not np.all(np.isfinite(pt)) or pair.hand_probability[side] < 0.05:
                continue
            (u, v), = _project(k, cam_from_world, pt[None])
            on = bool(pair.hand_decision[side])
            cv2.circle(img, (int(u), int(v)), 7, (40, 220, 40) if on else (230, 230, 40), -1 if on else 2)
    pred = "".join("LR"[s] if rec.pred_hands[s] else "-" for s in (0, 1))
    gt = "".join("LR"[s] if rec.gt_hands[s] else "-" for s in (0, 1))
    cv2.rectangle(img, (0, 0), (w, 18), (0, 0, 0), -1)
    cv2.putText(img, f"{label}  t={rec.stamp_ns * 1e-9 % 100:.1f}s  hands pred {pred} / truth {gt}", (4, 13),
                cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def contact_sheet(run: BagContactRun, bag: Path, out_png: Path, label: str, tiles: int = 8, cols: int = 4) -> Path:
    """Tile ``tiles`` ZED frames spread over the run (around the grasp) with the contacts drawn."""
    from hoi_perception.bag.io import BagReader
    from hoi_perception.geometry.tf_buffer import TfBuffer, add_transform, lookup_or_none
    from hoi_perception.imaging.encodings import image_to_numpy

    static = TfBuffer()
    images: dict[int, NDArray[np.uint8]] = {}
    k = None
    frame_id = ""
    with BagReader(bag) as r:
        for m in r.messages(["/tf_static", TOPIC_ZED_INFO]):
            msg = r.deserialize(m)
            if m.topic == "/tf_static":
                for t in msg.transforms:
                    add_transform(static, t, static=True)
            elif k is None:
                k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
                frame_id = str(msg.header.frame_id)
        if k is None:
            raise ValueError(f"{bag}: no {TOPIC_ZED_INFO}")
        world_from_cam = lookup_or_none(static, "world", frame_id)
        if world_from_cam is None:
            raise ValueError(f"{bag}: /tf_static does not reach {frame_id}")
        cam_from_world = np.linalg.inv(world_from_cam)
        contact = [i for i, f in enumerate(run.frames) if f.gt_hands[0] or f.pred_hands[0]]
        lo = max(0, (contact[0] if contact else 0) - 4)
        hi = min(len(run.frames) - 1, (contact[-1] if contact else len(run.frames) - 1) + 4)
        pick = sorted({run.frames[i].stamp_ns for i in np.linspace(lo, hi, tiles).round().astype(int)})
        for m in r.messages([TOPIC_ZED_IMAGE]):
            msg = r.deserialize(m)
            s = stamp_ns(msg.header)
            near = min(pick, key=lambda p: abs(p - s))
            if abs(near - s) < 20_000_000 and near not in images:
                arr = image_to_numpy(msg)
                images[near] = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_BGRA2RGB)
    by_stamp = {f.stamp_ns: f for f in run.frames}
    tiles_img = [draw_frame(images[s], by_stamp[s], k, cam_from_world, label) for s in pick if s in images]
    if not tiles_img:
        raise ValueError("no ZED frame matched the scored frames")
    h, w = tiles_img[0].shape[:2]
    rows = (len(tiles_img) + cols - 1) // cols
    sheet = np.zeros((rows * h, cols * w, 3), dtype=np.uint8)
    for i, t in enumerate(tiles_img):
        sheet[(i // cols) * h:(i // cols + 1) * h, (i % cols) * w:(i % cols + 1) * w] = t
    out_png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_png), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return out_png
