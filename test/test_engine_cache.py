"""Engine cache: key invalidation, atomic writes under a killed writer, concurrent builders."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hoi_perception.engine.build import make_cache_key
from hoi_perception.engine.cache import (
    EngineCache,
    EngineCacheKey,
    atomic_write,
    clean_stale_temps,
    default_cache_dir,
    profile_key,
)
from hoi_perception.engine.contract import load_contract, profile_shapes
from hoi_perception.engine.test_models import make_test_model
from hoi_perception.engine.trt_backend import check_engine_sidecar

SRC = str(Path(__file__).resolve().parents[1] / "src" / "hoi_perception")


def _key(**kw) -> EngineCacheKey:
    c = load_contract("bodypose3dnet")
    base = dict(model="bodypose3dnet", onnx_sha256="a" * 64, tensorrt_version="10.3.0", gpu_name="NVIDIA RTX 4090",
                compute_capability="8.9", precision="fp16", profile=profile_key(profile_shapes(c)))
    base.update(kw)
    return EngineCacheKey(**base)


VARIANTS = {
    "onnx_sha256": "b" * 64,
    "tensorrt_version": "10.4.0",
    "gpu_name": "NVIDIA A100-SXM4-80GB",
    "compute_capability": "8.0",
    "precision": "fp32",
    "profile": profile_key(profile_shapes(load_contract("bodypose3dnet"), overrides={"N": (1, 4, 8)})),
    "calibration_sha256": "c" * 64,
}


def test_key_roundtrip_and_digest():
    k = _key()
    assert EngineCacheKey.from_dict(json.loads(json.dumps(k.to_dict()))) == k
    assert k.digest() == _key().digest()
    assert k.filename().startswith("bodypose3dnet-fp16-") and k.filename().endswith(".engine")


@pytest.mark.parametrize("part", sorted(VARIANTS))
def test_any_key_part_change_rebuilds(part, tmp_path):
    cache = EngineCache(tmp_path)
    builds = []

    def build(tag):
        def f():
            builds.append(tag)
            return f"plan-{tag}".encode()
        return f

    k1 = _key()
    p1 = cache.get_or_build(k1, build("one"))
    assert cache.get_or_build(k1, build("again")) == p1 and builds == ["one"]  # hit: not rebuilt
    k2 = dataclasses.replace(k1, **{part: VARIANTS[part]})
    assert k2.differences(k1) == [part]
    assert cache.lookup(k2) is None
    p2 = cache.get_or_build(k2, build("two"))
    assert builds == ["one", "two"] and p2 != p1
    assert p1.read_bytes() == b"plan-one" and p2.read_bytes() == b"plan-two"
    assert [why for _, why in cache.stale_entries(k2)] == [[part]]


def test_sidecar_of_other_setup_is_never_loaded(tmp_path):
    cache = EngineCache(tmp_path)
    k = _key()
    p = cache.get_or_build(k, lambda: b"plan")
    # Someone copies in a plan built by another TensorRT under this key's name.
    other = dataclasses.replace(k, tensorrt_version="10.0.1")
    cache.meta_path(p).write_text(json.dumps(other.to_dict()))
    assert cache.lookup(k) is None
    cache.get_or_build(k, lambda: b"rebuilt")
    assert p.read_bytes() == b"rebuilt" and cache.lookup(k) == p
    with pytest.raises(RuntimeError, match="built for another setup: tensorrt_version '10.3.0' \\(here '10.4.0'\\)"):
        check_engine_sidecar(p, "10.4.0", k.gpu_name, k.compute_capability)
    check_engine_sidecar(p, k.tensorrt_version, k.gpu_name, k.compute_capability)


def test_key_from_real_onnx(tmp_path):
    c = load_contract("sparse4d")
    onnx_path = make_test_model(c, tmp_path / "s.onnx")
    prof = profile_shapes(c)
    k1 = make_cache_key(c, onnx_path, "fp16", prof, "10.3.0", "GPU", "9.0")
    assert len(k1.onnx_sha256) == 64
    make_test_model(c, onnx_path, seed=1)  # same names, other weights: another file, another key
    assert make_cache_key(c, onnx_path, "fp16", prof, "10.3.0", "GPU", "9.0") != k1


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("HOI_ENGINE_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("HOI_ENGINE_CACHE")
    assert default_cache_dir().parts[-2:] in (("engines", "cache"), ("hoi_perception", "engines"))


def _python(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_killed_writer_leaves_no_partial_engine(tmp_path):
    target = tmp_path / "model.engine"
    proc = _python("""
        import sys, time
        from pathlib import Path
        from hoi_perception.engine.cache import atomic_write
        def chunks():
            yield b"x" * 65536
            print("writing", flush=True)
            while True:
                time.sleep(0.01)
                yield b"y" * 1024
        atomic_write(Path(sys.argv[1]), chunks())
    """, str(target))
    try:
        assert proc.stdout.readline().strip() == "writing"
        time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert not target.exists()
    leftovers = list(tmp_path.glob(".tmp-*"))
    assert len(leftovers) == 1 and leftovers[0].stat().st_size >= 65536  # half a plan, never under the real name
    assert clean_stale_temps(tmp_path) == leftovers and not list(tmp_path.glob(".tmp-*"))
    atomic_write(target, b"complete")
    assert target.read_bytes() == b"complete"


def test_killed_build_holding_the_lock_does_not_block(tmp_path):
    proc = _python("""
        import sys, time
        from hoi_perception.engine.cache import EngineCache, EngineCacheKey
        import json
        key = EngineCacheKey.from_dict(json.loads(sys.argv[2]))
        def build():
            print("building", flush=True)
            time.sleep(60)
            return b"never"
        EngineCache(sys.argv[1]).get_or_build(key, build)
    """, str(tmp_path), json.dumps(_key().to_dict()))
    try:
        assert proc.stdout.readline().strip() == "building"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    cache = EngineCache(tmp_path)
    assert cache.lookup(_key()) is None
    assert cache.get_or_build(_key(), lambda: b"plan").read_bytes() == b"plan"  # lock died with the process


def test_two_processes_build_once(tmp_path):
    log = tmp_path / "builds.log"
    code = """
        import sys, time, json
        from hoi_perception.engine.cache import EngineCache, EngineCacheKey
        key = EngineCacheKey.from_dict(json.loads(sys.argv[2]))
        def build():
            with open(sys.argv[3], "a") as f:
                f.write("built\\n")
            time.sleep(0.5)
            return [b"p" * 4096] * 64
        print(EngineCache(sys.argv[1]).get_or_build(key, build))
    """
    args = (str(tmp_path / "cache"), json.dumps(_key().to_dict()), str(log))
    procs = [_python(code, *args) for _ in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        outs.append(out.strip())
    assert outs[0] == outs[1]
    assert log.read_text().splitlines() == ["built"]
    assert Path(outs[0]).read_bytes() == b"p" * 4096 * 64
