"""The replay evaluation's report: Markdown with PNG plots, and a JSON with every figure.

One or more runs (a bag through a configuration, with its metrics) go side by
side: the headline table has one column per run, every plot one bar or line
per run. Plots: HOTA per class (bars), each ``series`` of a metric family
over bag time (error over time), and the latency CDF of every paced output.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class RunResult:
    label: str
    bag: str
    config: str
    replay: dict[str, Any]
    metrics: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "bag": self.bag, "config": self.config, "replay": self.replay,
                "metrics": self.metrics, **self.extra}


def json_safe(x: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python, so the JSON is strict."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_hota_bars(runs: list[RunResult], path: Path) -> Path | None:
    bars: dict[str, dict[str, float]] = {}  # "run | topic" -> class -> HOTA
    for r in runs:
        for topic, t in r.metrics.get("tracking", {}).get("topics", {}).items():
            if "per_class" in t:
                bars[f"{r.label} {topic}"] = {c: v["HOTA"] for c, v in t["per_class"].items()}
                bars[f"{r.label} {topic}"]["Average"] = t["average"]["HOTA"]
    if not bars:
        return None
    plt = _plt()
    classes = sorted({c for b in bars.values() for c in b if c != "Average"}) + ["Average"]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(classes) * max(1, len(bars)) / 1.5), 4))
    width = 0.8 / len(bars)
    x = np.arange(len(classes))
    for i, (name, vals) in enumerate(bars.items()):
        ys = [vals.get(c, np.nan) for c in classes]
        b = ax.bar(x + (i - (len(bars) - 1) / 2) * width, ys, width, label=name)
        ax.bar_label(b, fmt="%.1f", fontsize=7)
    ax.set_xticks(x, classes, rotation=20, ha="right")
    ax.set_ylabel("HOTA (%)")
    ax.set_ylim(0, 105)
    ax.set_title("HOTA per class")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_series(runs: list[RunResult], name: str, path: Path) -> Path | None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    unit, drawn = "", 0
    for r in runs:
        for fam in r.metrics.values():
            if isinstance(fam, dict) and name in fam.get("series", {}):
                s = fam["series"][name]
                if s["t_s"]:
                    ax.plot(s["t_s"], s["value"], marker=".", lw=1, label=r.label)
                    drawn += 1
                unit = s.get("unit", "")
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("bag time (s)")
    ax.set_ylabel(unit)
    ax.set_title(f"{name} over time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_latency_cdf(runs: list[RunResult], path: Path) -> Path | None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    drawn = 0
    for r in runs:
        for topic, samples in r.metrics.get("latency", {}).get("samples_ms", {}).items():
            if not samples:
                continue
            v = np.sort(np.asarray(samples, dtype=np.float64))
            ax.step(v, np.arange(1, len(v) + 1) / len(v), where="post", label=f"{r.label} {topic}")
            drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("frame published -> output received (ms, wall clock)")
    ax.set_ylabel("fraction of frames")
    ax.set_title("Latency CDF per output")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in s).strip("_")


def write_report(runs: list[RunResult], out_dir: Path, title: str = "Replay evaluation") -> dict[str, Path]:
    """report.md + report.json + plots/*.png in ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = out_dir / "plots"
    plots.mkdir(exist_ok=True)
    images: list[tuple[str, Path]] = []
    p = plot_hota_bars(runs, plots / "hota_per_class.png")
    if p:
        images.append(("HOTA per class", p))
    series = sorted({n for r in runs for fam in r.metrics.values() if isinstance(fam, dict)
                     for n in fam.get("series", {})})
    for name in series:
        p = plot_series(runs, name, plots / f"series_{_slug(name)}.png")
        if p:
            images.append((f"{name} over time", p))
    p = plot_latency_cdf(runs, plots / "latency_cdf.png")
    if p:
        images.append(("Latency CDF", p))

    labels = [r.label for r in runs]
    lines = [f"# {title}", ""]
    lines += ["| | " + " | ".join(labels) + " |", "|---|" + "---|" * len(runs)]
    rows = [("bag", [r.bag for r in runs]), ("configuration", [r.config for r in runs]),
            ("bag duration (s)", [r.replay.get("bag_duration_s") for r in runs]),
            ("evaluation wall time (s)", [r.extra.get("evaluation_wall_s") for r in runs]),
            ("replay wall time (s)", [r.replay.get("replay_wall_s") for r in runs]),
            ("replay speed (bag s / replay wall s)",
             [(r.replay.get("bag_duration_s") or 0) / r.replay["replay_wall_s"] if r.replay.get("replay_wall_s")
              else None for r in runs]),
            ("frames replayed", [", ".join(f"{t}: {n}" for t, n in r.replay.get("frames", {}).items()) for r in runs])]
    for name, vals in rows:
        lines.append(f"| {name} | " + " | ".join(_fmt(v) for v in vals) + " |")
    lines += ["", "## Headline figures", "", "| metric | " + " | ".join(labels) + " |", "|---|" + "---|" * len(runs)]
    fams = [f for f in ("tracking", "body_pose", "object_pose", "contacts", "latency")
            if any(f in r.metrics for r in runs)]
    fams += sorted({f for r in runs for f in r.metrics if f not in fams and f != "skipped"})
    for fam in fams:
        keys: list[str] = []
        for r in runs:
            for k in r.metrics.get(fam, {}).get("summary", {}):
                if k not in keys:
                    keys.append(k)
        for k in keys:
            lines.append(f"| {fam}: {k} | " + " | ".join(_fmt(r.metrics.get(fam, {}).get("summary", {}).get(k))
                                                        for r in runs) + " |")
    for r in runs:
        for fam, why in r.metrics.get("skipped", {}).items():
            lines.append(f"| {fam} ({r.label}) | not computed: {why} |" + " |" * (len(runs) - 1))
        for fam, res in r.metrics.items():
            if isinstance(res, dict) and "error" in res:
                lines.append(f"| {fam} ({r.label}) | ERROR: {res['error']} |" + " |" * (len(runs) - 1))

    lines += _tracking_section(runs) + _latency_section(runs)
    lines += ["", "## Plots", ""]
    for caption, path in images:
        lines += [f"### {caption}", "", f"![{caption}]({path.relative_to(out_dir)})", ""]
    lines += ["", "Every figure (and the per-frame samples) is in `report.json`."]
    md = out_dir / "report.md"
    md.write_text("\n".join(lines) + "\n")
    js = out_dir / "report.json"
    js.write_text(json.dumps(json_safe({"title": title, "runs": [r.to_dict() for r in runs],
                                        "plots": {c: str(p) for c, p in images}}), indent=1))
    return {"markdown": md, "json": js, **{c: p for c, p in images}}


def _tracking_section(runs: list[RunResult]) -> list[str]:
    lines: list[str] = []
    for r in runs:
        for topic, t in r.metrics.get("tracking", {}).get("topics", {}).items():
            if "per_class" not in t:
                continue
            lines += ["", f"## Tracking: {topic} ({r.label})", "",
                      "| class | HOTA | DetA | AssA | LocA | IDSW | GT dets | tracker dets |", "|---|---|---|---|---|---|---|---|"]
            for c, v in t["per_class"].items():
                lines.append(f"| {c} | {_fmt(v['HOTA'])} | {_fmt(v['DetA'])} | {_fmt(v['AssA'])} | {_fmt(v['LocA'])} | "
                             f"{v['IDSW']} | {v['gt_dets']} | {v['tracker_dets']} |")
            a = t["average"]
            lines.append(f"| **Average** | {_fmt(a['HOTA'])} | {_fmt(a['DetA'])} | {_fmt(a['AssA'])} | "
                         f"{_fmt(a['LocA'])} | | | |")
            board = t.get("leaderboard", {}).get("final")
            if board:
                lines += ["", f"AI City leaderboard protocol (class mean per scene over scene x class pairs with "
                              f"ground truth and predictions, scenes weighted by ground-truth rows): HOTA "
                              f"{_fmt(board['HOTA'])}, DetA {_fmt(board['DetA'])}, AssA {_fmt(board['AssA'])}, "
                              f"LocA {_fmt(board['LocA'])}. The table above pools each class over scenes and "
                              f"averages every class, one the tracker never reports included."]
    return lines


def _latency_section(runs: list[RunResult]) -> list[str]:
    lines: list[str] = []
    for r in runs:
        lat = r.metrics.get("latency", {})
        if not lat:
            continue
        lines += ["", f"## Latency and drops ({r.label})", "",
                  "| output | trigger | frames | answered | missing | timeouts | p50 ms | p90 ms | p99 ms | max ms |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for topic, o in lat.get("outputs", {}).items():
            lines.append(f"| {topic} | {o['trigger']} | {o['frames']} | {o['answered']} | {o['missing']} | "
                         f"{o['timeouts']} | {_fmt(o['p50'])} | {_fmt(o['p90'])} | {_fmt(o['p99'])} | {_fmt(o['max'])} |")
        if lat.get("nodes"):
            lines += ["", "| /diagnostics status | latency (last reported) | drops / errors (last reported) |",
                      "|---|---|---|"]
            for node, d in sorted(lat["nodes"].items()):
                la = ", ".join(f"{k} {_fmt(v)}" for k, v in d["latency"].items()) or "–"
                dr = ", ".join(f"{k} {_fmt(v)}" for k, v in d["drops"].items()) or "–"
                lines.append(f"| {node} | {la} | {dr} |")
    return lines
