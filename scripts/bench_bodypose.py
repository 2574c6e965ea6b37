#!/usr/bin/env python3
"""Body pose benchmark: BodyPose3DNet per-person pre/post-processing, and
BlazePose frames per second on 640x480 video. Prints a table and JSON.

* BodyPose3DNet: pre-processing (crop, BGR planes, k_inv, t_form_inv, limb
  inputs) per person for N=1 and N=8, before (``preprocess_reference``) and
  after (``Preprocessor``, and ``preprocess`` with fresh buffers) side by
  side, and ``decode`` + depth correction, per person, batch of 8 on a
  640x480 frame; the engine itself is not timed (the ground-truth stand-in
  answers). Also the stand-in MPJPE on the synthetic scene.
* BlazePose: opencv-doc vtest.avi resized to 640x480 (pedestrians ~80 px tall:
  the BlazePose detector finds none, so the detector-only rate is measured)
  and basketball1/basketball2.png as a 640x480 two-frame loop (one person):
  detector + landmarks every frame, and landmarks following the previous
  frame (detector every 10th frame).
* Default multi-person path (make_pose_pipeline with the node's defaults:
  backend blazepose, box_source default = ssd+blazepose) on vtest.avi at
  640x480 and its native 768x576, side by side with the earlier defaults
  (hog+blazepose, cv2 HOG at upscale 1.25; before that blazepose: the
  face-based detector alone) and the people detectors alone as box sources
  (ssd, hog: BodyPose3DNet's default before and after), frame by frame in turn
  so machine load hits all alike: frames per second, person boxes and poses
  per frame.
* HOG alone (cv2.HOGDescriptor, HogPersonDetector defaults) on vtest.avi at
  768x576 and 640x480: ms and boxes per frame.

Usage: python scripts/bench_bodypose.py [--frames 60] [--hog-frames 20] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def _median_ms(fn, n: int) -> float:  # noqa: ANN001
    fn()  # warm-up
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def bench_bodypose3dnet(repeats: int) -> dict[str, float]:
    from hoi_perception.bodypose.bodypose3dnet import Preprocessor, decode, preprocess, preprocess_reference
    from hoi_perception.bodypose.depth import correct_scale_with_depth
    from hoi_perception.bodypose.standin import StandInBodyPose3DNetEngine, standing_skeleton
    from hoi_perception.geometry.camera import intrinsics, project_points

    k = intrinsics(520.0, 520.0, 320.0, 240.0)
    rgb = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    people = np.stack([standing_skeleton() + [x, 0.0, 3.5 + 0.3 * i] for i, x in enumerate(np.linspace(-1.5, 1.5, 8))])
    boxes = []
    for p in people:
        uv = project_points(k, p)
        boxes.append((*(uv.min(0) - 8), *(uv.max(0) + 8)))
    depth = np.full((480, 640), 3.5, np.float32)
    n = len(boxes)
    engine = StandInBodyPose3DNetEngine(k)
    engine.set_people(people)
    inputs, _ = preprocess(rgb, k, boxes)
    outputs = engine.run(inputs)

    def post() -> None:
        dec = decode(outputs, inputs, k, "network")
        for i in range(n):
            correct_scale_with_depth(dec.joints_cam_m[i], dec.joints_2d[i], dec.confidence[i], depth, (640, 480))

    res: dict[str, float] = {}
    prep = Preprocessor(n)  # what BodyPose3DNetEstimator uses: preallocated buffers
    # before / after side by side, interleaved per batch size so both see the same machine load
    for m in (1, n):
        bx = boxes[:m]
        res[f"pre_ms_per_person_N{m}_before"] = _median_ms(lambda bx=bx: preprocess_reference(rgb, k, bx), repeats) / m
        res[f"pre_ms_per_person_N{m}_after"] = _median_ms(lambda bx=bx: prep(rgb, k, bx), repeats) / m
        res[f"pre_ms_per_person_N{m}_after_fresh_buffers"] = _median_ms(lambda bx=bx: preprocess(rgb, k, bx),
                                                                        repeats) / m
    res.update({
        "post_network_ms_per_person": _median_ms(lambda: decode(outputs, inputs, k, "network"), repeats) / n,
        "post_lift25d_ms_per_person": _median_ms(lambda: decode(outputs, inputs, k, "pose25d"), repeats) / n,
        "post_with_depth_ms_per_person": _median_ms(post, repeats) / n,
        "batch": n,
    })
    return res


def bench_standin_mpjpe() -> dict[str, float]:
    # the stand-in scene check lives in the test suite: run from the checkout root (make bench does)
    sys.path.insert(0, str(Path.cwd() / "test"))
    try:
        from test_bodypose_scene import _run
    except Exception as exc:  # scene module missing
        return {"error": str(exc)}
    out = _run(range(0, 120, 5))
    return {"frames": len(out["mono"]), "mpjpe_mono_mm": 1000 * float(np.mean(out["mono"])),
            "mpjpe_depth_mm": 1000 * float(np.mean(out["depth"])), "depth_used_frac": float(np.mean(out["depth_used"]))}


def _frames_vtest(n: int, size: tuple[int, int] | None = (640, 480)) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(OPENCV_DATA / "vtest.avi"))
    out = []
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        f = cv2.resize(f, size) if size is not None else f
        out.append(np.ascontiguousarray(f[:, :, ::-1]))
    cap.release()
    return out


DEFAULT_PATH_VARIANTS = {
    "default": {},  # box_source default: ssd+blazepose (issue 12 item 1)
    "hog+blazepose": {"box_source": "hog+blazepose"},  # the default from issue 9 to issue 12
    "ssd": {"box_source": "ssd"},  # BodyPose3DNet's default boxes
    "hog": {"box_source": "hog"},  # BodyPose3DNet's default boxes before
    "blazepose_detector_only": {"box_source": "blazepose"},  # the default before issue 9
}


def bench_default_path(n_frames: int, threads: int) -> dict[str, float]:
    """The body_pose node's default estimator + box source on vtest.avi, the
    variants in turn on every frame."""
    from hoi_perception.bodypose.box_sources import PosePipelineConfig, make_pose_pipeline

    res: dict[str, float] = {}
    for size in ((640, 480), None):
        frames = _frames_vtest(n_frames, size)
        h, w = frames[0].shape[:2]
        tag = f"{w}x{h}"
        k = np.array([[float(w), 0.0, w / 2], [0.0, float(w), h / 2], [0.0, 0.0, 1.0]])
        pipes = {name: make_pose_pipeline(PosePipelineConfig(num_threads=threads, **kw))
                 for name, kw in DEFAULT_PATH_VARIANTS.items()}
        for p in pipes.values():
            p.estimator.estimate(frames[0], k)  # warm-up
        t = dict.fromkeys(pipes, 0.0)
        boxes = dict.fromkeys(pipes, 0)
        poses = dict.fromkeys(pipes, 0)
        for f in frames:
            for name, p in pipes.items():
                t0 = time.perf_counter()
                bx = p.box_source.boxes(f, k) if p.box_source is not None else p.estimator.detector.boxes(f, k)
                poses[name] += len(p.estimator.estimate(f, k, None, bx if p.box_source is not None else None))
                t[name] += time.perf_counter() - t0
                boxes[name] += len(bx)
        for name in pipes:
            res[f"vtest_{tag}_{name}_fps"] = len(frames) / t[name]
            res[f"vtest_{tag}_{name}_boxes_per_frame"] = boxes[name] / len(frames)
            res[f"vtest_{tag}_{name}_poses_per_frame"] = poses[name] / len(frames)
    return res


def bench_hog(n_frames: int) -> dict[str, float]:
    """cv2 HOG people detector alone, ms and boxes per frame."""
    from hoi_perception.bodypose.hog_detector import HogPersonDetector

    res: dict[str, float] = {}
    for size in (None, (640, 480)):
        frames = _frames_vtest(n_frames, size)
        h, w = frames[0].shape[:2]
        tag = f"{w}x{h}"
        det = HogPersonDetector()
        t = time.perf_counter()
        n = sum(len(det.boxes(f)) for f in frames)
        res[f"vtest_{tag}_hog_ms_per_frame"] = 1e3 * (time.perf_counter() - t) / len(frames)
        res[f"vtest_{tag}_hog_boxes_per_frame"] = n / len(frames)
    return res


def bench_blazepose(n_frames: int, threads: int) -> dict[str, float]:
    import cv2
    from hoi_perception.bodypose.blazepose import BlazePoseEstimator
    from hoi_perception.bodypose.blazepose_detector import roi_from_box
    from hoi_perception.bodypose.box_sources import blazepose_model_dir as default_model_dir

    k = np.array([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]])
    res: dict[str, float] = {}
    est = BlazePoseEstimator(default_model_dir(), num_threads=threads)
    vt = _frames_vtest(n_frames)
    t = time.perf_counter()
    people = sum(len(est.estimate(f, k)) for f in vt)
    res["vtest_fps_detector_every_frame"] = len(vt) / (time.perf_counter() - t)
    res["vtest_people_found_per_frame"] = people / len(vt)
    bb = [np.ascontiguousarray(cv2.imread(str(OPENCV_DATA / f"basketball{i}.png"))[:, :, ::-1]) for i in (1, 2)]
    loop = [bb[i % 2] for i in range(n_frames)]
    for every in (1, 10):
        est = BlazePoseEstimator(default_model_dir(), num_threads=threads, detect_every=every)
        est.estimate(loop[0], k)
        t = time.perf_counter()
        people = sum(len(est.estimate(f, k)) for f in loop)
        res[f"basketball_fps_detect_every_{every}"] = len(loop) / (time.perf_counter() - t)
        res[f"basketball_people_per_frame_detect_every_{every}"] = people / len(loop)
    est = BlazePoseEstimator(default_model_dir(), num_threads=threads)
    res["detector_ms"] = _median_ms(lambda: est.detector.detect(bb[0]), 20)
    roi_box = est.estimate(bb[0], k)[0].box
    roi = roi_from_box(roi_box)
    res["landmarks_ms_per_person"] = _median_ms(lambda: est.landmarks(bb[0], roi), 20)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--hog-frames", type=int, default=20)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    report: dict[str, object] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                             "processor": platform.processor() or platform.machine()}}
    report["bodypose3dnet"] = bench_bodypose3dnet(args.repeats)
    report["bodypose3dnet_standin_scene"] = bench_standin_mpjpe()
    if (OPENCV_DATA / "vtest.avi").is_file():
        report["hog"] = bench_hog(args.hog_frames)
        try:
            report["blazepose"] = bench_blazepose(args.frames, args.threads)
            report["default_path"] = bench_default_path(args.hog_frames, args.threads)
        except FileNotFoundError as exc:
            report["blazepose"] = {"skipped": str(exc)}
    else:
        report["blazepose"] = {"skipped": "opencv-doc not installed"}
    print(f"{'section':30s} {'metric':48s} {'value':>10s}")
    for section, vals in report.items():
        for key, v in vals.items():  # type: ignore[union-attr]
            print(f"{section:30s} {key:48s} {v:>10.3f}" if isinstance(v, float) else f"{section:30s} {key:48s} {v!s:>10}")
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
