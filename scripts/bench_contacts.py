#!/usr/bin/env python3
"""Contacts benchmark: per-frame cost of the geometric contact estimator on the synthetic scene, and the
InteractVLM node's per-keyframe latency split into render / engine / lift (first keyframe: renders built;
later keyframes: renders cached per body and object mesh), with the contract's ONNX test model (ONNX
Runtime, CPU) and with the STAND-IN engine. Prints a table; --json writes the numbers."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def bench_geometric(frames: int) -> dict[str, float]:
    from hoi_perception.contacts.geometric import GeometricContactEstimator, ObjectInput
    from hoi_perception.contacts.sample_eval import WORLD_UP, person_input, scene_object_surfaces
    from hoi_perception.scene import SceneConfig, SyntheticScene

    scene = SyntheticScene(SceneConfig(num_static_cameras=0, duration_s=6.0))
    surfaces = scene_object_surfaces()
    est = GeometricContactEstimator()
    gts = [scene.ground_truth(i % scene.num_frames, with_visibility=False) for i in range(frames)]
    times = []
    for i, gt in enumerate(gts):
        t0 = time.perf_counter()
        person = person_input(1, gt.joints_world, "ground-truth", WORLD_UP, 0.028)
        objs = [ObjectInput.from_pose(o.track_id, o.name, o.world_from_object, surfaces[o.track_id]) for o in gt.objects]
        est.update(i * 100_000_000, [person], objs)
        times.append((time.perf_counter() - t0) * 1e3)
    return {"p50_ms": float(np.percentile(times, 50)), "p90_ms": float(np.percentile(times, 90)),
            "objects": len(gts[0].objects)}


def bench_interactvlm(keyframes: int) -> dict[str, dict[str, float]]:
    from hoi_perception.contacts.body_mesh import vitruvian_capsule_body
    from hoi_perception.contacts.geometric import hand_part_of_vertices
    from hoi_perception.engine import create_engine, load_contract
    from hoi_perception.engine.test_models import make_test_model
    from hoi_perception.interactvlm.pipeline import ProximityPainterStandIn, RenderLocalizeLift
    from hoi_perception.scene.meshes import box_mesh

    body = vitruvian_capsule_body()
    v, f = box_mesh([0.40, 0.36, 0.30])
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = make_test_model("interactvlm_mvloc", Path(tmp) / "mvloc_test.onnx")
        engines = {"test model (onnxruntime:cpu)": create_engine(model, load_contract("interactvlm_mvloc"),
                                                                 backend="onnxruntime:cpu"),
                   "STAND-IN proximity painter": ProximityPainterStandIn()}
        bc = (hand_part_of_vertices(body.vertex_part) >= 0).astype(float)
        oc = (np.abs(v[:, 1]) > 0.17).astype(float)
        for name, engine in engines.items():
            pipe = RenderLocalizeLift(engine, body)
            hook = (lambda bv, ov, e=engine: e.set_keyframe(bv, ov, bc, oc)) if name.startswith("STAND") else None
            runs = [pipe.run("box", "box", v, f, before_engine=hook).timings_ms for _ in range(keyframes)]
            first, rest = runs[0], runs[1:] or runs
            row = {f"first_{k}_ms": first[k] for k in first}
            row.update({f"{k}_p50_ms": float(np.median([r[k] for r in rest])) for k in first})
            row["keyframe_p50_ms"] = float(np.median([sum(r.values()) for r in rest]))
            out[name] = row
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--keyframes", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    ns = ap.parse_args(argv)
    geo = bench_geometric(ns.frames)
    print(f"geometric contacts per frame (1 person, {geo['objects']} objects, capsule body from the skeleton): "
          f"p50 {geo['p50_ms']:.1f} ms, p90 {geo['p90_ms']:.1f} ms")
    iv = bench_interactvlm(ns.keyframes)
    print("\nInteractVLM Render-Localize-Lift per keyframe (4 body + 4 object views at 1024x1024, CPU):")
    print(f"{'engine':32s} {'render 1st':>10s} {'render':>8s} {'engine':>8s} {'lift':>8s} {'keyframe':>9s}  (ms, p50)")
    for name, r in iv.items():
        print(f"{name:32s} {r['first_render_ms']:10.0f} {r['render_p50_ms']:8.2f} {r['engine_p50_ms']:8.0f} "
              f"{r['lift_p50_ms']:8.0f} {r['keyframe_p50_ms']:9.0f}")
    if ns.json:
        ns.json.parent.mkdir(parents=True, exist_ok=True)
        ns.json.write_text(json.dumps({"geometric": geo, "interactvlm": iv}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
