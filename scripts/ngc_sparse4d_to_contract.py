#!/usr/bin/env python3
"""Turn TAO's raw Sparse4D ONNX (NGC / `tao model sparse4d export`) into a graph that meets contracts/sparse4d.yaml.

TAO's exporter (NVIDIA/tao_pytorch_backend nvidia_tao_pytorch/cv/sparse4d/utils/onnx_export.py) writes the
network up to its raw head outputs: classification1/2 [B, 900, C] (logits), prediction1..6 [B, 900, 11]
(anchors of each decoder layer, model frame), quality1/2 [B, 900, 2] (centerness, yawness logits) and
output_cached_feature/anchor [B, 900, 256 / 11]. DeepStream and TAO decode these on the host. This script
appends the decode step as ONNX operators, following TAO's SparseBox3DDecoder in tracking mode
(model/detection3d/decoder.py: with instance ids, ``squeeze_cls``: per query the max class score and its
class, top ``num_output`` queries, score = sigmoid(cls) * sigmoid(centerness) of the last layer, sorted
descending, boxes = decode_box(last prediction): exp of the sizes, atan2(sin, cos)), and writes the
contract's outputs:

  boxes_3d [B, K, 10] (model frame), scores_3d [B, K], labels_3d [B, K] int64, cls_scores [B, K],
  instance_ids [B, K] int64 = the query index of each row (the host bank's row-to-slot contract),
  instance_feats [B, K, 256], output_cached_feature / output_cached_anchor (all 900 queries, unchanged),
  output_cached_confidence [B, 900] = sigmoid of the max class logit (what InstanceBank.cache ranks by).

K = --num-output (TAO's spec: 300). No score threshold inside the graph: the host applies the new-id
(0.05) and reporting (0.2) thresholds.

The graph still contains TAO's ``nv::MSDA`` node (multi-scale deformable aggregation). Plain ONNX Runtime
has no kernel for it: build a TensorRT engine with the MSDA plugin library from the TAO deploy /
DeepStream distribution (engines/README.md, docs/ngc_sparse4d.md) and point the node's model parameter at
the .onnx or the plan.

    python scripts/ngc_sparse4d_to_contract.py sparse4d_raw.onnx sparse4d_contract.onnx [--num-output 300]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

RAW_OUTPUTS = ("classification2", "prediction6", "quality2", "output_cached_feature", "output_cached_anchor")
CONTRACT_OUTPUTS = ("boxes_3d", "scores_3d", "labels_3d", "cls_scores", "instance_ids", "instance_feats",
                    "output_cached_feature", "output_cached_anchor", "output_cached_confidence")
PREFIX = "hoi_decode_"


def append_decode(model: Any, num_output: int = 300) -> Any:
    """The raw TAO Sparse4D ModelProto with the tracking-mode decode appended (see the module docstring)."""
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    names = {o.name for o in g.output}
    missing = [n for n in RAW_OUTPUTS if n not in names]
    if missing:
        raise ValueError(f"not a raw TAO Sparse4D graph: outputs {missing} missing (has {sorted(names)})")
    nodes: list[Any] = []
    inits: list[Any] = []

    def n(s: str) -> str:
        return PREFIX + s

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(arr), n(name)))
        return n(name)

    def node(op: str, ins: list[str], out: str, **kw: Any) -> str:
        nodes.append(helper.make_node(op, ins, [n(out)], name=n(out), **kw))
        return n(out)

    k = const("k", np.array([int(num_output)], np.int64))
    # Per query: max class probability and its class (squeeze_cls); sigmoid is monotonic, so
    # max(sigmoid) = sigmoid(max) = what InstanceBank.cache() ranks queries by.
    prob = node("Sigmoid", ["classification2"], "prob")
    cls_max = node("ReduceMax", [prob], "cls_max", axes=[-1], keepdims=0)  # [B, 900]
    cls_id = node("ArgMax", [prob], "cls_id", axis=-1, keepdims=0)  # [B, 900] int64
    nodes.append(helper.make_node("Identity", [cls_max], ["output_cached_confidence"], name=n("conf_out")))
    # Top num_output queries by class score, then re-sorted by score = cls * sigmoid(centerness).
    nodes.append(helper.make_node("TopK", [cls_max, k], [n("top_cls"), n("top_q")], axis=-1, largest=1, sorted=1,
                                  name=n("topk1")))
    cns = node("Slice", ["quality2", const("s0", np.array([0], np.int64)), const("s1", np.array([1], np.int64)),
                         const("ax", np.array([-1], np.int64))], "cns")  # [B, 900, 1]
    cns = node("Squeeze", [cns, const("ax2", np.array([-1], np.int64))], "cns_sq")
    cns_top = node("GatherElements", [cns, n("top_q")], "cns_top", axis=1)
    score = node("Mul", [n("top_cls"), node("Sigmoid", [cns_top], "cns_prob")], "score")
    nodes.append(helper.make_node("TopK", [score, k], ["scores_3d", n("order")], axis=-1, largest=1, sorted=1,
                                  name=n("topk2")))
    q = node("GatherElements", [n("top_q"), n("order")], "q", axis=1)  # query index per row [B, K]
    nodes.append(helper.make_node("Identity", [q], ["instance_ids"], name=n("ids_out")))
    nodes.append(helper.make_node("GatherElements", [n("top_cls"), n("order")], ["cls_scores"], axis=1,
                                  name=n("cls_out")))
    nodes.append(helper.make_node("GatherElements", [cls_id, q], ["labels_3d"], axis=1, name=n("labels_out")))
    # Rows of [B, 900, D] tensors at q: Gather on axis 1 per batch element (B = 1 in the contract).
    q0 = node("Squeeze", [q, const("ax0", np.array([0], np.int64))], "q0")  # [K]
    feats = node("Gather", ["output_cached_feature", q0], "feats", axis=1)  # [B, K, 256]
    nodes.append(helper.make_node("Identity", [feats], ["instance_feats"], name=n("feats_out")))
    a = node("Gather", ["prediction6", q0], "anchors", axis=1)  # [B, K, 11]

    def cols(lo: int, hi: int, name: str) -> str:
        return node("Slice", [a, const(f"{name}_lo", np.array([lo], np.int64)), const(f"{name}_hi", np.array([hi], np.int64)),
                              const(f"{name}_ax", np.array([-1], np.int64))], name)

    xyz, wlh, sin, cos, vel = cols(0, 3, "xyz"), cols(3, 6, "wlh"), cols(6, 7, "sin"), cols(7, 8, "cos"), cols(8, 11, "vel")
    size = node("Exp", [wlh], "size")
    # atan2(sin, cos) from Atan and the quadrant (ONNX has no Atan2).
    zero, one = const("zero", np.array(0.0, np.float32)), const("one", np.array(1.0, np.float32))
    pi, half_pi = const("pi", np.array(math.pi, np.float32)), const("half_pi", np.array(math.pi / 2, np.float32))
    cos_zero = node("Equal", [cos, zero], "cos_zero")
    safe = node("Where", [cos_zero, one, cos], "cos_safe")
    base = node("Atan", [node("Div", [sin, safe], "ratio")], "atan")
    neg_cos = node("Less", [cos, zero], "neg_cos")
    neg_sin = node("Less", [sin, zero], "neg_sin")
    shift = node("Where", [neg_sin, node("Neg", [pi], "neg_pi"), pi], "shift")
    quad = node("Where", [neg_cos, node("Add", [base, shift], "shifted"), base], "quad")
    axis = node("Where", [neg_sin, node("Neg", [half_pi], "neg_half_pi"), half_pi], "axis_yaw")
    yaw = node("Where", [cos_zero, axis, quad], "yaw")
    nodes.append(helper.make_node("Concat", [xyz, size, yaw, vel], ["boxes_3d"], axis=-1, name=n("boxes_out")))

    keep = [o for o in g.output if o.name in ("output_cached_feature", "output_cached_anchor")]
    del g.output[:]
    g.output.extend(keep)
    g.output.extend([
        helper.make_tensor_value_info("boxes_3d", TensorProto.FLOAT, ["B", "M", 10]),
        helper.make_tensor_value_info("scores_3d", TensorProto.FLOAT, ["B", "M"]),
        helper.make_tensor_value_info("labels_3d", TensorProto.INT64, ["B", "M"]),
        helper.make_tensor_value_info("cls_scores", TensorProto.FLOAT, ["B", "M"]),
        helper.make_tensor_value_info("instance_ids", TensorProto.INT64, ["B", "M"]),
        helper.make_tensor_value_info("instance_feats", TensorProto.FLOAT, ["B", "M", 256]),
        helper.make_tensor_value_info("output_cached_confidence", TensorProto.FLOAT, ["B", 900]),
    ])
    g.node.extend(nodes)
    g.initializer.extend(inits)
    return model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("raw", type=Path, help="TAO Sparse4D ONNX as exported (raw head outputs)")
    ap.add_argument("out", type=Path, help="where to write the contract graph")
    ap.add_argument("--num-output", type=int, default=300, help="decoded rows K (TAO spec num_output: 300)")
    args = ap.parse_args(argv)
    import onnx

    if not 1 <= args.num_output <= 900:
        print("error: --num-output must be in [1, 900]", file=sys.stderr)
        return 2
    try:
        model = onnx.load(str(args.raw))
        append_decode(model, args.num_output)
    except (OSError, ValueError, onnx.checker.ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    onnx.save(model, str(args.out))
    custom = sorted({f"{nd.domain}::{nd.op_type}" for nd in model.graph.node if nd.domain not in ("", "ai.onnx")})
    print(f"wrote {args.out}: outputs {[o.name for o in model.graph.output]}")
    if custom:
        print(f"custom operators {custom}: build a TensorRT engine with their plugin library (docs/ngc_sparse4d.md)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
