"""`hoi-eval-bag`: score a bag in one command.

    hoi-eval-bag BAG [--config config/evaluation.yaml] [--out DIR]
    hoi-eval-bag BAG --compare BAG2                 (two bags, one configuration, side by side)
    hoi-eval-bag BAG --compare-config other.yaml    (one bag, two configurations, side by side)

Replays BAG under /clock through the configured graph (every frame processed,
paced on the nodes' outputs, as fast as they answer), records the outputs,
computes every metric whose ground truth the bag holds, and writes
DIR/report.md (with plots) and DIR/report.json. Prints the report's path.
Exit codes: 0 done, 1 the replay or evaluation failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_BAD_ARGS = 0, 1, 2


def evaluate_one(bag: Path, config_path: Path, out_dir: Path, label: str, progress: bool = True) -> Any:
    """Replay + metrics of one bag through one configuration; writes out_dir/metrics.json; returns a RunResult."""
    from hoi_perception.evaluation.metrics import EvalContext, evaluate
    from hoi_perception.evaluation.replay import EvalConfig, replay_bag
    from hoi_perception.evaluation.report import RunResult, json_safe

    t0 = time.monotonic()
    cfg = EvalConfig.load(config_path)
    rep = replay_bag(bag, cfg, out_dir, progress=progress)
    t_metrics = time.monotonic()
    ctx = EvalContext.open(bag, rep.recording, cfg.metrics, rep.to_dict())
    metrics = evaluate(ctx)
    run = RunResult(label, str(bag), f"{cfg.name} ({config_path})", rep.to_dict(), metrics,
                    extra={"evaluation_wall_s": time.monotonic() - t0, "metrics_wall_s": time.monotonic() - t_metrics})
    (out_dir / "metrics.json").write_text(json.dumps(json_safe(run.to_dict()), indent=1))
    return run


def set_ros_domain(domain_id: int | None) -> str:
    """A domain of its own on the loopback: --domain-id, else ROS_DOMAIN_ID, else one from the pid."""
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if domain_id is not None:
        os.environ["ROS_DOMAIN_ID"] = str(domain_id)
    else:
        os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
    return os.environ["ROS_DOMAIN_ID"]


def _check_bag(p: Path) -> str | None:
    if not p.exists():
        return f"bag {p} does not exist"
    if p.is_dir() and not (p / "metadata.yaml").is_file() and not any(p.glob("*.mcap")):
        return f"{p} is not a rosbag2 bag (no metadata.yaml or .mcap)"
    return None


def main(argv: list[str] | None = None) -> int:
    from hoi_perception.evaluation.replay import EvalConfig, EvalConfigError, default_config_path

    ap = argparse.ArgumentParser(prog="hoi-eval-bag", description=__doc__.split("\n\n")[0])
    ap.add_argument("bag", type=Path)
    ap.add_argument("--config", type=Path, default=None, help="evaluation configuration (default: config/evaluation.yaml)")
    cmp = ap.add_mutually_exclusive_group()
    cmp.add_argument("--compare", type=Path, default=None, metavar="BAG2", help="a second bag, same configuration")
    cmp.add_argument("--compare-config", type=Path, default=None, metavar="CONFIG2",
                     help="the same bag through a second configuration")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: out/eval/<bag name>)")
    ap.add_argument("--domain-id", type=int, default=None, help="ROS_DOMAIN_ID of this evaluation (default: env or pid)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ns = ap.parse_args(argv)

    config = ns.config or default_config_path()
    runs_spec = [(ns.bag, config)]
    if ns.compare is not None:
        runs_spec.append((ns.compare, config))
    if ns.compare_config is not None:
        runs_spec.append((ns.bag, ns.compare_config))
    for bag, cfg_path in runs_spec:
        err = _check_bag(bag)
        if err:
            print(f"hoi-eval-bag: error: {err}", file=sys.stderr)
            return EXIT_BAD_ARGS
        try:
            EvalConfig.load(cfg_path)
        except EvalConfigError as e:
            print(f"hoi-eval-bag: error: {e}", file=sys.stderr)
            return EXIT_BAD_ARGS
    if ns.domain_id is not None and not 0 <= ns.domain_id <= 101:
        print("hoi-eval-bag: error: --domain-id must be in 0..101 (Fast DDS ports on Linux)", file=sys.stderr)
        return EXIT_BAD_ARGS
    out = ns.out or Path("out") / "eval" / ns.bag.name  # relative to where the user runs it
    domain = set_ros_domain(ns.domain_id)
    print(f"hoi-eval-bag: {len(runs_spec)} run(s), ROS domain {domain} (loopback), output {out}")
    from hoi_perception.evaluation.report import write_report

    runs = []
    try:
        for i, (bag, cfg_path) in enumerate(runs_spec):
            cfg = EvalConfig.load(cfg_path)
            label = f"{bag.name} [{cfg.name}]"
            if any(r.label == label for r in runs):
                label = f"{label} #{i + 1}"
            run_dir = out / f"run{i + 1}_{''.join(c if c.isalnum() else '_' for c in label)}"
            runs.append(evaluate_one(bag, cfg_path, run_dir, label, progress=not ns.no_progress))
            r = runs[-1]
            print(f"  {label}: bag {r.replay['bag_duration_s']:.2f} s, replay {r.replay['replay_wall_s']:.2f} s wall, "
                  f"evaluation {r.extra['evaluation_wall_s']:.2f} s wall; log {r.replay['log']}")
    except (RuntimeError, OSError, ValueError) as e:
        print(f"hoi-eval-bag: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    paths = write_report(runs, out, title=f"Replay evaluation of {ns.bag.name}")
    print(f"report: {paths['markdown']}")
    print(f"figures (JSON): {paths['json']}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
