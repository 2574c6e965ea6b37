"""`make demo`: the stack end to end on the embedded samples, over real topics.

1. Sensor ingest: the synthetic HOI sample bag (generated on first use) is
   replayed with /clock through the approximate-time synchronizer; per-stream
   rates and drops are printed.
2. Body pose on real footage: OpenCV's vtest.avi pedestrians are published as
   camera topics, the body_pose node (BlazePose GHUM, real pretrained model,
   CPU) publishes 3D skeletons; the published messages are recorded to an MCAP
   bag and the annotated frames written as a video and a contact sheet.
3. Multi-camera 3D tracking: the sample bag's four static cameras through the
   Sparse4D node (a labelled stand-in when no Sparse4D model is configured),
   scored with 3D HOTA per class against the bag's ground truth.
4. Replay evaluation (`hoi-eval-bag`): the sample bag through the whole graph
   (hoi_graph.launch.yaml: body pose + Sparse4D), paced so every frame is
   processed, every metric its ground truth allows, one report (Markdown with
   plots, and JSON); its path is printed last.

Each step is a ROS 2 YAML launch file of src/hoi_bringup, run as separate
processes on Fast DDS (loopback only). Logs and outputs go to out/demo/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from hoi_perception.launch.yaml_launch import REPO_ROOT, find_pkg_share, parse_launch_file, run

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def _launch(name: str, args: dict[str, str], log: Path, timeout_s: float) -> int:
    nodes = parse_launch_file(find_pkg_share("hoi_bringup") / "launch" / name, args)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as sink:
        return run(nodes, timeout_s=timeout_s, sink=sink)


def _tail_lines(log: Path, prefix: str) -> list[str]:
    """Lines a node printed (its final report), without the [name] prefix."""
    out = []
    for line in log.read_text().splitlines():
        if line.startswith(prefix) and "[INFO]" not in line and "[WARN]" not in line and "[ERROR]" not in line:
            out.append(line[len(prefix):].rstrip())
    return out


def step_ingest(out: Path, bag: Path) -> dict[str, Any]:
    print("\n[1/4] Sensor ingest: replaying the sample bag through the approximate-time synchronizer")
    report = out / "sync_report.json"
    t0 = time.monotonic()
    rc = _launch("replay.launch.yaml", {"bag": str(bag), "rate": "2.0", "report": str(report)},
                 out / "logs" / "replay.log", timeout_s=120)
    if rc != 0 or not report.exists():
        raise RuntimeError(f"replay failed (exit {rc}); see {out / 'logs' / 'replay.log'}")
    from hoi_perception.nodes.sync_monitor import format_report

    rep = json.loads(report.read_text())
    print(format_report(rep))
    print(f"  (bag replayed at 2x with /clock in {time.monotonic() - t0:.0f} s; report: {report})")
    return rep


def step_body_pose(out: Path, frames: int, box_source: str, rate: float) -> dict[str, Any]:
    print(f"\n[2/4] Body pose on real footage: {VTEST.name} published as a camera, {frames} frames at {rate}x "
          f"(paced so this 2-core CPU processes every frame; boxes: {box_source})")
    if not VTEST.is_file():
        raise RuntimeError(f"{VTEST} is missing: `make setup` installs Debian's opencv-doc package")
    rec = out / "body_pose_recording"
    shutil.rmtree(rec, ignore_errors=True)
    log = out / "logs" / "body_pose.log"
    rc = _launch("body_pose_video.launch.yaml",
                 {"video": str(VTEST), "max_frames": str(frames), "record": "true", "record_dir": str(rec),
                  "box_source": box_source, "rate": str(rate)}, log, timeout_s=60 + frames / (10.0 * rate) * 2)
    if rc != 0:
        raise RuntimeError(f"body pose run failed (exit {rc}); see {log}")
    for line in _tail_lines(log, "[body_pose] "):
        print(f"  {line}")
    return summarize_body_pose(rec, out)


def summarize_body_pose(rec: Path, out: Path) -> dict[str, Any]:
    import numpy as np

    from hoi_perception.bag.io import BagReader
    from hoi_perception.imaging.encodings import image_to_rgb8
    from hoi_perception.render.export import contact_sheet, write_png, write_video

    people, ids, limbs, frames = [], set(), [], []
    with BagReader(rec) as reader:
        for m in reader.messages():
            msg = reader.deserialize(m)
            if m.topic == "/hoi/humans":
                people.append(len(msg.humans))
                for h in msg.humans:
                    ids.add(h.track_id)
                    j = np.array([[p.x, p.y, p.z] for p in h.joints])
                    # thigh length (hip -> knee), a plausibility check a person can judge
                    limbs.append(float(np.linalg.norm(j[1] - j[4])))
            elif m.topic == "/body_pose/annotated":
                frames.append(image_to_rgb8(msg).copy())
    summary: dict[str, Any] = {"frames_with_output": len(people), "people_per_frame": float(np.mean(people)) if people else 0.0,
                               "max_people": max(people, default=0), "distinct_track_ids": len(ids),
                               "median_thigh_m": float(np.median(limbs)) if limbs else None, "recording": str(rec)}
    if frames:
        summary["video"] = str(write_video(frames, out / "body_pose_annotated.mp4", fps=10.0))
        summary["contact_sheet"] = str(write_png(contact_sheet(frames), out / "body_pose_contact_sheet.png"))
    print(f"  {summary['frames_with_output']} HumanPose3DArray messages recorded, "
          f"{summary['people_per_frame']:.1f} people per frame (max {summary['max_people']}), "
          f"{summary['distinct_track_ids']} track ids, median thigh length "
          f"{summary['median_thigh_m'] or float('nan'):.2f} m")
    for k in ("recording", "video", "contact_sheet"):
        if k in summary:
            print(f"  {k.replace('_', ' ')}: {summary[k]}")
    return summary


def step_body_pose_rgbd(out: Path, bag: Path) -> dict[str, Any]:
    """The body_pose node on the sample bag's ZED RGB-D topics (depth corrects
    the scale), its published poses scored against the bag's ground truth."""
    print("\n[2b/4] Body pose on the ZED RGB-D stream of the sample bag, scored against its ground truth")
    rec = out / "body_pose_rgbd_recording"
    shutil.rmtree(rec, ignore_errors=True)
    log = out / "logs" / "body_pose_rgbd.log"
    rc = _launch("body_pose_bag.launch.yaml", {"bag": str(bag), "record": "true", "record_dir": str(rec)}, log,
                 timeout_s=180)
    if rc != 0:
        raise RuntimeError(f"body pose (RGB-D) run failed (exit {rc}); see {log}")
    for line in _tail_lines(log, "[body_pose] "):
        print(f"  {line}")
    summary = score_poses_against_ground_truth(rec, bag)
    if summary["pairs"]:
        print(f"  {summary['pairs']} published poses matched to ground truth (of {summary['frames']} frames): "
              f"MPJPE {summary['mpjpe_mm']:.0f} mm, root-relative {summary['root_relative_mpjpe_mm']:.0f} mm, "
              f"pelvis error {summary['root_error_mm']:.0f} mm, 2D joint error {summary['joint_2d_error_px']:.0f} px, "
              f"depth used in {summary['depth_used']}")
        print("  (joints BlazePose observed with confidence > 0.5. The rendered capsule person is outside BlazePose's "
              "training domain and its joints are placed differently, so this checks frames, units and the depth path "
              "end to end; it is not an accuracy figure for real people.)")
    else:
        print("  no published pose could be matched to ground truth")
    return summary


def score_poses_against_ground_truth(rec: Path, bag: Path, tolerance_ns: int = 50_000_000) -> dict[str, Any]:
    import numpy as np

    from hoi_perception.bag.io import BagReader
    from hoi_perception.evaluation.pose import match_by_root, mpjpe_mm, root_relative_mpjpe_mm
    from hoi_perception.ros.tf import StaticTransforms

    def stamp(m: Any) -> int:
        return int(m.header.stamp.sec) * 1_000_000_000 + int(m.header.stamp.nanosec)

    def joints(h: Any) -> np.ndarray:
        return np.array([[p.x, p.y, p.z] for p in h.joints], dtype=np.float64).reshape(-1, 3)

    static = StaticTransforms()
    gt: dict[int, list[Any]] = {}
    k_zed = None
    with BagReader(bag) as reader:
        for m in reader.messages(["/tf_static", "/ground_truth/humans", "/zed/zed_node/left/camera_info"]):
            msg = reader.deserialize(m)
            if m.topic == "/tf_static":
                for t in msg.transforms:
                    static.add(t)
            elif m.topic.endswith("camera_info"):
                k_zed = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
            else:
                gt[stamp(msg)] = list(msg.humans)
    gt_stamps = np.array(sorted(gt))
    errors, rel_errors, root_errors, px_errors, frames, depth_used = [], [], [], [], 0, 0
    with BagReader(rec) as reader:
        for m in reader.messages(["/hoi/humans"]):
            msg = reader.deserialize(m)
            frames += 1
            if not msg.humans or not len(gt_stamps):
                continue
            s = stamp(msg)
            k = int(np.argmin(np.abs(gt_stamps - s)))
            if abs(int(gt_stamps[k]) - s) > tolerance_ns:
                continue
            world_from_cam = static.lookup("world", msg.header.frame_id)
            if world_from_cam is None:
                continue
            cam_from_world = np.linalg.inv(world_from_cam)
            gts = [joints(h) @ cam_from_world[:3, :3].T + cam_from_world[:3, 3] for h in gt[int(gt_stamps[k])]]
            preds = [joints(h) for h in msg.humans]
            for i, j in match_by_root(np.array([p[0] for p in preds]), np.array([g[0] for g in gts])):
                h = msg.humans[i]
                valid = (~np.asarray(h.joint_derived, bool)) & (np.asarray(h.joint_confidence) > 0.5)
                errors.append(mpjpe_mm(preds[i], gts[j], valid))
                rel_errors.append(root_relative_mpjpe_mm(preds[i], gts[j], valid=valid))
                root_errors.append(float(np.linalg.norm(preds[i][0] - gts[j][0]) * 1000.0))
                if k_zed is not None and len(h.joints_2d) == len(gts[j]):
                    uvw = gts[j] @ k_zed.T
                    uv = uvw[:, :2] / uvw[:, 2:]
                    p2 = np.array([[q.x, q.y] for q in h.joints_2d])
                    px_errors.append(float(np.median(np.linalg.norm(p2[valid] - uv[valid], axis=1))))
                depth_used += int(h.depth_used)
    def med(v: list[float]) -> float:
        v = [x for x in v if np.isfinite(x)]
        return float(np.mean(v)) if v else float("nan")

    return {"frames": frames, "pairs": len(errors), "mpjpe_mm": med(errors), "root_relative_mpjpe_mm": med(rel_errors),
            "root_error_mm": med(root_errors), "joint_2d_error_px": med(px_errors), "depth_used": depth_used,
            "recording": str(rec)}


def step_sparse4d(out: Path, bag: Path, model_path: str) -> dict[str, Any]:
    print("\n[3/4] Multi-camera 3D detection and tracking (Sparse4D) on the sample bag's 4 static cameras")
    if model_path:
        print(f"  Sparse4D model: {model_path}")
    else:
        print("  No Sparse4D model configured (--sparse4d-model / HOI_SPARSE4D_MODEL): running the STAND-IN engine")
        print("  (noisy ground truth in the model's output layout) through the real node, instance bank and HOTA.")
    eval_dir = out / "sparse4d_eval"
    shutil.rmtree(eval_dir, ignore_errors=True)
    log = out / "logs" / "sparse4d.log"
    rc = _launch("sparse4d.launch.yaml", {"bag": str(bag), "model_path": model_path, "eval_output": str(eval_dir)},
                 log, timeout_s=240)
    if rc != 0:
        raise RuntimeError(f"Sparse4D run failed (exit {rc}); see {log}")
    lines = _tail_lines(log, "[track_evaluator] ") + _tail_lines(log, "[sparse4d_node] ")
    for line in lines:
        print(f"  {line}")
    chart = eval_dir / "hota.png"
    if chart.exists():
        print(f"  HOTA chart: {chart}")
    return {"log": str(log), "eval_dir": str(eval_dir), "hota_chart": str(chart)}


def step_replay_evaluation(out: Path, bag: Path) -> dict[str, Any]:
    """`hoi-eval-bag` on the sample bag: the final step, ends with the report's path."""
    from hoi_perception.evaluation.eval_bag_cli import main as eval_bag

    print("\n[4/4] Replay evaluation (hoi-eval-bag): the sample bag through the whole graph, every frame processed")
    eval_dir = out / "eval_bag"
    shutil.rmtree(eval_dir, ignore_errors=True)
    rc = eval_bag([str(bag), "--out", str(eval_dir)])
    if rc != 0:
        raise RuntimeError(f"replay evaluation failed (exit {rc}); see {eval_dir}")
    report = json.loads((eval_dir / "report.json").read_text())
    run = report["runs"][0]
    for fam in ("tracking", "body_pose", "latency"):
        for k, v in run["metrics"].get(fam, {}).get("summary", {}).items():
            if v is not None and not k.startswith("drops"):
                print(f"  {fam}: {k}: {v:.1f}")
    return {"report": str(eval_dir / "report.md"), "json": str(eval_dir / "report.json"),
            "bag_duration_s": run["replay"]["bag_duration_s"], "evaluation_wall_s": run.get("evaluation_wall_s")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hoi-demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "out" / "demo")
    ap.add_argument("--bag", type=Path, default=None, help="sample bag (default: generated data/sample_bag)")
    ap.add_argument("--frames", type=int, default=30, help="video frames for the body pose step")
    ap.add_argument("--video-rate", type=float, default=0.2,
                    help="playback rate of the 10 fps video (HOG + BlazePose run at ~2.5 fps on 2 cores)")
    ap.add_argument("--box-source", default="hog+blazepose", help="person boxes for the body pose step")
    ap.add_argument("--sparse4d-model", default=os.environ.get("HOI_SPARSE4D_MODEL", ""))
    ap.add_argument("--steps", default="1,2,3,4", help="which steps to run, e.g. 2,3")
    ns = ap.parse_args(argv)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    # a domain of its own, so a demo never joins a robot's graph or another run's
    os.environ["ROS_DOMAIN_ID"] = os.environ.get("HOI_DEMO_ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
    steps = {int(s) for s in ns.steps.split(",")}
    ns.out.mkdir(parents=True, exist_ok=True)
    print("hoi_perception demo: ZED + static cameras -> 3D humans and multi-camera tracks, over ROS 2 topics "
          f"(Fast DDS on loopback, domain {os.environ['ROS_DOMAIN_ID']}); outputs in {ns.out}")
    results: dict[str, Any] = {}
    try:
        if steps & {1, 2, 3, 4}:
            from hoi_perception.bag.sample import ensure_sample_bag

            bag = ns.bag or ensure_sample_bag()
            print(f"sample bag: {bag}")
        if 1 in steps:
            results["ingest"] = step_ingest(ns.out, bag)
        if 2 in steps:
            results["body_pose"] = step_body_pose(ns.out, ns.frames, ns.box_source, ns.video_rate)
            results["body_pose_rgbd"] = step_body_pose_rgbd(ns.out, bag)
        if 3 in steps:
            results["sparse4d"] = step_sparse4d(ns.out, bag, ns.sparse4d_model)
        if 4 in steps:
            results["replay_evaluation"] = step_replay_evaluation(ns.out, bag)
    except RuntimeError as e:
        print(f"demo: error: {e}", file=sys.stderr)
        return 1
    (ns.out / "demo_summary.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\nDone. Summary: {ns.out / 'demo_summary.json'}")
    if "replay_evaluation" in results:
        print(f"Replay evaluation report: {results['replay_evaluation']['report']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
