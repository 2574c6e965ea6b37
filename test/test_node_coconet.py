"""The coconet node end to end over Fast DDS: the coconet_bag launch file (bag player + body_pose +
coconet) on the sample bag, once with the STAND-IN engine (refined = initial, so the before/after
errors must be equal) and once with the contract's test model through ONNX Runtime (the engine
path: outputs differ from the initial estimate). A subscriber in this process receives the HOI
state over DDS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy
import rclpy.executors
from hoi_perception.bag.sample import ensure_sample_bag
from hoi_perception.ros.qos import reliable_qos

from hoi_msgs.msg import HoiStateArray

TIMEOUT_S = 240


def _run_launch(tmp_path: Path, *args: str, extra: dict | None = None) -> tuple[dict, list[HoiStateArray], str]:
    bag = ensure_sample_bag(progress=False)
    report = tmp_path / "report.json"
    env = os.environ.copy()
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    context = rclpy.Context()
    rclpy.init(context=context)
    states: list[HoiStateArray] = []
    try:
        node = rclpy.create_node("coconet_test", context=context)
        node.create_subscription(HoiStateArray, "/hoi/hoi_state", states.append, reliable_qos(50))
        if extra is not None:
            from hoi_perception.ros.qos import TF_QOS
            from tf2_msgs.msg import TFMessage
            from visualization_msgs.msg import MarkerArray

            extra["tf"], extra["markers"] = [], []
            node.create_subscription(TFMessage, "/tf", extra["tf"].append, TF_QOS)
            node.create_subscription(MarkerArray, "/coconet/markers", extra["markers"].append, reliable_qos(10))
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        proc = subprocess.Popen(
            [sys.executable, "-m", "hoi_perception.launch.yaml_launch", "hoi_bringup", "coconet_bag.launch.yaml",
             f"bag:={bag}", "rate:=0.5", f"report:={report}", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        end = time.monotonic() + TIMEOUT_S
        while proc.poll() is None and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        if proc.poll() is None:
            proc.terminate()
        out = proc.communicate(timeout=30)[0]
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    assert report.is_file(), f"no report written; launch output:\n{out[-4000:]}"
    return json.loads(report.read_text()), states, out


def test_sample_bag_stand_in_refined_equals_initial(tmp_path):
    extra: dict = {}
    rep, states, out = _run_launch(tmp_path, extra=extra)
    assert rep["stand_in"] and "STAND-IN" in rep["source"] and "synthetic-smpl-format" in rep["body_model"]
    c = rep["counters"]
    assert c["windows_run"] >= 2 and c["frames_published"] >= 20, out[-3000:]
    e = rep["errors"]
    for key in ("joint_error_mm", "object_translation_error_m", "object_rotation_error_deg"):
        assert e[key]["frames"] >= 20
        assert e[key]["before"] == pytest.approx(e[key]["after"], abs=1e-9), key
    assert e["object_rotation_error_deg"]["before"] == pytest.approx(8.0, abs=0.01)  # the launch's perturbation
    assert e["joint_error_mm"]["before"] < 600  # BlazePose on the capsule person, fitted: metres would be a bug
    assert states and all("STAND-IN" in s.source for m in states for s in m.states)
    assert {"fit", "render", "engine", "decode"} <= set(rep["window_latency_ms"])
    frames = {t.child_frame_id for m in extra["tf"] for t in m.transforms}
    assert "coconet_object_11" in frames, frames  # the sample's box id 11
    # the refined human keeps the id of a body_pose track (which one depends on the box source's order)
    humans = {f.removeprefix("coconet_") for f in frames if f.startswith("coconet_human_")}
    assert humans and humans <= frames, frames
    meshes = [mk for m in extra["markers"] for mk in m.markers]
    assert {mk.ns for mk in meshes} == {"coconet_body", "coconet_object"} and all(len(mk.points) % 3 == 0 for mk in meshes)


def test_sample_bag_engine_path_with_the_contract_test_model(tmp_path):
    from hoi_perception.engine import load_contract
    from hoi_perception.engine.test_models import make_test_model

    model = make_test_model(load_contract("coconet"), tmp_path / "coconet_test.onnx")
    rep, states, out = _run_launch(tmp_path, f"model:={model}", "window:=4", "stride:=2")
    assert not rep["stand_in"] and "onnxruntime" in rep["engine"], out[-3000:]
    c = rep["counters"]
    assert c["windows_run"] >= 3 and c["engine_errors"] == 0, out[-3000:]
    e = rep["errors"]["joint_error_mm"]
    assert e["frames"] >= 10 and e["before"] != pytest.approx(e["after"], abs=1e-6)
    assert states and all("onnxruntime" in s.source for m in states for s in m.states), {s.source for m in states for s in m.states}
    # overlapping windows (T=4, stride 2) still publish each frame once
    stamps = [(s.header.stamp.sec, s.header.stamp.nanosec) for m in states for s in m.states]
    assert len(stamps) == len(set(stamps))
