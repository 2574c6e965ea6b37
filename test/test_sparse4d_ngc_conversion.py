"""Issue 11 point 10: scripts/ngc_sparse4d_to_contract.py turns TAO's raw Sparse4D graph into the contract's.

The NGC weights are not available here, so the raw graph is a stand-in with TAO's exported input and
output names and shapes (utils/onnx_export.py) whose head outputs are fixed random tensors; the appended
decode is checked against TAO's SparseBox3DDecoder (tracking mode) written out in numpy, and the result is
run through the engine layer under contracts/sparse4d.yaml and the tracker.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "ngc_sparse4d_to_contract.py"
NQ, NC = 900, 7


def _script():
    spec = importlib.util.spec_from_file_location("ngc_sparse4d_to_contract", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _raw_outputs(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    pred = rng.normal(size=(1, NQ, 11)).astype(np.float32)
    pred[..., 6:8] = rng.normal(size=(1, NQ, 2))  # sin/cos of all signs, incl. cos < 0
    pred[0, 5, 7] = 0.0  # cos == 0 exactly
    out = {f"classification{i}": rng.normal(-2, 2, (1, NQ, NC)).astype(np.float32) for i in (1, 2)}
    out.update({f"prediction{i}": pred + i for i in range(1, 6)})
    out["prediction6"] = pred
    out.update({f"quality{i}": rng.normal(size=(1, NQ, 2)).astype(np.float32) for i in (1, 2)})
    out["output_cached_feature"] = rng.normal(size=(1, NQ, 256)).astype(np.float32)
    out["output_cached_anchor"] = pred.copy()
    return out


def _raw_model(outputs: dict[str, np.ndarray]):
    """A graph with TAO's exported interface whose outputs are the given tensors."""
    ins = [helper.make_tensor_value_info("img", TensorProto.FLOAT, ["B", "N", 3, 540, 960]),
           helper.make_tensor_value_info("timestamp", TensorProto.FLOAT, ["B"]),
           helper.make_tensor_value_info("projection_mat", TensorProto.FLOAT, ["B", "N", 4, 4]),
           helper.make_tensor_value_info("image_wh", TensorProto.FLOAT, ["B", "N", 2]),
           helper.make_tensor_value_info("input_cached_feature", TensorProto.FLOAT, ["B", 600, 256]),
           helper.make_tensor_value_info("input_cached_anchor", TensorProto.FLOAT, ["B", 600, 11]),
           helper.make_tensor_value_info("prev_exists", TensorProto.FLOAT, ["B"]),
           helper.make_tensor_value_info("interval_mask", TensorProto.BOOL, ["B", 1, 1])]
    nodes, inits, outs = [], [], []
    for name, arr in outputs.items():
        inits.append(numpy_helper.from_array(arr, f"c_{name}"))
        nodes.append(helper.make_node("Identity", [f"c_{name}"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(arr.shape)))
    g = helper.make_graph(nodes, "tao_sparse4d_raw_standin", ins, outs, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _tao_decode(out: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    """TAO SparseBox3DDecoder.decode with instance ids (squeeze_cls), no score threshold, in numpy."""
    prob = 1 / (1 + np.exp(-out["classification2"][0].astype(np.float64)))
    cls, cid = prob.max(-1), prob.argmax(-1)
    top = np.argsort(-cls, kind="stable")[:k]
    score = cls[top] * (1 / (1 + np.exp(-out["quality2"][0][top, 0])))
    order = np.argsort(-score, kind="stable")
    q = top[order]
    a = out["prediction6"][0][q].astype(np.float64)
    boxes = np.concatenate([a[:, :3], np.exp(a[:, 3:6]), np.arctan2(a[:, 6], a[:, 7])[:, None], a[:, 8:]], 1)
    return {"instance_ids": q, "scores_3d": score[order], "cls_scores": cls[q], "labels_3d": cid[q],
            "boxes_3d": boxes, "instance_feats": out["output_cached_feature"][0][q], "conf": cls}


def _feed(n: int = 1) -> dict[str, np.ndarray]:
    return {"img": np.zeros((1, n, 3, 540, 960), np.float32), "timestamp": np.zeros(1, np.float32),
            "projection_mat": np.tile(np.eye(4, dtype=np.float32), (1, n, 1, 1)),
            "image_wh": np.tile(np.array([960, 540], np.float32), (1, n, 1)),
            "input_cached_feature": np.zeros((1, 600, 256), np.float32),
            "input_cached_anchor": np.zeros((1, 600, 11), np.float32),
            "prev_exists": np.zeros(1, np.float32), "interval_mask": np.zeros((1, 1, 1), bool)}


def test_appended_decode_matches_taos_decoder(tmp_path):
    raw = _raw_outputs()
    m = _script().append_decode(_raw_model(raw), num_output=300)
    onnx.checker.check_model(m)
    assert {o.name for o in m.graph.output} == set(_script().CONTRACT_OUTPUTS)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, _feed()), strict=True))
    want = _tao_decode(raw, 300)
    np.testing.assert_array_equal(got["instance_ids"][0], want["instance_ids"])
    np.testing.assert_array_equal(got["labels_3d"][0], want["labels_3d"])
    np.testing.assert_allclose(got["scores_3d"][0], want["scores_3d"], rtol=1e-5)
    np.testing.assert_allclose(got["cls_scores"][0], want["cls_scores"], rtol=1e-5)
    np.testing.assert_allclose(got["boxes_3d"][0], want["boxes_3d"], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got["instance_feats"][0], want["instance_feats"])
    np.testing.assert_allclose(got["output_cached_confidence"][0], want["conf"], rtol=1e-5)
    assert got["instance_ids"].dtype == np.int64 and got["labels_3d"].dtype == np.int64


def test_converted_graph_meets_the_contract_and_feeds_the_full_bank(tmp_path):
    engine_mod = pytest.importorskip("hoi_perception.engine")
    from hoi_perception.geometry.camera import PinholeCamera, intrinsics, look_at
    from hoi_perception.sparse4d import Sparse4DTracker
    from hoi_perception.sparse4d.tracker import Sparse4DParams

    raw_path, out_path = tmp_path / "raw.onnx", tmp_path / "contract.onnx"
    raw = _raw_outputs(1)
    onnx.save(_raw_model(raw), str(raw_path))
    assert _script().main([str(raw_path), str(out_path)]) == 0
    contract = engine_mod.load_contract("sparse4d")
    engine = engine_mod.create_engine(str(out_path), contract, backend="onnxruntime")
    cam = PinholeCamera("c", 960, 540, intrinsics(600, 600, 480, 270), look_at([6.0, 0.0, 3.0], [0, 0, 1]))
    tr = Sparse4DTracker(engine, [cam], Sparse4DParams(num_threads=1), contract=contract)
    res = tr.step([np.zeros((540, 960, 3), np.uint8)], 0)
    assert res.ok and tr.bank.counters["partial_bank"] == 0
    conf = _tao_decode(raw, 300)["conf"]
    top = np.argsort(-conf, kind="stable")[:600]
    np.testing.assert_allclose(tr.bank.cached_anchor[0], raw["output_cached_anchor"][0][top])
    inp, _ = tr.bank.prepare(33_333_333)
    assert inp["prev_exists"][0] == 1.0
    tr.close()


def test_rejects_a_graph_without_the_raw_outputs(tmp_path):
    raw = _raw_outputs()
    del raw["quality2"]
    with pytest.raises(ValueError, match="quality2"):
        _script().append_decode(_raw_model(raw))
    bad = tmp_path / "bad.onnx"
    onnx.save(_raw_model(raw), str(bad))
    assert _script().main([str(bad), str(tmp_path / "o.onnx")]) == 2
