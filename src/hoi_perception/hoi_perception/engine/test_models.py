"""Tiny ONNX models that satisfy a contract exactly (names, dtypes, dynamic dims).

Generated with the onnx helper API (never committed as binaries) so every
adapter runs end to end on the CPU. The graphs are cheap, deterministic
functions of *all* inputs, mirrored in numpy by :func:`reference_outputs`:

* s[lead] = sum over inputs of mean(float(input)) over every axis but the
  lead dim (the first dim of the first output: N, B or T);
* a float output = s[lead, None...] * W + Bias (W, Bias seeded per output);
  an output equal to an input's shape minus one channel axis (e.g. per-view
  masks from per-view renders) = 0.5 * mean over that axis + s;
* an integer output = floor(|s * 0 + W|) (exact, so ONNX Runtime and numpy agree bit for bit);
* an output whose conventions declare an ``identity`` value (CoCoNet's deltas:
  the value that leaves the initial estimate unchanged) =
  identity + DELTA_SCALE * (s * W + Bias), so decoding stays near the initial
  estimate and still depends on every input.

Output-only dims (Sparse4D's M) take the contract's ``example`` size.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .contract import DTYPE_TO_ONNX_ELEM, Contract, TensorSpec, load_contract

OPSET = 17
DELTA_SCALE = 0.01  # perturbation of outputs that declare an identity value
IR_VERSION = 8  # readable by TensorRT 10's parser and any onnxruntime >= 1.10


@dataclass(frozen=True)
class _Plan:
    lead: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    # output name -> (input name, channel axis) for "reduce one axis" outputs
    channel_mean: Mapping[str, tuple[str, int]]


def _plan(contract: Contract, include_optional: bool) -> _Plan:
    ins = tuple(s for s in contract.inputs.values() if include_optional or not s.optional)
    outs = tuple(s for s in contract.outputs.values() if include_optional or not s.optional)
    lead = outs[0].shape[0]
    if not isinstance(lead, str):
        raise ValueError(f"{contract.name}: first output must start with a dynamic dim to drive the test model")
    for s in ins:
        if lead not in s.shape:
            raise ValueError(f"{contract.name}: input {s.name} lacks the lead dim {lead}")
    chan: dict[str, tuple[str, int]] = {}
    for o in outs:
        if "identity" in o.conventions:  # a delta output stays a small perturbation of its identity
            continue
        best = None
        for s in ins:
            for ax in range(s.rank):
                if s.shape[:ax] + s.shape[ax + 1:] == o.shape and s.rank > 2:
                    common = len(_common_prefix(s.name, o.name))
                    if best is None or common > best[0]:
                        best = (common, s.name, ax)
        if best is not None:
            chan[o.name] = (best[1], best[2])
    return _Plan(lead, ins, outs, chan)


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _rest_shape(contract: Contract, spec: TensorSpec) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else contract.dims[d].example for d in spec.shape[1:])


def _weights(spec: TensorSpec, rest: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(spec.name.encode()) + seed)
    if np.issubdtype(spec.np_dtype, np.integer):
        return rng.integers(0, 7, size=rest).astype(np.float32), np.zeros(rest, np.float32)
    w = rng.uniform(-1, 1, size=rest).astype(np.float32)
    b = rng.uniform(-1, 1, size=rest).astype(np.float32)
    identity = identity_value(spec, rest)
    if identity is not None:  # y = s*W' + B' with W' = scale*W, B' = identity + scale*B
        return (w * DELTA_SCALE).astype(np.float32), (identity + b * DELTA_SCALE).astype(np.float32)
    return w, b


def identity_value(spec: TensorSpec, rest: tuple[int, ...]) -> np.ndarray | None:
    """The per-item value of an output that leaves the initial estimate unchanged
    (``conventions.identity`` tiled over the trailing dims), or None."""
    if "identity" not in spec.conventions:
        return None
    ident = np.asarray(spec.conventions["identity"], dtype=np.float32).reshape(-1)
    n = int(np.prod(rest))
    if n % ident.size:
        raise ValueError(f"output {spec.name}: identity of {ident.size} values does not tile {rest}")
    return np.tile(ident, n // ident.size).reshape(rest)


def make_test_model(name: str | Contract, path: str | Path, *, include_optional: bool = True, seed: int = 0) -> Path:
    """Write a tiny ONNX model for contract ``name`` to ``path`` and return the path."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    contract = load_contract(name) if isinstance(name, str) else name
    plan = _plan(contract, include_optional)
    nodes, inits = [], []

    def vi(spec: TensorSpec):  # value info with named dynamic dims
        return helper.make_tensor_value_info(spec.name, DTYPE_TO_ONNX_ELEM[spec.dtype], list(spec.shape))

    partials = []
    for s in plan.inputs:
        x = s.name
        if s.dtype != "float32":
            nodes.append(helper.make_node("Cast", [x], [f"{x}__f"], to=TensorProto.FLOAT))
            x = f"{x}__f"
        lead_ax = s.shape.index(plan.lead)
        axes = [a for a in range(s.rank) if a != lead_ax]
        if axes:
            nodes.append(helper.make_node("ReduceMean", [x], [f"{s.name}__m"], axes=axes, keepdims=0))
            x = f"{s.name}__m"
        partials.append(x)
    nodes.append(helper.make_node("Sum", partials, ["s"]))

    for o in plan.outputs:
        if o.name in plan.channel_mean:
            src, ax = plan.channel_mean[o.name]
            nodes.append(helper.make_node("ReduceMean", [src], [f"{o.name}__c"], axes=[ax], keepdims=0))
            inits.append(numpy_helper.from_array(np.float32(0.5), f"{o.name}__half"))
            nodes.append(helper.make_node("Mul", [f"{o.name}__c", f"{o.name}__half"], [f"{o.name}__h"]))
            inits.append(numpy_helper.from_array(np.arange(1, o.rank, dtype=np.int64), f"{o.name}__ax"))
            nodes.append(helper.make_node("Unsqueeze", ["s", f"{o.name}__ax"], [f"{o.name}__s"]))
            nodes.append(helper.make_node("Add", [f"{o.name}__h", f"{o.name}__s"], [o.name]))
            continue
        rest = _rest_shape(contract, o)
        w, b = _weights(o, rest, seed)
        inits += [numpy_helper.from_array(w, f"{o.name}__w"), numpy_helper.from_array(b, f"{o.name}__b")]
        inits.append(numpy_helper.from_array(np.arange(1, o.rank, dtype=np.int64), f"{o.name}__ax"))
        nodes.append(helper.make_node("Unsqueeze", ["s", f"{o.name}__ax"], [f"{o.name}__s"]))
        if np.issubdtype(o.np_dtype, np.integer):
            inits.append(numpy_helper.from_array(np.float32(0.0), f"{o.name}__zero"))
            nodes += [
                helper.make_node("Mul", [f"{o.name}__s", f"{o.name}__zero"], [f"{o.name}__z"]),
                helper.make_node("Add", [f"{o.name}__z", f"{o.name}__w"], [f"{o.name}__y"]),
                helper.make_node("Abs", [f"{o.name}__y"], [f"{o.name}__a"]),
                helper.make_node("Floor", [f"{o.name}__a"], [f"{o.name}__fl"]),
                helper.make_node("Cast", [f"{o.name}__fl"], [o.name], to=DTYPE_TO_ONNX_ELEM[o.dtype]),
            ]
        else:
            nodes.append(helper.make_node("Mul", [f"{o.name}__s", f"{o.name}__w"], [f"{o.name}__y"]))
            target = o.name if o.dtype == "float32" else f"{o.name}__o"
            nodes.append(helper.make_node("Add", [f"{o.name}__y", f"{o.name}__b"], [target]))
            if o.dtype != "float32":
                nodes.append(helper.make_node("Cast", [target], [o.name], to=DTYPE_TO_ONNX_ELEM[o.dtype]))

    graph = helper.make_graph(nodes, f"{contract.name}_test_model", [vi(s) for s in plan.inputs],
                              [vi(o) for o in plan.outputs], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="hoi_perception")
    model.ir_version = IR_VERSION
    model.doc_string = f"test model for contract {contract.name} v{contract.version}: not a real network"
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def reference_outputs(
    name: str | Contract, inputs: Mapping[str, np.ndarray], *, include_optional: bool = True, seed: int = 0
) -> dict[str, np.ndarray]:
    """What the test model computes, in numpy."""
    contract = load_contract(name) if isinstance(name, str) else name
    plan = _plan(contract, include_optional)
    s = None
    for spec in plan.inputs:
        x = inputs[spec.name].astype(np.float32)
        lead_ax = spec.shape.index(plan.lead)
        axes = tuple(a for a in range(spec.rank) if a != lead_ax)
        m = x.mean(axis=axes, dtype=np.float64).astype(np.float32) if axes else x
        s = m if s is None else s + m
    assert s is not None
    out: dict[str, np.ndarray] = {}
    for o in plan.outputs:
        sx = s.reshape((-1,) + (1,) * (o.rank - 1))
        if o.name in plan.channel_mean:
            src, ax = plan.channel_mean[o.name]
            c = inputs[src].astype(np.float32).mean(axis=ax, dtype=np.float64).astype(np.float32)
            out[o.name] = (c * np.float32(0.5) + sx).astype(np.float32)
            continue
        w, b = _weights(o, _rest_shape(contract, o), seed)
        if np.issubdtype(o.np_dtype, np.integer):
            out[o.name] = np.floor(np.abs(sx * 0 + w)).astype(o.np_dtype)
        else:
            out[o.name] = (sx * w + b).astype(o.np_dtype)
    return out
