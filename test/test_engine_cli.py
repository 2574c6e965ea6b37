"""CLIs: build without TensorRT fails with one line; bench prints a table for all four test models."""

from __future__ import annotations

import json
import sys

from hoi_perception.engine import bench_cli, build_cli
from hoi_perception.engine.test_models import make_test_model


def test_build_without_tensorrt_is_one_clear_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    onnx_path = make_test_model("bodypose3dnet", tmp_path / "b.onnx")
    rc = build_cli.main([str(onnx_path), "--contract", "bodypose3dnet", "--cache-dir", str(tmp_path / "cache")])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert err.endswith("\n") and err.count("\n") == 1
    assert err.startswith("error: TensorRT is not installed: install NVIDIA TensorRT 10")
    assert "cuda-python to build engines" in err
    assert not (tmp_path / "cache").exists()


def test_bench_table_and_json_for_all_test_models(capsys, tmp_path):
    out_json = tmp_path / "bench.json"
    rc = bench_cli.main(["--warmup", "1", "--iters", "2", "--json", str(out_json)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["model", "backend", "dims", "p50"]
    for name in ("bodypose3dnet", "coconet", "interactvlm_mvloc", "sparse4d", "yolov3_tiny"):
        assert any(line.startswith(f"{name} (test model)") for line in lines), name
    data = json.loads(out_json.read_text())
    assert len(data) == 5
    for r in data:
        assert set(r["latency_ms"]) == {"p50", "p90", "p99", "mean"}
        assert {"h2d_ms", "compute_ms", "d2h_ms", "throughput_per_s", "items_per_s"} <= set(r)


def test_bench_explicit_model_and_bad_args(capsys, tmp_path):
    p = make_test_model("sparse4d", tmp_path / "s.onnx", include_optional=False)
    assert bench_cli.main([f"sparse4d={p}", "--iters", "2", "--warmup", "0", "--dims", "N=3", "--json", "-"]) == 0
    out = capsys.readouterr().out
    assert "sparse4d (s.onnx)" in out and "N=3" in out
    assert bench_cli.main(["nonsense"]) == 1
    assert "CONTRACT=PATH" in capsys.readouterr().err
