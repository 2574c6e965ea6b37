"""`hoi-eval-batch`: evaluate many bags, one after another or in parallel on Dask.

    hoi-eval-batch BAG [BAG ...] [--config C] [--out DIR]                     (local, one after another)
    hoi-eval-batch BAGS... --dask local --workers 2                           (a LocalCluster of processes)
    hoi-eval-batch BAGS... --dask tcp://scheduler:8786                        (an existing Dask cluster)

Each bag is one task: `hoi-eval-bag BAG --out DIR/<i>_<name> --domain-id D
--no-progress` as a subprocess on whichever host runs the task, so every
evaluation has its own rclpy process, its own node processes and its own
ROS domain (D = ``--domain-base`` + i, wrapped into 1..100; discovery stays on
each host's loopback, so equal ids on different hosts never meet). Paths
(bags, config, output) must be the same on every worker host (a shared file
system), see docs/evaluation.md. The batch writes DIR/batch.json (every
run's figures) and DIR/batch.md (one row per bag).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BagTask:
    index: int
    bag: str
    out_dir: str
    config: str
    domain_id: int
    timeout_s: float


def domain_for(index: int, base: int) -> int:
    """Domain ids 1..100 (Fast DDS maps them to valid ports on Linux), one per concurrent task."""
    return 1 + (base - 1 + index) % 100


def run_task(task: BagTask) -> dict[str, Any]:
    """One bag through `hoi-eval-bag` in a subprocess; returns its metrics.json (or the failure)."""
    cmd = [sys.executable, "-m", "hoi_perception.evaluation.eval_bag_cli", task.bag, "--out", task.out_dir,
           "--domain-id", str(task.domain_id), "--no-progress"]
    if task.config:
        cmd += ["--config", task.config]
    t0 = time.monotonic()
    log = Path(task.out_dir) / "hoi-eval-bag.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as sink:
        try:
            rc = subprocess.run(cmd, stdout=sink, stderr=subprocess.STDOUT, timeout=task.timeout_s).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    result: dict[str, Any] = {"index": task.index, "bag": task.bag, "out_dir": task.out_dir, "exit_code": rc,
                              "domain_id": task.domain_id, "wall_s": time.monotonic() - t0, "log": str(log)}
    metrics = sorted(Path(task.out_dir).glob("run1_*/metrics.json"))
    if rc == 0 and metrics:
        result["run"] = json.loads(metrics[0].read_text())
    return result


def make_tasks(bags: list[Path], out: Path, config: Path | None, domain_base: int, timeout_s: float) -> list[BagTask]:
    return [BagTask(i, str(b.resolve()), str((out / f"{i:03d}_{b.name}").resolve()),
                    str(config.resolve()) if config else "", domain_for(i, domain_base), timeout_s)
            for i, b in enumerate(bags)]


def run_batch(tasks: list[BagTask], dask: str = "none", workers: int = 2, progress: bool = False) -> list[dict[str, Any]]:
    """``dask``: "none" (here, one after another), "local" (a LocalCluster of ``workers``
    single-threaded processes), or a scheduler address."""
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), unit="bag", desc="bags", disable=not progress, file=sys.stderr)
    if dask == "none":
        out = []
        for t in tasks:
            out.append(run_task(t))
            bar.update(1)
        bar.close()
        return out
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) \
        if dask == "local" else None
    client = Client(cluster) if cluster is not None else Client(dask)
    try:
        # pure=False: a task is a run, re-running it is not a cache hit
        futures = [client.submit(run_task, t, pure=False, key=f"hoi-eval-{t.index}") for t in tasks]
        results = []
        for f in as_completed(futures):
            results.append(f.result())
            bar.update(1)
    finally:
        bar.close()
        client.close()
        if cluster is not None:
            cluster.close()
    return sorted(results, key=lambda r: r["index"])


def write_batch_report(results: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    from hoi_perception.evaluation.report import _fmt, json_safe

    out.mkdir(parents=True, exist_ok=True)
    js = out / "batch.json"
    js.write_text(json.dumps(json_safe(results), indent=1))
    keys: list[str] = []
    for r in results:
        for fam, m in r.get("run", {}).get("metrics", {}).items():
            if isinstance(m, dict):
                keys += [f"{fam}: {k}" for k in m.get("summary", {}) if f"{fam}: {k}" not in keys]
    lines = ["# Batch evaluation", "", "| bag | exit | wall s | bag s | " + " | ".join(keys) + " | report |",
             "|---|---|---|---|" + "---|" * len(keys) + "---|"]
    for r in results:
        run = r.get("run", {})
        vals = []
        for k in keys:
            fam, name = k.split(": ", 1)
            vals.append(_fmt(run.get("metrics", {}).get(fam, {}).get("summary", {}).get(name)))
        lines.append(f"| {Path(r['bag']).name} | {r['exit_code']} | {r['wall_s']:.1f} | "
                     f"{_fmt(run.get('replay', {}).get('bag_duration_s'))} | " + " | ".join(vals)
                     + f" | {Path(r['out_dir']) / 'report.md'} |")
    md = out / "batch.md"
    md.write_text("\n".join(lines) + "\n")
    return md, js


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hoi-eval-batch", description=__doc__.split("\n\n")[0])
    ap.add_argument("bags", type=Path, nargs="+")
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("out/eval_batch"))
    ap.add_argument("--dask", default="none", help="none (default: one after another here) | local | tcp://host:port")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (--dask local)")
    ap.add_argument("--domain-base", type=int, default=10, help="ROS domain id of the first bag (then +1 per bag)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per bag before it is stopped")
    ns = ap.parse_args(argv)
    missing = [str(b) for b in ns.bags if not b.exists()]
    if missing:
        print(f"hoi-eval-batch: error: no such bag: {', '.join(missing)}", file=sys.stderr)
        return 2
    if ns.workers < 1 or ns.timeout <= 0:
        print("hoi-eval-batch: error: --workers must be >= 1 and --timeout > 0", file=sys.stderr)
        return 2
    tasks = make_tasks(list(ns.bags), ns.out, ns.config, ns.domain_base, ns.timeout)
    t0 = time.monotonic()
    print(f"hoi-eval-batch: {len(tasks)} bags, scheduler {ns.dask}, output {ns.out}")
    results = run_batch(tasks, ns.dask, ns.workers, progress=True)
    md, _ = write_batch_report(results, ns.out)
    failed = [r for r in results if r["exit_code"] != 0]
    print(f"{len(results) - len(failed)} of {len(results)} bags evaluated in {time.monotonic() - t0:.1f} s; "
          f"report: {md}")
    for r in failed:
        print(f"  FAILED ({r['exit_code']}): {r['bag']}, log {r['log']}", file=sys.stderr)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
