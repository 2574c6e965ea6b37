"""Contracts: loading, sources, test models matching exactly, and every mismatch reported."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hoi_perception.engine import ContractError, available_contracts, check_model_io, load_contract, profile_shapes
from hoi_perception.engine.contract import (
    TensorInfo,
    parse_profile_overrides,
    tensor_infos_from_onnx,
    trt_dtype_name_to_dtype,
)
from hoi_perception.engine.ort_backend import OnnxRuntimeEngine
from hoi_perception.engine.test_models import make_test_model
from hoi_perception.engine.trt_common import EngineTensor, check_shape_in_profile, engine_tensor_infos
from onnx import TensorProto, helper

NAMES = ["bodypose3dnet", "coconet", "interactvlm_mvloc", "sparse4d"]


def test_all_four_contracts_ship():
    assert set(NAMES) <= set(available_contracts())


@pytest.mark.parametrize("name", NAMES)
def test_contract_is_sourced(name):
    c = load_contract(name)
    assert c.sources and c.dims
    for spec in [*c.inputs.values(), *c.outputs.values()]:
        assert spec.source, f"{name}.{spec.name} has no source"
        if spec.conventions and any(k in spec.conventions for k in ("mean", "std", "default")):
            assert "source" in spec.conventions, f"{name}.{spec.name}: value conventions need a source"


def test_card_values():
    bp = load_contract("bodypose3dnet")
    assert bp.inputs["input0"].shape == ("N", 3, 256, 192)
    assert bp.inputs["input0"].conventions["channel_order"] == "BGR"
    assert bp.outputs["pose3d"].conventions["units"] == "mm"
    assert list(bp.outputs) == ["pose2d", "pose2d_org_img", "pose25d", "pose3d"]
    s4 = load_contract("sparse4d")
    assert s4.inputs["img"].shape == ("B", "N", 3, 540, 960)
    assert s4.inputs["interval_mask"].dtype == "bool"
    assert s4.inputs["timestamp"].optional and s4.outputs["output_cached_anchor"].optional
    assert s4.outputs["labels_3d"].dtype == "int64"
    cc = load_contract("coconet")
    assert cc.inputs["masks"].shape == (2, "T", 3, 224, 224)
    assert [o.shape[1] for o in cc.outputs.values()] == [144, 10, 3, 3, 3, 6, 3, 2]
    mv = load_contract("interactvlm_mvloc")
    assert mv.outputs["body_contact_masks"].shape == ("B", 4, 1024, 1024)


def test_normalization_reads_the_contract():
    bp = load_contract("bodypose3dnet").inputs["input0"]
    assert np.allclose(bp.normalize(np.full((1, 3, 2, 2), 255.0)), 1.0)
    img = load_contract("sparse4d").inputs["img"]
    mean = np.asarray(img.conventions["mean"], np.float32).reshape(1, 1, 3, 1, 1)
    assert np.allclose(img.normalize(np.broadcast_to(mean, (1, 2, 3, 4, 4))), 0.0, atol=1e-6)


def test_example_inputs_use_defaults():
    c = load_contract("bodypose3dnet")
    x = c.example_inputs({"N": 3})
    assert x["input0"].shape == (3, 3, 256, 192) and x["input0"].dtype == np.float32
    assert np.allclose(x["mean_limb_lengths"][2], c.inputs["mean_limb_lengths"].conventions["default"])


@pytest.mark.parametrize("name", NAMES)
def test_test_model_matches_contract_exactly(name, tmp_path):
    c = load_contract(name)
    ins, outs = tensor_infos_from_onnx(make_test_model(name, tmp_path / "m.onnx"))
    assert [i.name for i in ins] == list(c.inputs) and [o.name for o in outs] == list(c.outputs)
    for info in [*ins, *outs]:
        spec = c.tensor(info.name)
        assert info.dtype == spec.dtype
        assert info.shape == spec.shape  # named dynamic dims carry the contract's names
    bound = check_model_io(c, ins, outs, "test model")
    assert not bound.fixed_dims


# ---------------------------------------------------------------------------- mismatches


def _retarget_input(model: onnx.ModelProto, name: str, *, new_name=None, elem_type=None, shape=None):
    """Change a graph input's declaration, keeping the graph valid."""
    g = model.graph
    vi = next(v for v in g.input if v.name == name)
    tt = vi.type.tensor_type
    old_elem = tt.elem_type
    feed = name
    if new_name:
        vi.name = new_name
        feed = new_name
    if elem_type is not None:
        tt.elem_type = elem_type
        g.node.insert(0, helper.make_node("Cast", [feed], [f"{feed}__back"], to=old_elem))
        feed = f"{feed}__back"
    if shape is not None:
        del tt.shape.dim[:]
        for d in shape:
            dim = tt.shape.dim.add()
            if isinstance(d, int):
                dim.dim_value = d
            else:
                dim.dim_param = d
    if feed != name:
        for node in g.node[(1 if elem_type is not None else 0):]:
            for i, x in enumerate(node.input):
                if x == name:
                    node.input[i] = feed
    return model


def _load_err(c, model, tmp_path) -> ContractError:
    p = tmp_path / "bad.onnx"
    onnx.save(model, str(p))
    with pytest.raises(ContractError) as ei:
        OnnxRuntimeEngine(p, c, providers="cpu")
    return ei.value


@pytest.fixture
def bodypose(tmp_path):
    c = load_contract("bodypose3dnet")
    return c, onnx.load(str(make_test_model(c, tmp_path / "ok.onnx")))


def test_wrong_input_name(bodypose, tmp_path):
    c, m = bodypose
    err = _load_err(c, _retarget_input(m, "input0", new_name="image"), tmp_path)
    msg = str(err)
    assert "input 'input0': missing (expected float32 [N,3,256,192])" in msg
    assert "input 'image': not in the contract" in msg
    assert len(err.mismatches) == 2


def test_wrong_dtype(bodypose, tmp_path):
    c, m = bodypose
    err = _load_err(c, _retarget_input(m, "k_inv", elem_type=TensorProto.DOUBLE), tmp_path)
    assert "input 'k_inv': dtype expected float32, found float64" in str(err)


def test_wrong_shape(bodypose, tmp_path):
    c, m = bodypose
    err = _load_err(c, _retarget_input(m, "input0", shape=["N", 3, 224, 192]), tmp_path)
    assert "input 'input0': shape expected [N,3,256,192], found [N,3,224,192] (dim 2 is 224, expected 256)" in str(err)
    # A rank change breaks the tiny graph itself, so check the declared tensors directly.
    ins, outs = tensor_infos_from_onnx(tmp_path / "bad.onnx")
    ins = [TensorInfo(i.name, i.dtype, ("N", 9)) if i.name == "k_inv" else i for i in ins]
    with pytest.raises(ContractError, match=r"input 'k_inv': rank expected 3 \[N,3,3\], found 2 \[N,9\]"):
        check_model_io(c, ins, outs, "model")


def test_missing_output(bodypose, tmp_path):
    c, m = bodypose
    keep = [o for o in m.graph.output if o.name != "pose3d"]
    del m.graph.output[:]
    m.graph.output.extend(keep)
    err = _load_err(c, m, tmp_path)
    assert "output 'pose3d': missing (expected float32 [N,34,3])" in str(err)


def test_all_mismatches_in_one_error(bodypose, tmp_path):
    c, m = bodypose
    _retarget_input(m, "k_inv", elem_type=TensorProto.DOUBLE)
    _retarget_input(m, "input0", shape=["N", 4, 256, 192])
    del m.graph.output[-1]
    err = _load_err(c, m, tmp_path)
    assert len(err.mismatches) == 3
    assert str(err).startswith("ONNX model bad.onnx does not match contract 'bodypose3dnet' (3 mismatches):")
    assert {(x.tensor, x.what) for x in err.mismatches} == {("k_inv", "dtype"), ("input0", "shape"), ("pose3d", "missing")}


def test_fixed_dims_in_model():
    c = load_contract("bodypose3dnet")
    ins = [TensorInfo(s.name, s.dtype, tuple(4 if d == "N" else d for d in s.shape)) for s in c.inputs.values()]
    outs = [TensorInfo(s.name, s.dtype, tuple(-1 if d == "N" else d for d in s.shape)) for s in c.outputs.values()]
    bound = check_model_io(c, ins, outs, "pinned")
    assert bound.fixed_dims == {"N": 4}
    assert profile_shapes(c, fixed_dims=bound.fixed_dims)["input0"] == ((4, 3, 256, 192),) * 3
    ins[1] = TensorInfo("k_inv", "float32", (5, 3, 3))
    with pytest.raises(ContractError, match=r"dim 0 \(N\) is 5 here but 4 in another tensor"):
        check_model_io(c, ins, outs, "pinned")
    ins = [TensorInfo(s.name, s.dtype, tuple(99 if d == "N" else d for d in s.shape)) for s in c.inputs.values()]
    with pytest.raises(ContractError, match=r"fixed to 99, outside \[1, 16\]"):
        check_model_io(c, ins, outs, "pinned")


def test_optional_tensors_may_be_absent(tmp_path):
    c = load_contract("sparse4d")
    eng = OnnxRuntimeEngine(make_test_model(c, tmp_path / "s.onnx", include_optional=False), c, providers="cpu")
    assert "timestamp" not in eng.input_names and "output_cached_feature" not in eng.output_names
    out = eng.run(c.example_inputs(names=eng.input_names))
    assert set(out) == set(eng.output_names)


# ---------------------------------------------------------------------------- runtime input checks


def test_run_rejects_bad_inputs_with_every_problem(tmp_path):
    c = load_contract("bodypose3dnet")
    eng = OnnxRuntimeEngine(make_test_model(c, tmp_path / "m.onnx"), c, providers="cpu")
    x = c.example_inputs({"N": 2})
    x["k_inv"] = x["k_inv"].astype(np.float64)
    x["mean_limb_lengths"] = x["mean_limb_lengths"][:1]  # N=1 here, N=2 elsewhere
    x["t_form_inv"] = x["t_form_inv"].reshape(2, 9)
    del x["scale_normalized_mean_limb_lengths"]
    x["extra"] = np.zeros(1, np.float32)
    with pytest.raises(ContractError) as ei:
        eng.run(x)
    msg = str(ei.value)
    assert "input 'k_inv': dtype expected float32, found float64" in msg
    assert "input 'mean_limb_lengths': shape expected [N,36], found [1, 36] (dim 0 (N) is 1, but N=2 elsewhere)" in msg
    assert "input 't_form_inv': rank expected 3" in msg
    assert "input 'scale_normalized_mean_limb_lengths': missing" in msg
    assert "input 'extra': not in the contract" in msg
    good = c.example_inputs({"N": 2})
    good["input0"] = good["input0"][:, :, :200]
    with pytest.raises(ContractError, match=r"dim 2 is 200, expected 256"):
        eng.run(good)


# ---------------------------------------------------------------------------- profiles / TensorRT binding helpers


def test_profile_from_contract_dims():
    c = load_contract("sparse4d")
    p = profile_shapes(c)
    assert p["img"] == ((1, 1, 3, 540, 960), (1, 10, 3, 540, 960), (1, 20, 3, 540, 960))
    assert p["interval_mask"] == ((1, 1, 1),) * 3
    p = profile_shapes(c, ["img"], parse_profile_overrides(["N=2:4:6"]))
    assert set(p) == {"img"} and p["img"][2] == (1, 6, 3, 540, 960)
    with pytest.raises(ValueError, match="no dim"):
        profile_shapes(c, overrides={"X": (1, 1, 1)})
    with pytest.raises(ValueError, match="min <= opt <= max"):
        profile_shapes(c, overrides={"N": (4, 2, 6)})
    assert parse_profile_overrides(["T=6"]) == {"T": (6, 6, 6)}
    with pytest.raises(ValueError):
        parse_profile_overrides(["T=1:2"])


def test_trt_binding_resolution_shares_contract_check():
    c = load_contract("bodypose3dnet")
    assert trt_dtype_name_to_dtype("DataType.FLOAT") == "float32"
    assert trt_dtype_name_to_dtype("DataType.INT64") == "int64"
    with pytest.raises(ValueError):
        trt_dtype_name_to_dtype("DataType.FP8")
    prof = profile_shapes(c)
    tensors = [EngineTensor(s.name, True, s.dtype, tuple(-1 if isinstance(d, str) else d for d in s.shape), prof[s.name])
               for s in c.inputs.values()]
    tensors += [EngineTensor(s.name, False, s.dtype, tuple(-1 if isinstance(d, str) else d for d in s.shape))
                for s in c.outputs.values()]
    ins, outs = engine_tensor_infos(tensors)
    bound = check_model_io(c, ins, outs, "engine")
    assert [s.name for s in bound.outputs] == ["pose2d", "pose2d_org_img", "pose25d", "pose3d"]
    assert check_shape_in_profile("input0", (8, 3, 256, 192), prof["input0"]) is None
    assert "outside the engine's profile" in check_shape_in_profile("input0", (17, 3, 256, 192), prof["input0"])
    tensors[0] = EngineTensor("input0", True, "float16", (-1, 3, 256, 192), prof["input0"])
    with pytest.raises(ContractError, match="dtype expected float32, found float16"):
        check_model_io(c, *engine_tensor_infos(tensors), "engine")
