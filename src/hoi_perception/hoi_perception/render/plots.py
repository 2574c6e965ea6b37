"""Plots a person would rather look at than read (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on robots' compute boxes or CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

METRICS = ("HOTA", "DetA", "AssA", "LocA")


def hota_bar_chart(report: dict[str, Any], path: Path | str, title: str = "") -> Path:
    """Grouped bars of HOTA, DetA, AssA and LocA per class plus the average,
    from ``HotaReport.to_dict()`` (values in percent)."""
    rows = {**report["per_class"], "Average": report["average"]}
    names = list(rows)
    x = np.arange(len(names))
    width = 0.8 / len(METRICS)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(names)), 4.0), dpi=110)
    for i, m in enumerate(METRICS):
        vals = [float(rows[n].get(m, 0.0)) for n in names]
        bars = ax.bar(x + (i - (len(METRICS) - 1) / 2) * width, vals, width, label=m)
        if m == "HOTA":
            ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(x, [n.replace("_", " ") for n in names], rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title(title or f"3D tracking per class ({report.get('similarity', '')})", fontsize=9)
    ax.legend(ncols=len(METRICS), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.28))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
