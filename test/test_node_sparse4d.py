"""Sparse4D nodes over DDS: the contract test model through sparse4d_node in-process (synthetic
camera sets, camera_info, /tf_static from the test); the labelled stand-in over a small generated
bag played twice (loop) by bag_player, with sparse4d_node and track_evaluator as subprocesses
(HOTA per class, reset on the loop); track_fusion in-process on two hand-made groups.
Bounded by timeouts and counts; no timing assertions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image

from hoi_msgs.msg import TrackedObject3DArray

NS = 1_000_000_000
T0 = 1_700_000_000 * NS
CAMS = ["cam_00", "cam_01"]
W, H = 64, 36


def _spin_until(executor: SingleThreadedExecutor, cond, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        executor.spin_once(timeout_sec=0.05)
    return cond()


def _image(stamp_ns: int, cam: str, encoding: str = "rgb8") -> Image:
    from hoi_perception.imaging.encodings import numpy_to_image
    from hoi_perception.ros.time import stamp_from_ns

    arr = np.full((H, W, 3), 100, np.uint8) if encoding == "rgb8" else np.zeros((H, W), np.float32)
    msg = numpy_to_image(arr, encoding, factory=Image)
    msg.header.stamp = stamp_from_ns(stamp_ns)
    msg.header.frame_id = f"{cam}_optical_frame"
    return msg


def test_contract_model_through_node(tmp_path: Path) -> None:
    from hoi_perception.engine.test_models import make_test_model
    from hoi_perception.geometry.camera import intrinsics, look_at
    from hoi_perception.nodes.sparse4d_node import Sparse4DNode
    from hoi_perception.ros.conversions import camera_info_msg
    from hoi_perception.ros.qos import reliable_qos
    from hoi_perception.ros.tf import StaticTransformBroadcaster, transform_stamped
    from sensor_msgs.msg import CameraInfo

    model = make_test_model("sparse4d", tmp_path / "sparse4d_test.onnx")
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = None
    try:
        node = Sparse4DNode(context=ctx, parameter_overrides=[
            Parameter("model_path", value=str(model)), Parameter("backend", value="onnxruntime"),
            Parameter("cameras", value=CAMS), Parameter("camera_group", value="test_group"),
            Parameter("image_reliability", value="reliable"), Parameter("report_period_s", value=0.0),
            Parameter("publish_tf", value=True)])
        peer = rclpy.create_node("sparse4d_test_peer", context=ctx)
        tracks: list[TrackedObject3DArray] = []
        diags: list[DiagnosticArray] = []
        peer.create_subscription(TrackedObject3DArray, "/hoi/tracks", tracks.append, reliable_qos(50))
        peer.create_subscription(DiagnosticArray, "/diagnostics", diags.append, reliable_qos(50))
        img_pubs = {c: peer.create_publisher(Image, f"/cameras/{c}/image_raw", reliable_qos(10)) for c in CAMS}
        info_pubs = {c: peer.create_publisher(CameraInfo, f"/cameras/{c}/camera_info", reliable_qos(10))
                     for c in CAMS}
        tf = StaticTransformBroadcaster(peer)
        tf.send_transform([transform_stamped("world", f"{c}_optical_frame", T0,
                                             matrix=look_at([6.0 * (i * 2 - 1), -6.0, 3.0], [0, 0, 0.8]))
                           for i, c in enumerate(CAMS)])
        ex = SingleThreadedExecutor(context=ctx)
        ex.add_node(node)
        ex.add_node(peer)
        assert _spin_until(ex, lambda: all(p.get_subscription_count() for p in img_pubs.values())
                           and len(node.tf_listener.buffer) == 2, 15.0)
        k = intrinsics(50.0, 50.0, W / 2, H / 2)
        stamps = [T0 + i * NS // 10 for i in range(6)]
        for i, s in enumerate(stamps):
            for c in CAMS:
                info_pubs[c].publish(camera_info_msg(k, W, H, f"{c}_optical_frame", s))
                # frame 2 of cam_01 has a depth encoding: dropped with a counter, the set goes on partial
                bad = i == 2 and c == "cam_01"
                img_pubs[c].publish(_image(s, c, "32FC1" if bad else "rgb8"))
            _spin_until(ex, lambda: False, 0.1)
        assert _spin_until(ex, lambda: len(tracks) >= 3 and any(
            any(st.name.endswith("latency") and "engine" in st.message for st in d.status) for d in diags), 20.0)
        got = {t.header.stamp.sec * NS + t.header.stamp.nanosec for t in tracks}
        assert got <= set(stamps)
        assert all(t.header.frame_id == "world" and t.source.startswith("onnxruntime") for t in tracks)
        assert all(o.camera_group == "test_group" for t in tracks for o in t.objects)
        assert node.counters["bad_encoding"] == 1
        rep = node.report()
        assert rep["frames"] >= 3 and rep["latency_ms_mean"]["engine_ms"] > 0
    finally:
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown(context=ctx)


@pytest.fixture(scope="module")
def standin_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A 3 s, 2-camera bag played twice; sparse4d_node (stand-in) and track_evaluator as subprocesses."""
    from hoi_perception.bag.sample import generate_sample_bag
    from hoi_perception.scene import SceneConfig

    tmp = tmp_path_factory.mktemp("sparse4d_node")
    cfg = SceneConfig(seed=0, num_static_cameras=2, width=160, height=90, zed_width=32, zed_height=18,
                      duration_s=3.0)
    bag = generate_sample_bag(tmp / "bag", cfg, progress=False).path
    env = os.environ.copy()
    py = sys.executable
    node = [py, "-m", "hoi_perception.nodes.sparse4d_node", "--ros-args",
            "-p", f"cameras:=[{','.join(CAMS)}]", "-p", "image_reliability:=reliable",
            "-p", "standin_pos_sigma_m:=0.02", "-p", "report_period_s:=0.0",
            "-p", f"report_path:={tmp / 'sparse4d_report.json'}"]
    evaluator = [py, "-m", "hoi_perception.nodes.track_evaluator", "--ros-args",
                 "-p", f"cameras:=[{','.join(CAMS)}]", "-p", f"output_dir:={tmp / 'eval'}",
                 "-p", f"report_path:={tmp / 'evaluator_report.json'}"]
    player = [py, "-m", "hoi_perception.nodes.bag_player", "--ros-args", "-p", f"bag_path:={bag}",
              "-p", "topics_include:=[/cameras/*, /tf_static, /ground_truth/tracks]",
              "-p", "loop:=true", "-p", "max_passes:=2", "-p", "wait_for_subscribers:=true",
              "-p", "wait_for_subscribers_timeout_s:=20.0", "-p", "start_delay_s:=2.0", "-p", "linger_s:=1.0"]
    procs: list[subprocess.Popen[str]] = []
    try:
        for cmd in (node, evaluator, player):
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                          env=env, start_new_session=True))
        player_out = procs[2].communicate(timeout=60)[0]
        outs = []
        for p in procs[:2]:
            os.killpg(p.pid, signal.SIGINT)
            outs.append(p.communicate(timeout=20)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate()
    return {"node": outs[0], "evaluator": outs[1], "player": player_out, "eval_dir": tmp / "eval",
            "node_report": tmp / "sparse4d_report.json", "evaluator_report": tmp / "evaluator_report.json"}


def test_standin_over_bag_hota(standin_run: dict[str, object]) -> None:
    node_out, ev = str(standin_run["node"]), str(standin_run["evaluator"])
    first = next(line for line in node_out.splitlines() if "[sparse4d_node]" in line)
    assert "STAND-IN" in first, node_out
    report = json.loads(Path(str(standin_run["evaluator_report"])).read_text())
    assert report["pairing"]["pred_sources"] == ["stand-in:noisy-ground-truth"], report
    assert report["pairing"]["passes"] == 2 and report["pairing"]["pred_frames"] > 0, report
    assert report["hota"]["per_class"]["Person"]["HOTA"] > 50.0, (report, ev)
    eval_dir = Path(str(standin_run["eval_dir"]))
    assert (eval_dir / "hota.json").is_file() and (eval_dir / "track1.txt").stat().st_size > 0


def test_standin_resets_on_bag_loop(standin_run: dict[str, object]) -> None:
    node_out = str(standin_run["node"])
    assert "2 pass(es)" in str(standin_run["player"]), standin_run["player"]
    assert "instance bank reset" in node_out and "time went backwards" in node_out, node_out
    report = json.loads(Path(str(standin_run["node_report"])).read_text())
    assert report["resets"] >= 1 and "time_backwards" in [r["reason"] for r in report["resets_at"]], report
    assert report["frames"] > 0 and report["source"] == "stand-in:noisy-ground-truth", report


def test_track_fusion_node_in_process() -> None:
    from hoi_perception.nodes.track_fusion_node import TrackFusionNode
    from hoi_perception.ros.conversions import track_to_msg
    from hoi_perception.ros.qos import reliable_qos
    from hoi_perception.ros.time import stamp_from_ns
    from hoi_perception.sparse4d import Track3D

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = None
    try:
        node = TrackFusionNode(context=ctx, parameter_overrides=[
            Parameter("input_topics", value=["/t/g0", "/t/g1"])])
        peer = rclpy.create_node("fusion_test_peer", context=ctx)
        fused: list[TrackedObject3DArray] = []
        peer.create_subscription(TrackedObject3DArray, "/hoi/tracks_fused", fused.append, reliable_qos(50))
        pubs = {g: peer.create_publisher(TrackedObject3DArray, f"/t/{g}", reliable_qos(10)) for g in ("g0", "g1")}
        ex = SingleThreadedExecutor(context=ctx)
        ex.add_node(node)
        ex.add_node(peer)
        assert _spin_until(ex, lambda: all(p.get_subscription_count() for p in pubs.values()), 15.0)
        for i in range(3):
            s = T0 + i * NS // 10
            for g, local_id, dx in (("g0", 7, 0.0), ("g1", 3, 0.1)):
                t = Track3D(local_id, 0, "Person", 0.9, np.array([1.0 + dx, 2.0, 0.9]), np.array([0.5, 0.5, 1.8]),
                            0.0, stamp_ns=s)
                msg = TrackedObject3DArray(source="stand-in:noisy-ground-truth")
                msg.header.stamp, msg.header.frame_id = stamp_from_ns(s + (1_000_000 if g == "g1" else 0)), "world"
                msg.objects = [track_to_msg(t, g)]
                pubs[g].publish(msg)
            _spin_until(ex, lambda: False, 0.05)
        assert _spin_until(ex, lambda: len(fused) >= 3, 10.0)
        gids = {o.track_id for f in fused for o in f.objects}
        assert len(gids) == 1, fused  # one object seen by both groups: one global id
        last = fused[-1].objects[0]
        assert last.camera_group == "g0,g1" and last.local_track_id in (3, 7)
        assert fused[-1].source == "stand-in:noisy-ground-truth"
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown(context=ctx)
