"""Messages lost when bag_recorder is killed with SIGKILL mid-recording, over several trials per case.

Each trial starts a real bag_recorder process and scripts/bag_load_publisher.py
(one process per topic), publishes a counted sequence, SIGKILLs the recorder at a
random moment (uniform in ``--kill-window``, seconds after publishing began), then
counts what is recoverable:

* ``meta``: message_count in metadata.yaml as the kill left it (kept current per chunk);
* ``rosbags``: rosbags' Reader on the bag as the kill left it (``-`` = refused);
* ``BagReader``: the project's reader on the bag as it is;
* ``mcap``: mcap's stream reader on the .mcap as it is;
* ``repaired``: rosbags after ``hoi-bag-repair`` (which leaves a bag that opens cleanly untouched).

``lost`` = sent before the kill - recovered after repair; ``lost_s`` = kill time -
send time of the newest recovered message (worst topic), the data the crash cost in
seconds, set against the recorder's ``chunk_interval_s`` (its promise: a crash loses at
most the open chunk, <= chunk_interval_s, plus what was still in DDS queues).
``gaps`` counts missing sequence numbers inside what was recovered (expected 0).

Cases: ``small`` (std_msgs/String at 500 Hz), ``image`` (640x480 rgb8 at 30 Hz),
``rgbd`` (1920x1080 bgra8 + 1920x1080 32FC1 depth at 30 Hz, two topics). Run from
the checkout (it imports test/recorder_crash.py, shared with test/test_bag_faults.py):

    ROS_DOMAIN_ID=86 python scripts/bench_recorder_crash.py --json out/bench_recorder_crash.json
    ROS_DOMAIN_ID=86 python scripts/bench_recorder_crash.py --cases rgbd --trials 3

Bounded: each trial ends within about publish time + 2 minutes; processes are
killed on the way out. A trial that fails (recorder did not start, publisher
failed) is reported as such and the run goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test"))
sys.path.insert(0, str(REPO / "src" / "hoi_perception"))

from recorder_crash import Stream, newest_recovered_age_s, record_and_kill, recover  # noqa: E402

CASES: dict[str, dict] = {
    "small": {"rate": 500.0, "depth": 1000, "streams": [Stream("/crash/small", ["--kind", "small"])]},
    "image": {"rate": 30.0, "depth": 60, "streams": [
        Stream("/crash/image", ["--kind", "image", "--width", "640", "--height", "480", "--encoding", "rgb8"])]},
    "rgbd": {"rate": 30.0, "depth": 30, "streams": [
        Stream("/crash/rgb", ["--kind", "image", "--width", "1920", "--height", "1080", "--encoding", "bgra8"]),
        Stream("/crash/depth", ["--kind", "image", "--width", "1920", "--height", "1080", "--encoding", "32FC1"])]},
}


def _gaps(seqs: list[int]) -> int:
    return (max(seqs) + 1 - len(set(seqs))) if seqs else 0


def trial(case: str, workdir: Path, kill_after_s: float, publish_s: float, chunk_interval_s: float) -> dict:
    cfg = CASES[case]
    run = record_and_kill(workdir, cfg["streams"], rate=cfg["rate"], kill_after_s=kill_after_s, publish_s=publish_s,
                          depth=cfg["depth"], recorder_params=("-p", f"chunk_interval_s:={chunk_interval_s}"))
    rec = recover(run.bag)
    topics = [s.topic for s in cfg["streams"]]
    sent = sum(run.sent_before_kill(t) for t in topics)
    got = sum(len(rec.streams.get(t, {}).get("seqs", [])) for t in topics)
    lost_s = max(newest_recovered_age_s(run, rec, t) for t in topics)
    return {
        "case": case, "kill_after_s": round(kill_after_s, 2), "sent_before_kill": sent,
        "sent_total": sum(len(run.sent[t]) for t in topics),
        "declared": rec.declared, "rosbags": rec.rosbags, "bag_reader": rec.bag_reader, "mcap_stream": rec.mcap_stream,
        "repair_rc": rec.repair_rc, "repair_report": rec.repair_report,
        "repaired": rec.rosbags_after_repair, "recovered": got, "lost": sent - got,
        "lost_s": round(lost_s, 3), "lost_chunks": round(lost_s / chunk_interval_s, 2),
        "gaps": sum(_gaps(rec.streams.get(t, {}).get("seqs", [])) for t in topics),
        "per_topic": {t: {"sent_before_kill": run.sent_before_kill(t),
                          "recovered": len(rec.streams.get(t, {}).get("seqs", [])),
                          "lost_s": round(newest_recovered_age_s(run, rec, t), 3)} for t in topics},
    }


def _cell(v: object) -> str:
    return str(v) if isinstance(v, int) else "-"


def print_table(rows: list[dict], chunk_interval_s: float) -> None:
    head = (f"{'case':<6} {'#':>2} {'kill@s':>6} {'sent':>6} {'meta':>6} {'rosbags':>7} {'BagRdr':>6} {'mcap':>6} "
            f"{'repaired':>8} {'lost':>5} {'lost_s':>6} {'gaps':>4}")
    print(f"SIGKILL of bag_recorder, chunk_interval_s {chunk_interval_s}; counts are messages "
          "('-' = the reader refused the bag)")
    print(head)
    for r in rows:
        if "error" in r:
            print(f"{r['case']:<6} {r['trial']:>2} {r['kill_after_s']:>6} FAILED: {r['error'][:80]}")
            continue
        print(f"{r['case']:<6} {r['trial']:>2} {r['kill_after_s']:>6} {r['sent_before_kill']:>6} "
              f"{_cell(r['declared']):>6} {_cell(r['rosbags']):>7} {_cell(r['bag_reader']):>6} {r['mcap_stream']:>6} {_cell(r['repaired']):>8} "
              f"{r['lost']:>5} {r['lost_s']:>6.2f} {r['gaps']:>4}")


def summarize(rows: list[dict], chunk_interval_s: float) -> dict[str, dict]:
    out = {}
    for case in dict.fromkeys(r["case"] for r in rows):
        ok = [r for r in rows if r["case"] == case and "error" not in r]
        if not ok:
            out[case] = {"trials": 0, "failed": sum(r["case"] == case for r in rows)}
            continue
        out[case] = {
            "trials": len(ok), "failed": sum(r["case"] == case and "error" in r for r in rows),
            "opened_by_rosbags_as_is": sum(isinstance(r["rosbags"], int) for r in ok),
            "opened_by_bag_reader_as_is": sum(isinstance(r["bag_reader"], int) for r in ok),
            "repair_ok": sum(r["repair_rc"] == 0 for r in ok),
            "sent_before_kill_mean": round(statistics.mean(r["sent_before_kill"] for r in ok), 1),
            "lost_mean": round(statistics.mean(r["lost"] for r in ok), 1), "lost_max": max(r["lost"] for r in ok),
            "lost_s_mean": round(statistics.mean(r["lost_s"] for r in ok), 3),
            "lost_s_max": max(r["lost_s"] for r in ok),
            "within_chunk_interval": sum(r["lost_s"] <= chunk_interval_s for r in ok),
            "gaps": sum(r["gaps"] for r in ok),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=5, help="trials per case")
    ap.add_argument("--cases", default="small,image", help=f"comma-separated, of {','.join(CASES)}")
    ap.add_argument("--publish-s", type=float, default=6.0, help="how long each publisher runs")
    ap.add_argument("--kill-window", type=float, nargs=2, default=(1.5, 4.5), metavar=("FROM", "TO"),
                    help="the kill lands uniformly in this window, seconds after publishing began")
    ap.add_argument("--chunk-interval-s", type=float, default=1.0, help="the recorder's chunk_interval_s")
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--dir", help="keep each trial's bag and logs here (default: a temp dir, deleted)")
    ap.add_argument("--json", help="write rows and summary here")
    ap.add_argument("--domain-id", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "77")))
    args = ap.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    lo, hi = args.kill_window
    if (not cases or any(c not in CASES for c in cases) or not 1 <= args.trials <= 100
            or not 0 < lo <= hi < args.publish_s <= 120):
        print(f"bench_recorder_crash: --cases from {','.join(CASES)}, --trials in [1, 100], "
              "0 < kill window <= window end < --publish-s <= 120", file=sys.stderr)
        return 2
    os.environ["ROS_DOMAIN_ID"] = str(args.domain_id)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    from tqdm import tqdm

    rng = random.Random(args.seed)
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench_recorder_crash_"))
    rows: list[dict] = []
    try:
        with tqdm(total=len(cases) * args.trials, unit="trial", file=sys.stderr) as bar:
            for case in cases:
                for i in range(args.trials):
                    kill_after = rng.uniform(lo, hi)
                    work = base / f"{case}_{i}"
                    bar.set_postfix_str(f"{case} #{i} kill@{kill_after:.2f}s")
                    try:
                        row = trial(case, work, kill_after, args.publish_s, args.chunk_interval_s)
                    except (AssertionError, RuntimeError, OSError, ValueError, TimeoutError) as exc:
                        row = {"case": case, "kill_after_s": round(kill_after, 2),
                               "error": " ".join(str(exc).split())[:400]}
                    except Exception as exc:  # noqa: BLE001 - subprocess.TimeoutExpired and friends: a failed trial
                        row = {"case": case, "kill_after_s": round(kill_after, 2),
                               "error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:400]}"}
                    row["trial"] = i
                    rows.append(row)
                    if not args.dir:
                        shutil.rmtree(work, ignore_errors=True)
                    bar.update()
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    print_table(rows, args.chunk_interval_s)
    summary = summarize(rows, args.chunk_interval_s)
    print()
    print(f"{'case':<6} {'trials':>6} {'rosbags as-is':>13} {'repair ok':>9} {'lost mean':>9} {'lost max':>8} "
          f"{'lost_s mean':>11} {'lost_s max':>10} {'<= chunk':>8} {'gaps':>4}")
    for case, s in summary.items():
        if not s["trials"]:
            print(f"{case:<6} {0:>6} all {s['failed']} trial(s) failed")
            continue
        print(f"{case:<6} {s['trials']:>6} {s['opened_by_rosbags_as_is']:>13} {s['repair_ok']:>9} "
              f"{s['lost_mean']:>9} {s['lost_max']:>8} {s['lost_s_mean']:>11.3f} {s['lost_s_max']:>10.3f} "
              f"{s['within_chunk_interval']:>8} {s['gaps']:>4}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({
            "args": {k: v for k, v in vars(args).items() if k != "json"}, "rows": rows, "summary": summary},
            indent=1))
    return 0 if rows and all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
