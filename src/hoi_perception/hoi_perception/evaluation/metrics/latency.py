"""Per-node latency percentiles and drop counts of a replay.

Two sources:

* the paced replay (replay.json ``pacing``): per output topic, the wall time
  from publishing a frame to the arrival of the output that answers it
  (end-to-end through the node, DDS included: p50/p90/p99/max), frames without
  an answer (``missing``: dropped or never emitted) and pacing timeouts;
* /diagnostics as recorded: the last value each node reported under every
  key that names a latency (``*latency*``, ``*_ms*``) or a drop / error
  counter (``*drop*``, ``*error*``, ``bad_*``, ``missing*``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hoi_perception.evaluation.metrics.context import EvalContext

DIAGNOSTICS = "/diagnostics"
DROP_KEYS = ("drop", "error", "bad_", "missing", "timeout")


def percentiles(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "max": float("nan"), "n": 0}
    return {"p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90)),
            "p99": float(np.percentile(v, 99)), "max": float(v.max()), "n": int(len(v))}


def _number(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


class LatencyFamily:
    name = "latency"

    def applies(self, bag_topics: Mapping[str, str], output_topics: Mapping[str, str]) -> bool:
        return True  # every replay has pacing figures; /diagnostics when recorded

    def compute(self, ctx: EvalContext) -> dict[str, Any]:
        out: dict[str, Any] = {"outputs": {}, "nodes": {}, "summary": {}, "samples_ms": {}}
        pacing = (ctx.replay or {}).get("pacing", {})
        for topic, p in pacing.items():
            lat = [float(x) for x in p.get("latency_ms", [])]
            out["outputs"][topic] = {**percentiles(lat), "frames": p["frames"], "answered": p["answered"],
                                     "missing": p["missing"], "timeouts": p["timeouts"], "trigger": p["trigger"]}
            out["samples_ms"][topic] = lat
            out["summary"][f"latency p50 {topic} (ms)"] = out["outputs"][topic]["p50"]
            out["summary"][f"latency p99 {topic} (ms)"] = out["outputs"][topic]["p99"]
            out["summary"][f"frames without output {topic}"] = p["missing"]
        if DIAGNOSTICS in ctx.output_topics:
            for _, msg in ctx.messages("recording", DIAGNOSTICS):
                for st in msg.status:
                    node = str(st.name)
                    d = out["nodes"].setdefault(node, {"latency": {}, "drops": {}, "level": 0, "message": ""})
                    d["level"] = int(st.level[0] if isinstance(st.level, (bytes, bytearray)) else st.level)
                    d["message"] = str(st.message)
                    for kv in st.values:
                        key, val = str(kv.key), _number(str(kv.value))
                        if val is None:
                            continue
                        k = key.lower()
                        if "latency" in k or "_ms" in k:
                            d["latency"][key] = val
                        elif any(s in k for s in DROP_KEYS):
                            d["drops"][key] = val
            for node, d in out["nodes"].items():
                total = sum(v for v in d["drops"].values())
                out["summary"][f"drops+errors {node}"] = total
        return out


FAMILY = LatencyFamily()
