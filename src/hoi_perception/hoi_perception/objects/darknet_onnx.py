"""Darknet (cfg + weights) -> ONNX, for the YOLOv3-tiny candidate detector.

OpenCV 5's DNN module no longer reads darknet files, so set-up converts the
network once into ONNX (opset 13) and the detector runs it through the
project's engine layer (ONNX Runtime on CPU, TensorRT where installed).
Only the layer types YOLOv3-tiny uses are supported: convolutional (with or
without batch norm, leaky/linear), maxpool, route, upsample, yolo. The graph
ends at the raw yolo-layer maps; decoding is numpy (objects/detector.py).

Darknet conventions taken from pjreddie/darknet (src/parser.c load_weights,
src/maxpool_layer.c): weights file = int32 major, minor, revision, then the
"seen" counter (int64 when major*10+minor >= 2), then per conv layer
[bias | BN beta], (gamma, running mean, running var when batch_normalize),
kernel weights (out, in, k, k); batch norm divides by sqrt(var) + .000001
(src/blas.c normalize_cpu), folded into the convolution the same way;
a maxpool of size s and stride 1 pads s-1 on the right/bottom only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Section:
    kind: str
    opts: dict[str, str] = field(default_factory=dict)


def parse_cfg(text: str) -> list[Section]:
    out: list[Section] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            out.append(Section(line.strip("[]").strip()))
        elif "=" in line and out:
            k, v = line.split("=", 1)
            out[-1].opts[k.strip()] = v.strip()
    return out


@dataclass
class YoloHead:
    output: str
    anchors: list[tuple[float, float]]  # pixels at the network input size
    classes: int


def convert(cfg_text: str, weights: bytes) -> tuple[bytes, list[YoloHead], int]:
    """ONNX model bytes, the yolo heads (in output order) and the input size."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    sections = parse_cfg(cfg_text)
    net = sections[0]
    if net.kind != "net":
        raise ValueError("cfg must start with [net]")
    size = int(net.opts.get("width", 416))
    if int(net.opts.get("height", size)) != size:
        raise ValueError("non-square darknet input is not supported")
    major, minor, _rev = np.frombuffer(weights[:12], dtype=np.int32)
    offset = 12 + (8 if major * 10 + minor >= 2 else 4)
    wts = np.frombuffer(weights[offset:], dtype=np.float32)
    pos = 0

    def take(n: int) -> np.ndarray:
        nonlocal pos
        if pos + n > wts.size:
            raise ValueError("weights file is shorter than the cfg needs")
        a = wts[pos:pos + n]
        pos += n
        return a

    nodes, inits = [], []
    names: list[str] = []  # output tensor of each layer
    chans: list[int] = []
    sizes: list[int] = []  # spatial size of each layer's output
    cur, c = "images", 3
    hw = size
    heads: list[YoloHead] = []
    outputs = []
    for i, s in enumerate(sections[1:]):
        o = s.opts
        if s.kind == "convolutional":
            n, k = int(o["filters"]), int(o["size"])
            stride = int(o.get("stride", 1))
            pad = k // 2 if int(o.get("pad", 0)) else 0
            bn = int(o.get("batch_normalize", 0))
            if bn:
                beta, gamma, mean, var = take(n), take(n), take(n), take(n)
            else:
                bias = take(n)
            w = take(n * c * k * k).reshape(n, c, k, k)
            if bn:  # fold BN into the convolution
                scale = gamma / (np.sqrt(var) + 1e-6)
                w = w * scale[:, None, None, None]
                bias = beta - mean * scale
            wn, bname = f"w{i}", f"b{i}"
            inits += [numpy_helper.from_array(w.astype(np.float32), wn),
                      numpy_helper.from_array(bias.astype(np.float32), bname)]
            out = f"conv{i}"
            nodes.append(helper.make_node("Conv", [cur, wn, bname], [out], kernel_shape=[k, k],
                                          strides=[stride, stride], pads=[pad] * 4))
            act = o.get("activation", "linear")
            if act == "leaky":
                nodes.append(helper.make_node("LeakyRelu", [out], [f"act{i}"], alpha=0.1))
                out = f"act{i}"
            elif act != "linear":
                raise ValueError(f"activation {act} not supported")
            cur, c = out, n
            hw //= stride
        elif s.kind == "maxpool":
            k, stride = int(o["size"]), int(o["stride"])
            pads = [0, 0, k - 1, k - 1] if stride == 1 else [0, 0, 0, 0]
            out = f"pool{i}"
            nodes.append(helper.make_node("MaxPool", [cur], [out], kernel_shape=[k, k], strides=[stride, stride],
                                          pads=pads))
            cur = out
            hw //= stride
        elif s.kind == "upsample":
            stride = int(o.get("stride", 2))
            sc = f"scales{i}"
            inits.append(numpy_helper.from_array(np.array([1, 1, stride, stride], dtype=np.float32), sc))
            out = f"up{i}"
            nodes.append(helper.make_node("Resize", [cur, "", sc], [out], mode="nearest"))
            cur = out
            hw *= stride
        elif s.kind == "route":
            idx = [int(v) for v in o["layers"].split(",")]
            idx = [j if j >= 0 else i + j for j in idx]
            if len(idx) == 1:
                cur, c, hw = names[idx[0]], chans[idx[0]], sizes[idx[0]]
            else:
                out = f"route{i}"
                nodes.append(helper.make_node("Concat", [names[j] for j in idx], [out], axis=1))
                cur, c, hw = out, sum(chans[j] for j in idx), sizes[idx[0]]
        elif s.kind == "yolo":
            mask = [int(v) for v in o["mask"].split(",")]
            a = [float(v) for v in o["anchors"].split(",")]
            pairs = [(a[2 * m], a[2 * m + 1]) for m in mask]
            out = f"yolo{len(heads)}"
            nodes.append(helper.make_node("Identity", [cur], [out]))
            heads.append(YoloHead(out, pairs, int(o["classes"])))
            outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, c, hw, hw]))
        else:
            raise ValueError(f"darknet layer [{s.kind}] not supported")
        names.append(cur)
        chans.append(c)
        sizes.append(hw)
    if pos != wts.size:
        raise ValueError(f"weights file has {wts.size - pos} values the cfg does not use")
    graph = helper.make_graph(nodes, "darknet", [helper.make_tensor_value_info(
        "images", TensorProto.FLOAT, [1, 3, size, size])], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="hoi_perception")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString(), heads, size


def convert_files(cfg: Path, weights: Path, out: Path) -> list[YoloHead]:
    data, heads, _ = convert(cfg.read_text(), weights.read_bytes())
    part = out.with_suffix(out.suffix + ".part")
    part.write_bytes(data)
    part.replace(out)
    return heads
