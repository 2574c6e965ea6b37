#!/usr/bin/env python3
"""Evaluate a tracks file against ground truth: per-class 3D HOTA (DetA, AssA, LocA) table + JSON.

Tracks: an AI City 2025 track 1 submission text file
  (<scene_id> <class_id> <object_id> <frame_id> <x> <y> <z> <width> <length> <height> <yaw>).
Ground truth: either an MTMC_Tracking_2025 ground_truth.json (give --scene-id for its scene) or a
second submission-format text file.
Similarity: 3D IoU of yaw-rotated boxes (AI City 2025 track 1), or --similarity center_distance.
Protocol (--protocol, printed with the results):
  aicity_leaderboard (default): as NVIDIA's AI City MTMC evaluation computes the leaderboard number -
    frames < 9000, only (scene, class) pairs with both GT and predictions, class mean per scene, scenes
    weighted by their GT rows; the per-class pooled table follows it;
  per_class_pooled: per class over all scenes pooled, unweighted class mean (NVIDIA's per-class HOTA).

  hoi-eval-tracks --gt Warehouse_000/ground_truth.json --scene-id 0 --tracks track1.txt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hoi_perception.evaluation import PROTOCOLS, evaluate_hota, evaluate_hota_leaderboard
from hoi_perception.evaluation.hota import LEADERBOARD_NUM_FRAMES
from hoi_perception.mtmc import aic_rows_table, ground_truth_table, read_aic_submission, read_ground_truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gt", required=True, type=Path, help="ground_truth.json or a submission-format .txt")
    ap.add_argument("--tracks", required=True, type=Path, help="submission-format .txt of the tracker")
    ap.add_argument("--scene-id", type=int, default=0, help="scene id of a ground_truth.json (default 0)")
    ap.add_argument("--similarity", choices=("iou_3d", "center_distance"), default="iou_3d")
    ap.add_argument("--classes", nargs="*", help="card class names to evaluate (default: all with GT)")
    ap.add_argument("--protocol", choices=PROTOCOLS, default="aicity_leaderboard")
    ap.add_argument("--num-frames", type=int, default=LEADERBOARD_NUM_FRAMES,
                    help="leaderboard protocol: frames evaluated per scene (server: 9000)")
    ap.add_argument("--json", type=Path, help="also write the JSON report here")
    args = ap.parse_args(argv)

    if args.gt.suffix == ".json":
        gt = ground_truth_table(read_ground_truth(args.gt), scene=str(args.scene_id))
    else:
        rows, bad = read_aic_submission(args.gt)
        gt = aic_rows_table(rows)
    rows, bad = read_aic_submission(args.tracks)
    pred = aic_rows_table(rows)
    if len(gt) == 0:
        print("no ground truth rows", file=sys.stderr)
        return 2
    report: object
    if args.protocol == "aicity_leaderboard":
        report = evaluate_hota_leaderboard(gt, pred, classes=args.classes, similarity=args.similarity,
                                           num_frames=args.num_frames)
    else:
        report = evaluate_hota(gt, pred, classes=args.classes, similarity=args.similarity)
    print(report.table(f"3D HOTA: {args.tracks} vs {args.gt}"))  # type: ignore[attr-defined]
    out = report.to_dict()  # type: ignore[attr-defined]
    out["malformed_track_lines"] = bad
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
