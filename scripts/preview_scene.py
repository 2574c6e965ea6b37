#!/usr/bin/env python3
"""Contact sheet of the synthetic HOI scene: every camera at a few frames, with the projected
ground-truth skeleton (green = visible joint, red = not) and 3D boxes, plus the ZED depth.

    python scripts/preview_scene.py out/scene_preview.png --frames 10 45 75 100
    python scripts/preview_scene.py out/scene_preview.png --bench   # also time renders (table + JSON)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from hoi_perception.geometry.box3d import BOX_EDGES
from hoi_perception.geometry.camera import PinholeCamera
from hoi_perception.scene import FrameGroundTruth, SceneConfig, SyntheticScene
from hoi_perception.skeleton.bodypose34 import BONES
from numpy.typing import NDArray


def _class_colour(name: str) -> tuple[int, int, int]:
    palette = {"Person": (255, 60, 60), "Nova_Carter": (60, 220, 60), "Forklift": (255, 200, 0),
               "Fourier_GR1_T2_Humanoid": (60, 200, 255), "Box": (255, 140, 0), "Bin": (0, 160, 120),
               "Table": (160, 100, 60)}
    return palette.get(name, (255, 255, 255))


def _draw_segment(img: NDArray[np.uint8], cam: PinholeCamera, a: NDArray, b: NDArray, colour: tuple[int, int, int],
                  thickness: int = 1) -> None:
    """Draw a world segment, clipped to the part in front of the camera."""
    cw = cam.camera_from_world
    pa, pb = cw[:3, :3] @ a + cw[:3, 3], cw[:3, :3] @ b + cw[:3, 3]
    near = 0.1
    if pa[2] < near and pb[2] < near:
        return
    if pa[2] < near or pb[2] < near:
        s = (near - pa[2]) / (pb[2] - pa[2])
        p = pa + s * (pb - pa)
        pa, pb = (p, pb) if pa[2] < near else (pa, p)
    k = cam.k
    ua = (k[0, 0] * pa[0] / pa[2] + k[0, 2], k[1, 1] * pa[1] / pa[2] + k[1, 2])
    ub = (k[0, 0] * pb[0] / pb[2] + k[0, 2], k[1, 1] * pb[1] / pb[2] + k[1, 2])
    if max(abs(ua[0]), abs(ua[1]), abs(ub[0]), abs(ub[1])) > 1e5:
        return
    # cv2 pixel centres are integers; docs/frames.md puts them at +0.5
    cv2.line(img, (int(round(ua[0] - 0.5)), int(round(ua[1] - 0.5))), (int(round(ub[0] - 0.5)), int(round(ub[1] - 0.5))),
             colour, thickness, cv2.LINE_AA)


def annotate(scene: SyntheticScene, gt: FrameGroundTruth, cam_name: str) -> NDArray[np.uint8]:
    cam = scene.cameras[cam_name]
    img = np.ascontiguousarray(scene.render(gt.frame_index, cam_name).rgb.copy())
    for box in gt.boxes:
        if box.visibility.get(cam_name, 0.0) <= 0.0:
            continue
        corners = box.corners()
        colour = _class_colour(box.class_name)
        for i, j in BOX_EDGES:
            _draw_segment(img, cam, corners[i], corners[j], colour)
        uv, z = cam.project(box.center[None] + [0, 0, box.h / 2])
        if z[0] > 0.1 and np.all(np.abs(uv) < 1e5):
            cv2.putText(img, f"{box.track_id} {box.visibility[cam_name]:.2f}", (int(uv[0, 0]), int(uv[0, 1]) - 3),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    joints = gt.joints_world
    for a, b in BONES:
        _draw_segment(img, cam, joints[a], joints[b], (255, 255, 255))
    uv, z = cam.project(joints)
    vis = gt.joint_visibility.get(cam_name, np.zeros(len(joints), dtype=bool))
    for (u, v), zz, ok in zip(uv, z, vis, strict=True):
        if zz > 0.1 and 0 <= u < cam.width and 0 <= v < cam.height:
            cv2.circle(img, (int(u), int(v)), 2, (0, 255, 0) if ok else (255, 0, 0), -1)
    contact = "L" * gt.hand_contact.left + "R" * gt.hand_contact.right or "-"
    cv2.putText(img, f"{cam_name} f{gt.frame_index} t={gt.time_s:.1f}s contact={contact}", (4, 14),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def depth_tile(scene: SyntheticScene, frame: int, cam_name: str) -> NDArray[np.uint8]:
    view = scene.render(frame, cam_name)
    d = view.depth
    norm = np.clip(np.nan_to_num(d, nan=0.0) / 12.0, 0, 1)
    colour = cv2.applyColorMap((255 * (1 - norm)).astype(np.uint8), cv2.COLORMAP_TURBO)[..., ::-1].copy()
    colour[~np.isfinite(d)] = 0
    cv2.putText(colour, f"{cam_name} depth 0-12 m (black = NaN)", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (255, 255, 255), 1, cv2.LINE_AA)
    return colour


def bench(scene: SyntheticScene, frames: list[int], repeats: int = 5) -> None:
    """Time render_view per camera (fresh renders, no cache): wall and process CPU, best and median."""
    from hoi_perception.scene.raycast import render_view

    rows = []
    for name in scene.camera_names:
        cam = scene.cameras[name]
        wall, cpu = [], []
        for f in frames:
            prims = scene.primitives(f)
            for _ in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                render_view(cam, prims, scene.floor)
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        rows.append({"camera": name, "width": cam.width, "height": cam.height,
                     "wall_ms_best": 1e3 * min(wall), "wall_ms_median": 1e3 * float(np.median(wall)),
                     "cpu_ms_median": 1e3 * float(np.median(cpu)), "renders": len(wall)})
    print(f"{'camera':<18}{'size':>10}{'best ms':>10}{'median ms':>11}{'cpu ms':>9}")
    for r in rows:
        print(f"{r['camera']:<18}{r['width']:>5}x{r['height']:<4}{r['wall_ms_best']:>10.1f}{r['wall_ms_median']:>11.1f}"
              f"{r['cpu_ms_median']:>9.1f}")
    print(json.dumps({"benchmark": "scene_render", "primitives": len(scene.primitives(frames[0])), "rows": rows}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="PNG path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cameras", type=int, default=4, help="number of static ring cameras")
    parser.add_argument("--frames", type=int, nargs="+", default=None, help="frame indices (default: 4 spread out)")
    parser.add_argument("--tile-scale", type=float, default=0.5, help="resize factor of each tile")
    parser.add_argument("--bench", action="store_true", help="also time renders per camera (table and JSON)")
    args = parser.parse_args()

    scene = SyntheticScene(SceneConfig(seed=args.seed, num_static_cameras=args.cameras))
    frames = args.frames or [int(scene.num_frames * f) for f in (0.15, 0.45, 0.65, 0.8)]
    rows = []
    t0 = time.perf_counter()
    for f in frames:
        gt = scene.ground_truth(f)
        tiles = [annotate(scene, gt, name) for name in scene.camera_names]
        tiles.append(depth_tile(scene, f, scene.zed_camera_name))
        h = max(t.shape[0] for t in tiles)
        tiles = [cv2.copyMakeBorder(t, 0, h - t.shape[0], 0, 2, cv2.BORDER_CONSTANT) for t in tiles]
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([cv2.copyMakeBorder(r, 0, 2, 0, width - r.shape[1], cv2.BORDER_CONSTANT) for r in rows])
    if args.tile_scale != 1.0:
        sheet = cv2.resize(sheet, None, fx=args.tile_scale, fy=args.tile_scale, interpolation=cv2.INTER_AREA)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.output), sheet[..., ::-1])
    print(f"wrote {args.output} ({len(frames)} frames x {len(scene.camera_names)} cameras) "
          f"in {time.perf_counter() - t0:.1f} s")
    if args.bench:
        bench(scene, frames)


if __name__ == "__main__":
    main()
