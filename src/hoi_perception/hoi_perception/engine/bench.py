"""Engine benchmark: latency percentiles, throughput, and copy time apart from compute."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from .base import Engine


@dataclass
class BenchResult:
    model: str  # what ran, e.g. "sparse4d (test model)"
    contract: str
    backend: str
    device: str
    dims: dict[str, int]
    warmup: int
    iters: int
    latency_ms: dict[str, float]  # end-to-end run(): p50, p90, p99, mean
    throughput_per_s: float  # run() calls per second
    items_per_s: float  # calls/s x batch-like lead dim
    h2d_ms: float  # median host -> device copy of all inputs
    compute_ms: float  # median run_device()
    d2h_ms: float  # median device -> host copy of all outputs
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _pct(samples: Sequence[float]) -> dict[str, float]:
    a = np.asarray(samples) * 1e3
    return {"p50": float(np.percentile(a, 50)), "p90": float(np.percentile(a, 90)),
            "p99": float(np.percentile(a, 99)), "mean": float(a.mean())}


def benchmark(
    engine: Engine, inputs: Mapping[str, np.ndarray], *, warmup: int = 3, iters: int = 20, label: str | None = None,
    dims: Mapping[str, int] | None = None,
) -> BenchResult:
    """Time ``engine`` on ``inputs``: warm-up, then ``iters`` timed end-to-end runs and staged runs."""
    for _ in range(warmup):
        engine.run(inputs)
    e2e = []
    t_all = time.perf_counter()
    for _ in range(iters):
        t0 = time.perf_counter()
        engine.run(inputs)
        e2e.append(time.perf_counter() - t0)
    total = time.perf_counter() - t_all

    h2d, comp, d2h = [], [], []
    for _ in range(iters):
        t0 = time.perf_counter()
        dev = {k: engine.to_device(v) for k, v in inputs.items()}
        engine.synchronize()
        t1 = time.perf_counter()
        out = engine.run_device(dev)
        engine.synchronize()
        t2 = time.perf_counter()
        for v in out.values():
            v.numpy()
        t3 = time.perf_counter()
        h2d.append(t1 - t0)
        comp.append(t2 - t1)
        d2h.append(t3 - t2)

    first_out = next(iter(engine.bound_outputs))
    lead = first_out.shape[0]
    bound = dict(dims or {})
    if not bound:
        for spec in engine.bound_inputs:
            for d, s in zip(spec.shape, inputs[spec.name].shape, strict=True):
                if isinstance(d, str):
                    bound.setdefault(d, int(s))
    items = bound.get(lead, 1) if isinstance(lead, str) else 1
    notes = []
    if engine.device == "cpu":
        notes.append("host backend: to_device/numpy are host arrays, so h2d/d2h are ~0")
    if engine.is_stand_in:
        notes.append("stand-in engine: timings say nothing about the real model")
    return BenchResult(
        model=label or (engine.model_path.name if engine.model_path else engine.contract.name),
        contract=engine.contract.name, backend=engine.backend_name, device=engine.device, dims=bound,
        warmup=warmup, iters=iters, latency_ms=_pct(e2e), throughput_per_s=iters / total,
        items_per_s=iters * items / total, h2d_ms=float(np.median(h2d) * 1e3),
        compute_ms=float(np.median(comp) * 1e3), d2h_ms=float(np.median(d2h) * 1e3), notes=notes,
    )


def format_table(results: Sequence[BenchResult]) -> str:
    """Fixed-width table, one row per engine."""
    head = ["model", "backend", "dims", "p50 ms", "p90 ms", "p99 ms", "calls/s", "items/s", "h2d ms", "compute ms",
            "d2h ms"]
    rows = []
    for r in results:
        rows.append([
            r.model, r.backend, ",".join(f"{k}={v}" for k, v in r.dims.items()),
            f"{r.latency_ms['p50']:.2f}", f"{r.latency_ms['p90']:.2f}", f"{r.latency_ms['p99']:.2f}",
            f"{r.throughput_per_s:.1f}", f"{r.items_per_s:.1f}", f"{r.h2d_ms:.3f}", f"{r.compute_ms:.2f}",
            f"{r.d2h_ms:.3f}",
        ])
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    notes = sorted({n for r in results for n in r.notes})
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)
