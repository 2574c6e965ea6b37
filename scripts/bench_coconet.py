#!/usr/bin/env python3
"""CoCoNet host costs on the synthetic scene's ZED view (640x360), this CPU:

* per frame: SMPL fit to the 34 ground-truth joints (cold = first frame,
  warm = warm-started from the previous frame), crop (observation channels),
  render (synthetic channels at 224x224 with the ray-caster), masks from
  depth (when no segmentation is given), normalisation; goal: render + crop
  <= 5 ms per frame at 224x224;
* per window: engine (STAND-IN and the contract's test model through ONNX
  Runtime, the real network's cost is not measured here) and decoding.

Usage: python scripts/bench_coconet.py [--frames 30] [--window 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from hoi_perception.coconet.decode import assemble_inputs, decode
from hoi_perception.coconet.pipeline import tpose_diameter
from hoi_perception.coconet.standin import CocoNetStandIn
from hoi_perception.coconet.window import FrameEstimate, ObjectShape, WindowBuilder, body_render_shape
from hoi_perception.engine import create_engine, load_contract
from hoi_perception.engine.test_models import make_test_model
from hoi_perception.scene import HUMAN_TRACK_ID, SceneConfig, SyntheticScene
from hoi_perception.scene import hoi_script as hs
from hoi_perception.scene.synthetic import BOX_TRACK_ID
from hoi_perception.smpl.fit import SmplJointFitter
from hoi_perception.smpl.landmarks import body25_from_smpl
from hoi_perception.smpl.synthetic import synthetic_smpl_model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--first", type=int, default=50, help="first scene frame (50: lifting/carrying the box)")
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    scene = SyntheticScene(SceneConfig(num_static_cameras=0))
    cam = scene.cameras[scene.zed_camera_name]
    model = synthetic_smpl_model()
    fitter = SmplJointFitter(model)
    wb = WindowBuilder(body_render_shape(model))
    shape = ObjectShape("box", tuple(hs.BOX_SIZE))
    rows: dict[str, list[float]] = {k: [] for k in ("fit_cold", "fit_warm", "crop", "render", "masks", "normalise",
                                                     "render_plus_crop", "build_with_segmentation",
                                                     "build_with_depth_masks")}
    frames_seg = []
    diameter = None
    for n, i in enumerate(range(a.first, a.first + a.frames)):
        gt = scene.ground_truth(i, with_visibility=False)
        cw = cam.camera_from_world
        res = fitter.fit(gt.joints_world @ cw[:3, :3].T + cw[:3, 3], np.ones(34))
        rows["fit_cold" if n == 0 else "fit_warm"].append(res.seconds * 1e3)
        p = res.params
        rot = p.rotmats()
        joints, verts = model.joints_and_vertices(rot, p.betas, p.transl, fitter.vertex_ids)
        diameter = diameter or tpose_diameter(model, p.betas)
        est = FrameEstimate(rot, p.betas, p.transl, joints, body25_from_smpl(joints, verts),
                            cw @ gt.object(BOX_TRACK_ID).world_from_object, shape, diameter)
        view = scene.render(i, scene.zed_camera_name)
        t0 = time.perf_counter()
        f = wb.build(i, view.rgb, view.depth, cam.k, est, view.instance_ids == HUMAN_TRACK_ID,
                     view.instance_ids == BOX_TRACK_ID)
        t1 = time.perf_counter()
        g = wb.build(i, view.rgb, view.depth, cam.k, est)
        t2 = time.perf_counter()
        rows["build_with_segmentation"].append((t1 - t0) * 1e3)
        rows["build_with_depth_masks"].append((t2 - t1) * 1e3)
        for k in ("crop", "render", "normalise"):
            rows[k].append(f.timings_ms[k])
        rows["masks"].append(g.timings_ms["masks"])
        rows["render_plus_crop"].append(f.timings_ms["crop"] + f.timings_ms["render"])
        frames_seg.append(f)
    contract = load_contract("coconet")
    window = frames_seg[: a.window]
    with tempfile.TemporaryDirectory() as tmp:
        engines = {"stand-in": CocoNetStandIn(contract),
                   "test model (onnxruntime)": create_engine(make_test_model(contract, Path(tmp) / "c.onnx"), contract,
                                                             backend="onnxruntime")}
        for name, eng in engines.items():
            eng_ms, asm_ms, dec_ms = [], [], []
            for _ in range(5):
                t0 = time.perf_counter()
                inputs = assemble_inputs(window)
                t1 = time.perf_counter()
                out = eng.run(inputs)
                t2 = time.perf_counter()
                decode(out, window, contract, "delta")
                t3 = time.perf_counter()
                asm_ms.append((t1 - t0) * 1e3)
                eng_ms.append((t2 - t1) * 1e3)
                dec_ms.append((t3 - t2) * 1e3)
            rows[f"window{a.window}_assemble [{name}]"] = asm_ms
            rows[f"window{a.window}_engine [{name}]"] = eng_ms
            rows[f"window{a.window}_decode [{name}]"] = dec_ms
    table = {k: {"p50_ms": float(np.median(v)), "mean_ms": float(np.mean(v)), "n": len(v)} for k, v in rows.items() if v}
    print(f"CoCoNet host costs, synthetic ZED view {cam.width}x{cam.height}, crop 224x224, body model "
          f"{model.name}, {a.frames} frames from {a.first}")
    print(f"{'stage':<46} {'p50 ms':>8} {'mean ms':>8} {'n':>4}")
    for k, v in table.items():
        print(f"{k:<46} {v['p50_ms']:>8.2f} {v['mean_ms']:>8.2f} {v['n']:>4}")
    goal = table["render_plus_crop"]["p50_ms"]
    print(f"render + crop p50 {goal:.2f} ms per frame: goal <= 5 ms {'met' if goal <= 5 else 'NOT met'}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"body_model": model.name, "stages": table, "goal_render_plus_crop_ms": 5.0}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
