#!/usr/bin/env python3
"""Benchmark of ZED frame ingest: message -> numpy -> RGB + depth + xyz map.

A 1920x1080 bgra8 colour Image and a 32FC1 depth Image (rclpy messages, as a
node receives them; optionally rosbags messages) go through the stages of
:class:`hoi_perception.imaging.rgbd.RgbdIngest`; each stage and the whole
pipeline are timed side by side with a plain copy of the same bytes
(``np.copy`` of both message buffers), alternating within each repetition so
both see the same machine state. Reported: median and p90 milliseconds and
the ratio of each median to the plain copy's.

Usage: python scripts/bench_ingest.py [--reps 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hoi_perception.geometry.camera import backproject_depth, intrinsics
from hoi_perception.imaging.encodings import (
    depth_to_metres,
    image_to_numpy,
    numpy_to_image,
    to_rgb8,
)
from hoi_perception.imaging.rgbd import RgbdIngest


class _Ns:
    """A message-like object when no message package is importable."""

    def __init__(self, **kw: object) -> None:
        self.__dict__.update(kw)


def make_messages(width: int, height: int, kind: str) -> tuple[object, object, object]:
    rng = np.random.default_rng(0)
    bgra = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    depth = rng.uniform(0.3, 8.0, (height, width)).astype(np.float32)
    depth[rng.random((height, width)) < 0.05] = np.nan  # ZED marks holes as NaN
    stamp = _Ns(sec=1_700_000_000, nanosec=1)
    if kind == "rclpy":
        from sensor_msgs.msg import Image

        img, dep = numpy_to_image(bgra, "bgra8", Image()), numpy_to_image(depth, "32FC1", Image())
        for m in (img, dep):
            m.header.stamp.sec, m.header.stamp.nanosec = 1_700_000_000, 1
            m.header.frame_id = "zed_left_camera_optical_frame"
    else:  # rosbags-like: ndarray data
        img = _Ns(header=_Ns(stamp=stamp, frame_id="zed_left_camera_optical_frame"), height=height, width=width,
                  encoding="bgra8", is_bigendian=0, step=width * 4, data=bgra.reshape(-1))
        dep = _Ns(header=_Ns(stamp=stamp, frame_id="zed_left_camera_optical_frame"), height=height, width=width,
                  encoding="32FC1", is_bigendian=0, step=width * 4, data=depth.reshape(-1).view(np.uint8))
    k = intrinsics(1066.0, 1066.0, width / 2 - 0.5, height / 2 - 0.5)
    info = _Ns(k=k.reshape(-1), width=width, height=height, d=np.zeros(5), distortion_model="plumb_bob")
    return img, dep, info


def bench(width: int, height: int, reps: int, kind: str) -> dict:
    img, dep, info = make_messages(width, height, kind)
    img_buf = np.frombuffer(img.data, np.uint8) if not isinstance(img.data, np.ndarray) else img.data
    dep_buf = np.frombuffer(dep.data, np.uint8) if not isinstance(dep.data, np.ndarray) else dep.data
    ingest = RgbdIngest(compute_xyz=True)
    ingest_lazy = RgbdIngest(compute_xyz=False)
    k = np.asarray(info.k).reshape(3, 3)
    bgra_view = image_to_numpy(img)
    depth_view = image_to_numpy(dep)
    depth_m = depth_to_metres(depth_view, "32FC1")

    stages: dict[str, Callable[[], object]] = {
        "plain copy (np.copy both buffers)": lambda: (np.copy(img_buf), np.copy(dep_buf)),
        "views (image_to_numpy x2)": lambda: (image_to_numpy(img), image_to_numpy(dep)),
        "bgra8 -> rgb8 (cv2)": lambda: to_rgb8(bgra_view, "bgra8"),
        "32FC1 -> metres + NaN mask": lambda: depth_to_metres(depth_view, "32FC1"),
        "backproject_depth (xyz)": lambda: backproject_depth(depth_m, k),
        "full RgbdIngest.from_messages (xyz map)": lambda: ingest.from_messages(img, dep, info),
        "RgbdIngest without xyz map (default; xyz only in boxes/at joints)": lambda: ingest_lazy.from_messages(
            img, dep, info),
    }
    times: dict[str, list[float]] = {name: [] for name in stages}
    for fn in stages.values():  # warm up caches and lazy imports
        fn()
    perf = time.perf_counter
    for _ in range(reps):
        for name, fn in stages.items():  # side by side, same repetition
            t = perf()
            fn()
            times[name].append(perf() - t)
    base = statistics.median(times["plain copy (np.copy both buffers)"])
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append({
            "stage": name,
            "median_ms": med * 1e3,
            "p90_ms": sorted(ts)[int(0.9 * (len(ts) - 1))] * 1e3,
            "ratio_to_copy": med / base,
        })
    return {
        "width": width,
        "height": height,
        "messages": kind,
        "bytes_copied": int(img_buf.nbytes + dep_buf.nbytes),
        "reps": reps,
        "rows": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--messages", choices=["rclpy", "rosbags", "both"], default="both")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    kinds = ["rclpy", "rosbags"] if args.messages == "both" else [args.messages]
    results = []
    for kind in kinds:
        r = bench(args.width, args.height, args.reps, kind)
        results.append(r)
        print(f"\n{args.width}x{args.height} bgra8 + 32FC1, {kind} messages, {r['bytes_copied'] / 1e6:.1f} MB, "
              f"{args.reps} reps")
        print(f"{'stage':<36} {'median ms':>10} {'p90 ms':>8} {'x copy':>7}")
        for row in r["rows"]:
            print(f"{row['stage']:<36} {row['median_ms']:>10.2f} {row['p90_ms']:>8.2f} {row['ratio_to_copy']:>7.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"benchmark": "ingest", "results": results}, indent=2))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
