#!/usr/bin/env python3
"""One-frame check of BodyPose3DNet's pose3d against DeepStream's pose25d lift (issue 11 point 2).

DeepStream never reads the network's ``pose3d``: it lifts ``pose25d`` with the full-image K and the
mean limb lengths (deepstream-bodypose-3d liftKeypoints25DTo3D + recoverScale). This project does the
same by default (``lift="pose25d"``). Whether ``pose3d`` can be trusted depends on how the network uses
its ``k_inv``/``t_form_inv`` inputs, which no public source states. With the NGC model this script
answers it on one frame:

    python scripts/check_bodypose3dnet_lift.py --model bodypose3dnet_accuracy.onnx \\
        --image person.jpg --focal 800 [--box X0 Y0 X1 Y1] [--json out.json]

It runs the network twice on the same crop - once with this adapter's inputs (k_inv = inv(A K),
t_form_inv = inv(A), A the image -> crop map) and once with DeepStream's constants (k_inv of
f = 800.79 at the crop centre, identity t_form_inv) - and compares each ``pose3d`` with the pose25d
lift: root (pelvis) distance and root-relative MPJPE in metres, plus a verdict. ``--stand-in`` runs
the same check on a synthetic person (1280x720, f = 800, 4 m away) with the ground-truth stand-in
engine, so the script itself is tested without the weights (STAND-IN in the output).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from hoi_perception.bodypose.bodypose3dnet import DS_FOCAL_LENGTH, INPUT_H, INPUT_W, decode, preprocess
from hoi_perception.geometry.camera import intrinsics, project_points
from hoi_perception.skeleton.bodypose34 import JOINT_INDEX

# deepstream-bodypose-3d nvdsinitinputlayers_BodyPose3DNet.cpp: the constant k_inv and t_form_inv it feeds.
DS_K_INV = np.linalg.inv(intrinsics(DS_FOCAL_LENGTH, DS_FOCAL_LENGTH, INPUT_W / 2, INPUT_H / 2))
AGREE_ROOT_M = 0.30
AGREE_REL_M = 0.10


def _summary(pose_m: np.ndarray, lift_m: np.ndarray) -> dict[str, float]:
    root = JOINT_INDEX["pelvis"]
    rel = (pose_m - pose_m[root]) - (lift_m - lift_m[root])
    return {"root_distance_m": float(np.linalg.norm(pose_m[root] - lift_m[root])),
            "root_relative_mpjpe_m": float(np.linalg.norm(rel, axis=1).mean()),
            "root_z_m": float(pose_m[root, 2])}


def compare(engine: object, rgb: np.ndarray, k: np.ndarray, box: tuple[float, float, float, float]) -> dict:
    """Network pose3d (adapter inputs, DeepStream inputs) vs the pose25d lift on one crop."""
    inputs, _ = preprocess(rgb, k, [box])
    out = engine.run(inputs)  # type: ignore[attr-defined]
    lift = decode(out, inputs, k, "pose25d").joints_cam_m[0]
    net = decode(out, inputs, k, "network").joints_cam_m[0]
    ds_inputs = dict(inputs)
    ds_inputs["k_inv"] = np.broadcast_to(DS_K_INV.astype(np.float32), inputs["k_inv"].shape).copy()
    ds_inputs["t_form_inv"] = np.broadcast_to(np.eye(3, dtype=np.float32), inputs["t_form_inv"].shape).copy()
    out_ds = engine.run(ds_inputs)  # type: ignore[attr-defined]
    net_ds = np.asarray(out_ds["pose3d"], dtype=np.float64)[0, :, :3] * 1e-3
    res = {"lift_root_z_m": float(lift[JOINT_INDEX["pelvis"], 2]),
           "adapter_k_inv": _summary(net, lift), "deepstream_k_inv": _summary(net_ds, lift)}
    # The stand-in locates the crop through t_form_inv, so with DeepStream's identity it sees nobody.
    res["deepstream_k_inv"]["max_confidence"] = float(np.asarray(out_ds["pose25d"])[0, :, 3].max())

    def agrees(s: dict[str, float]) -> bool:
        return s["root_distance_m"] < AGREE_ROOT_M and s["root_relative_mpjpe_m"] < AGREE_REL_M

    if agrees(res["adapter_k_inv"]):
        res["verdict"] = "pose3d agrees with the lift under the adapter's k_inv = inv(A K): lift=network is usable"
    elif agrees(res["deepstream_k_inv"]):
        res["verdict"] = ("pose3d agrees only with DeepStream's constant k_inv: the adapter's k_inv convention is "
                          "wrong for this model; keep lift=pose25d")
    else:
        res["verdict"] = "pose3d agrees with neither: keep lift=pose25d (DeepStream's path)"
    return res


def _stand_in_frame() -> tuple[object, np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    from hoi_perception.bodypose.standin import StandInBodyPose3DNetEngine, standing_skeleton

    k = intrinsics(800.0, 800.0, 640.0, 360.0)
    person = standing_skeleton(1.0) + [0.3, 0.0, 4.0]
    engine = StandInBodyPose3DNetEngine(k, pixel_noise=0.0, zrel_noise=0.0)
    engine.set_people(person[None])
    uv = project_points(k, person)
    box = (*(uv.min(0) - 10.0), *(uv.max(0) + 10.0))
    return engine, np.zeros((720, 1280, 3), np.uint8), k, box  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="BodyPose3DNet ONNX (NGC deployable_accuracy_onnx_1.0) or engine")
    ap.add_argument("--image", type=Path, help="one frame with one person")
    ap.add_argument("--focal", type=float, default=DS_FOCAL_LENGTH, help="focal length in pixels (principal "
                    "point at the image centre); default DeepStream's 800.79")
    ap.add_argument("--box", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"),
                    help="person box in pixels (default: the HOG person detector's best box)")
    ap.add_argument("--backend", default="auto", help="engine backend (create_engine)")
    ap.add_argument("--stand-in", action="store_true", help="synthetic person and the STAND-IN engine")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    if args.stand_in:
        engine, rgb, k, box = _stand_in_frame()
        source = "STAND-IN (ground-truth stand-in engine, synthetic person 4 m away, 1280x720, f=800)"
    else:
        if args.model is None or args.image is None:
            print("error: --model and --image are needed (or --stand-in)", file=sys.stderr)
            return 2
        import cv2
        from hoi_perception.engine import create_engine, load_contract

        bgr = cv2.imread(str(args.image), cv2.IMREAD_COLOR)
        if bgr is None:
            print(f"error: cannot read {args.image}", file=sys.stderr)
            return 2
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        h, w = rgb.shape[:2]
        k = intrinsics(args.focal, args.focal, w / 2.0, h / 2.0)
        if args.box is not None:
            box = tuple(args.box)
        else:
            from hoi_perception.bodypose.box_sources import make_box_source

            boxes = sorted(make_box_source("hog").boxes(rgb, k), key=lambda b: -b.score)
            if not boxes:
                print("error: no person found; pass --box", file=sys.stderr)
                return 2
            box = boxes[0].xyxy
        engine = create_engine(str(args.model), load_contract("bodypose3dnet"), backend=args.backend)
        source = f"{args.model.name} on {engine.backend_name}"
    res = compare(engine, rgb, k, box)
    res["source"] = source
    res["box"] = [float(v) for v in box]
    print(f"BodyPose3DNet lift check, {source}")
    print(f"pose25d lift (DeepStream): pelvis z = {res['lift_root_z_m']:.3f} m")
    print(f"{'pose3d fed with':<28} {'root dist m':>12} {'rel MPJPE m':>12} {'pelvis z m':>11}")
    for key, label in (("adapter_k_inv", "adapter k_inv = inv(A K)"), ("deepstream_k_inv", "DeepStream's constant k_inv")):
        s = res[key]
        note = "  (no person found with these inputs)" if s.get("max_confidence", 1.0) <= 0.0 else ""
        print(f"{label:<28} {s['root_distance_m']:>12.3f} {s['root_relative_mpjpe_m']:>12.3f} {s['root_z_m']:>11.3f}"
              f"{note}")
    print(f"verdict: {res['verdict']}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
