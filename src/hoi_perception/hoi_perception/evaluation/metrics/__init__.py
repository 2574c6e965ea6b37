"""Metric registry of the replay evaluation: one module per metric family.

A family is an object with

* ``name``: its key in the report and in the JSON;
* ``applies(bag_topics, output_topics) -> bool``: whether the source bag holds
  its ground truth and the recording holds something to score (both
  ``{topic: pkg/msg/Type}``);
* ``compute(ctx: EvalContext) -> dict``: the figures. By convention the dict
  has ``summary`` (flat name -> number, the report's headline table),
  optionally ``series`` (name -> {t_s, value, unit}: plotted over time) and
  anything else (written to the JSON as it is).

Families are found in :data:`FAMILIES` in order; :func:`evaluate` runs every
family that applies. A new family (objects, contacts, CoCoNet ...) is one
module with a ``FAMILY`` object, added to :data:`FAMILY_MODULES`.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Mapping
from typing import Any, Protocol

from hoi_perception.evaluation.metrics.context import EvalContext

# Module names under hoi_perception.evaluation.metrics; each defines FAMILY.
FAMILY_MODULES = ("tracking", "body_pose", "object_pose", "contacts", "latency")


class MetricFamily(Protocol):
    name: str

    def applies(self, bag_topics: Mapping[str, str], output_topics: Mapping[str, str]) -> bool: ...

    def compute(self, ctx: EvalContext) -> dict[str, Any]: ...


def families() -> list[MetricFamily]:
    return [importlib.import_module(f"{__name__}.{m}").FAMILY for m in FAMILY_MODULES]


def evaluate(ctx: EvalContext, only: set[str] | None = None) -> dict[str, Any]:
    """{family name: figures} for every family that applies; ``skipped`` lists the others
    and why. A family that raises is reported as an error, the others still run."""
    out: dict[str, Any] = {"skipped": {}}
    for fam in families():
        if only is not None and fam.name not in only:
            continue
        if not fam.applies(ctx.bag_topics, ctx.output_topics):
            out["skipped"][fam.name] = "no ground truth in the bag or nothing recorded to score"
            continue
        try:
            out[fam.name] = fam.compute(ctx)
        except Exception as e:  # noqa: BLE001 - one broken family must not lose the others
            out[fam.name] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    return out


__all__ = ["FAMILY_MODULES", "EvalContext", "MetricFamily", "evaluate", "families"]
