"""Soak the crash-safe bag_recorder: 1080p images at 30 Hz for minutes; report its memory (RSS).

Starts bag_recorder and scripts/bag_load_publisher.py as processes (DDS on the
loopback, a ROS domain of its own), samples the recorder's VmRSS/VmHWM from
/proc every second, stops the recorder with SIGINT after ``--duration-s``,
and prints a table (and ``--json PATH``): RSS at start, peak, final, messages
published (and the rate each publisher achieved), received / written / lost
per topic as the recorder's summary reports them, bytes on disk. ``--rgbd``
adds a second publisher, 32FC1 depth of the same size on /soak/depth. The bag
is deleted afterwards unless ``--keep``. Bounded in time: the whole run ends
within duration + 90 s.

    python scripts/soak_recorder.py --duration-s 300 --json out/soak_recorder.json

The published frames are a constant image with a moving band, so zstd chunks
compress them well (the disk is not the bottleneck being measured); pass
``--no-compress`` to write raw chunks (mind the disk: 250 MB/s at 1080p bgra8).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def _recorder_topic_lines(log: str, topics: list[str]) -> dict[str, dict[str, int]]:
    """Per topic, from the recorder's summary: "  /t: W written of R received[, L lost before reaching ...]"."""
    out = {t: {"written": -1, "received": -1, "lost": 0} for t in topics}
    for line in log.splitlines():
        head, _, rest = line.strip().partition(": ")
        if head in out and " written of " in rest:
            words = rest.replace(",", "").split()
            out[head]["written"], out[head]["received"] = int(words[0]), int(words[3])
            if "lost" in words:
                out[head]["lost"] = int(words[words.index("lost") - 1])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration-s", type=float, default=300.0)
    ap.add_argument("--rate", type=float, default=30.0)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--encoding", default="bgra8")
    ap.add_argument("--rgbd", action="store_true", help="also publish 32FC1 depth of the same size on /soak/depth")
    ap.add_argument("--no-compress", action="store_true")
    ap.add_argument("--dir", help="where the bag goes (default: a temp dir)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--domain-id", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "77")))
    args = ap.parse_args(argv)
    if not 1 <= args.duration_s <= 3600:
        print("soak_recorder: --duration-s must be in [1, 3600]", file=sys.stderr)
        return 2
    env = os.environ.copy()
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["ROS_DOMAIN_ID"] = str(args.domain_id)
    env["PYTHONPATH"] = str(REPO / "src" / "hoi_perception") + os.pathsep + env.get("PYTHONPATH", "")
    topics = ["/soak/image", "/soak/depth"] if args.rgbd else ["/soak/image"]
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="soak_recorder_"))
    bag = base / "soak_bag"
    log_path = base / "recorder.log"
    rec = subprocess.Popen(
        [sys.executable, "-m", "hoi_perception.nodes.bag_recorder", "--ros-args", "-p", f"output:={bag}",
         "-p", f"topics:=[{','.join(topics)}]", "-p", f"compress:={'false' if args.no_compress else 'true'}"],
        stdout=open(log_path, "w"), stderr=subprocess.STDOUT, env=env)
    pubs: dict[str, subprocess.Popen] = {}
    samples: list[tuple[float, int]] = []
    result: dict = {}
    try:
        time.sleep(2.0)
        rss_start = _status(rec.pid).get("VmRSS", 0)
        for topic in topics:
            pubs[topic] = subprocess.Popen(
                [sys.executable, str(REPO / "scripts" / "bag_load_publisher.py"), "--topic", topic, "--kind",
                 "image", "--rate", str(args.rate), "--duration-s", str(args.duration_s), "--width", str(args.width),
                 "--height", str(args.height), "--encoding", "32FC1" if topic == "/soak/depth" else args.encoding],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        t0 = time.monotonic()
        deadline = t0 + args.duration_s + 60
        while any(p.poll() is None for p in pubs.values()) and time.monotonic() < deadline:
            st = _status(rec.pid)
            if st:
                samples.append((time.monotonic() - t0, st.get("VmRSS", 0)))
            time.sleep(1.0)
        pub_out = {t: p.communicate(timeout=30)[0] if p.poll() is not None else "" for t, p in pubs.items()}
        time.sleep(1.5)  # the last chunk closes by age
        hwm = _status(rec.pid).get("VmHWM", 0)
        rss_final = _status(rec.pid).get("VmRSS", 0)
        rec.send_signal(signal.SIGINT)
        rec.wait(timeout=30)
        log = log_path.read_text(errors="replace")
        size = sum(f.stat().st_size for f in bag.iterdir()) if bag.exists() else 0
        summary = [line for line in log.splitlines() if "bag_recorder:" in line and "messages in" in line]
        written = int(summary[-1].split("bag_recorder:")[1].split()[0]) if summary else -1
        published: dict[str, int] = {}
        pub_rate: dict[str, float] = {}
        pub_failed: dict[str, int] = {}
        for topic, out in pub_out.items():
            for line in out.splitlines():
                if line.startswith("published "):  # "published N messages in T s (R/s), K publish calls refused ..."
                    published[topic] = int(line.split()[1])
                    pub_rate[topic] = float(line.split("(", 1)[1].split("/s")[0])
                    pub_failed[topic] = int(line.split("), ", 1)[1].split()[0])
        per_topic = _recorder_topic_lines(log, topics)
        rss = [r for _, r in samples]
        minute = [r for t, r in samples if t >= 60.0]
        result = {
            "duration_s": args.duration_s, "rate_hz": args.rate, "image": f"{args.width}x{args.height} {args.encoding}",
            "compress": not args.no_compress, "topics": topics,
            "published": sum(published.values()) if published else -1, "published_per_topic": published,
            "publisher_rate_hz": pub_rate, "publisher_exit": {t: p.returncode for t, p in pubs.items()},
            "publish_refused": pub_failed,
            "publisher_output_tail": {t: out[-600:] for t, out in pub_out.items() if t not in published},
            "recorder_per_topic": per_topic,
            "received": sum(v["received"] for v in per_topic.values()),
            "lost_before_recorder": sum(v["lost"] for v in per_topic.values()), "written": written,
            "recorder_exit": rec.returncode, "bag_bytes": size,
            "rss_start_mb": rss_start / 2**20, "rss_peak_mb": max(rss + [hwm]) / 2**20 if rss else hwm / 2**20,
            "rss_final_mb": rss_final / 2**20,
            "rss_after_60s_min_mb": min(minute) / 2**20 if minute else None,
            "rss_after_60s_max_mb": max(minute) / 2**20 if minute else None,
            "samples": [(round(t, 1), round(r / 2**20, 1)) for t, r in samples],
        }
    finally:
        for p in (*pubs.values(), rec):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        if not args.keep and not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    if not result:
        return 1
    print(f"{'recorder soak':<28} value")
    for key in ("image", "topics", "rate_hz", "duration_s", "compress", "published", "publisher_rate_hz",
                "publisher_exit", "publish_refused",
                "received", "lost_before_recorder", "written", "bag_bytes",
                "rss_start_mb", "rss_after_60s_min_mb", "rss_after_60s_max_mb", "rss_peak_mb", "rss_final_mb",
                "recorder_exit"):
        v = result[key]
        print(f"{key:<28} {v:.1f}" if isinstance(v, float) else f"{key:<28} {v}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
