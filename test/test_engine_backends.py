"""Backends: ONNX Runtime against a numpy reference, device path, selection with TensorRT absent."""

from __future__ import annotations

import logging
import subprocess
import sys
import types

import numpy as np
import pytest
from hoi_perception.engine import BackendUnavailable, available_backends, create_engine, load_contract
from hoi_perception.engine.ort_backend import resolve_providers
from hoi_perception.engine.test_models import make_test_model, reference_outputs

NAMES = ["bodypose3dnet", "coconet", "interactvlm_mvloc", "sparse4d"]


def _assert_same(got, want):
    assert set(got) == set(want)
    for k in want:
        assert got[k].dtype == want[k].dtype and got[k].shape == want[k].shape, k
        if np.issubdtype(want[k].dtype, np.floating):
            np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-5, err_msg=k)
        else:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)


@pytest.mark.parametrize("name", NAMES)
def test_onnxruntime_matches_numpy_reference(name, tmp_path):
    c = load_contract(name)
    eng = create_engine(make_test_model(name, tmp_path / f"{name}.onnx"), c, backend="onnxruntime")
    assert eng.backend_name.startswith("onnxruntime:")
    for dims in (c.example_dims(), {n: d.min for n, d in c.dims.items()}):
        x = c.example_inputs(dims, seed=3)
        _assert_same(eng.run(x), reference_outputs(c, x))


@pytest.mark.parametrize("name", ["bodypose3dnet", "sparse4d"])
def test_device_path_degrades_to_host_on_cpu(name, tmp_path):
    c = load_contract(name)
    eng = create_engine(make_test_model(name, tmp_path / "m.onnx"), c, backend="onnxruntime:cpu")
    x = c.example_inputs()
    dev = {k: eng.to_device(v) for k, v in x.items()}
    assert all(t.device == "cpu" for t in dev.values())
    out = eng.run_device(dev)
    _assert_same({k: v.numpy() for k, v in out.items()}, reference_outputs(c, x))
    # host arrays are accepted too
    _assert_same({k: v.numpy() for k, v in eng.run_device(x).items()}, reference_outputs(c, x))
    assert eng.input_shapes["img" if name == "sparse4d" else "input0"][0] in ("B", "N")


def test_dynamic_dims_vary(tmp_path):
    c = load_contract("sparse4d")
    eng = create_engine(make_test_model(c, tmp_path / "s.onnx"), c, backend="onnxruntime")
    for n in (1, 3, 5):
        x = c.example_inputs({"N": n})
        _assert_same(eng.run(x), reference_outputs(c, x))


@pytest.fixture
def no_tensorrt(monkeypatch):
    """TensorRT and cuda-python absent, whatever this machine has."""
    for mod in ("tensorrt", "cuda", "cuda.bindings", "cuda.cudart"):
        monkeypatch.setitem(sys.modules, mod, None)


def test_auto_picks_onnxruntime_without_tensorrt(no_tensorrt, tmp_path, caplog):
    c = load_contract("coconet")
    with caplog.at_level(logging.INFO, logger="hoi_perception.engine"):
        eng = create_engine(make_test_model(c, tmp_path / "c.onnx"), c)
    assert eng.backend_name.startswith("onnxruntime:")
    assert any("native tensorrt unavailable" in r.getMessage() and eng.backend_name in r.getMessage()
               for r in caplog.records)
    assert available_backends()["tensorrt"] is not None


def test_asking_for_missing_tensorrt_names_what_to_install(no_tensorrt, tmp_path):
    c = load_contract("bodypose3dnet")
    p = make_test_model(c, tmp_path / "b.onnx")
    with pytest.raises(BackendUnavailable, match="install NVIDIA TensorRT 10.*cuda-python"):
        create_engine(p, c, backend="tensorrt")
    plan = tmp_path / "b.engine"
    plan.write_bytes(b"not a plan")
    with pytest.raises(BackendUnavailable, match="TensorRT plan"):
        create_engine(plan, c, backend="auto")


def test_pypi_stub_tensorrt_counts_as_missing(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))  # no Builder, no version
    c = load_contract("bodypose3dnet")
    with pytest.raises(BackendUnavailable, match="install NVIDIA TensorRT 10"):
        create_engine(make_test_model(c, tmp_path / "b.onnx"), c, backend="tensorrt")


def test_missing_onnxruntime_provider_names_package():
    with pytest.raises(BackendUnavailable, match="onnxruntime-gpu"):
        resolve_providers(["cuda"], ["CPUExecutionProvider"])
    assert resolve_providers("auto", ["CPUExecutionProvider", "CUDAExecutionProvider"]) == [
        "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers(None, ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])[0] \
        == "TensorrtExecutionProvider"


def test_unknown_backend_rejected(tmp_path):
    c = load_contract("bodypose3dnet")
    with pytest.raises(ValueError, match="unknown backend"):
        create_engine(make_test_model(c, tmp_path / "b.onnx"), c, backend="openvino")


def test_no_module_level_gpu_imports():
    """Every engine module imports with tensorrt, cuda and pyzed unimportable, and imports none of them."""
    code = r"""
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorrt", "cuda", "pyzed"):
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
import hoi_perception.engine as pkg
for m in pkgutil.iter_modules(pkg.__path__):
    importlib.import_module("hoi_perception.engine." + m.name)
bad = [m for m in sys.modules if m.split(".")[0] in ("tensorrt", "cuda", "pyzed", "rclpy")]
assert not bad, bad
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
