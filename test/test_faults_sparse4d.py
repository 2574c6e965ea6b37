"""Fault injection into sparse4d_node over real Fast DDS (issue 10).

Two node processes run side by side (the contract test model as the engine,
cameras, camera_info and /tf_static published by this test with rclpy):

* group A (a0, a1, a2), fully calibrated: a camera_info with cx = NaN on a1
  is refused per camera (logged once, counted, the tracker is not rebuilt);
  a 0x0 image on a0 is refused and counted; a2 stops -> one log line and its
  /diagnostics status WARN/STALE while sets go on; then every camera stops ->
  the input rate falls to 0 Hz and the input status turns STALE.
* group B (b0, b1, b2): b1 never sends camera_info and b2's /tf_static has a
  NaN rotation -> the group's status and log say which camera lacks what.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TransformStamped
from hoi_perception.engine.test_models import make_test_model
from hoi_perception.geometry.camera import intrinsics, look_at
from hoi_perception.imaging.encodings import numpy_to_image
from hoi_perception.ros.conversions import camera_info_msg
from hoi_perception.ros.qos import reliable_qos
from hoi_perception.ros.tf import StaticTransformBroadcaster, transform_stamped
from hoi_perception.ros.time import stamp_from_ns
from sensor_msgs.msg import CameraInfo, Image

from hoi_msgs.msg import TrackedObject3DArray

NS = 1_000_000_000
T0 = 1_700_000_200 * NS
W, H = 64, 36
A = ["a0", "a1", "a2"]
B = ["b0", "b1", "b2"]


def _node(name: str, cams: list[str], model: Path, report: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hoi_perception.nodes.sparse4d_node", "--ros-args", "-r", f"__node:={name}",
         "-p", f"cameras:=[{','.join(cams)}]", "-p", f"model_path:={model}", "-p", "backend:=onnxruntime",
         "-p", "image_reliability:=reliable", "-p", "report_period_s:=0.0", "-p", "max_pending_sets:=3",
         "-p", f"tracks_topic:=/{name}/tracks", "-p", f"markers_topic:=/{name}/markers",
         "-p", f"report_path:={report}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())


def _image(stamp_ns: int, cam: str, empty: bool = False) -> Image:
    msg = Image(encoding="rgb8") if empty else numpy_to_image(np.full((H, W, 3), 100, np.uint8), "rgb8",
                                                              factory=Image)
    msg.header.stamp = stamp_from_ns(stamp_ns)
    msg.header.frame_id = f"{cam}_optical_frame"
    return msg


def _status(diags: list[DiagnosticArray], name: str) -> tuple[int, str, dict[str, str]] | None:
    for arr in reversed(diags):
        for st in arr.status:
            if st.name == name:
                return int.from_bytes(st.level, "little"), st.message, {kv.key: kv.value for kv in st.values}
    return None


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def test_sparse4d_survives_names_and_counts_camera_faults(tmp_path: Path) -> None:
    model = make_test_model("sparse4d", tmp_path / "sparse4d_test.onnx")
    procs = {"group_a": _node("group_a", A, model, tmp_path / "a.json"),
             "group_b": _node("group_b", B, model, tmp_path / "b.json")}
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    outs: dict[str, str] = {}
    try:
        peer = rclpy.create_node("sparse4d_faults", context=ctx)
        diags: list[DiagnosticArray] = []
        tracks: list[TrackedObject3DArray] = []
        peer.create_subscription(DiagnosticArray, "/diagnostics", diags.append, reliable_qos(100))
        peer.create_subscription(TrackedObject3DArray, "/group_a/tracks", tracks.append, reliable_qos(100))
        cams = A + B
        img = {c: peer.create_publisher(Image, f"/cameras/{c}/image_raw", reliable_qos(10)) for c in cams}
        info = {c: peer.create_publisher(CameraInfo, f"/cameras/{c}/camera_info", reliable_qos(10)) for c in cams}
        tf = StaticTransformBroadcaster(peer)
        poses = [transform_stamped("world", f"{c}_optical_frame", T0,
                                   matrix=look_at([6.0 * np.cos(i), 6.0 * np.sin(i), 3.0], [0, 0, 0.8]))
                 for i, c in enumerate(cams)]
        nan_rot: TransformStamped = poses[cams.index("b2")]
        nan_rot.transform.rotation.x = float("nan")
        tf.send_transform(poses)
        ex = rclpy.executors.SingleThreadedExecutor(context=ctx)
        ex.add_node(peer)

        def spin(seconds: float, until=None) -> None:  # noqa: ANN001
            end = time.monotonic() + seconds
            while time.monotonic() < end and not (until is not None and until()):
                ex.spin_once(timeout_sec=0.02)

        spin(20, until=lambda: all(img[c].get_subscription_count() and info[c].get_subscription_count()
                                   for c in cams))
        assert all(img[c].get_subscription_count() for c in cams), "nodes did not come up"
        k = intrinsics(50.0, 50.0, W / 2, H / 2)
        bad_k = k.copy()
        bad_k[0, 2] = np.nan
        stamp = T0

        def send(cameras: list[str], n: int, nan_a1: bool = False, empty_a0: bool = False) -> None:
            nonlocal stamp
            for _ in range(n):
                stamp += NS // 10
                for c in cameras:
                    if c != "b1":  # b1 never sends camera_info
                        bad = nan_a1 and c == "a1"
                        info[c].publish(camera_info_msg(bad_k if bad else k, W, H, f"{c}_optical_frame", stamp))
                    img[c].publish(_image(stamp, c, empty=empty_a0 and c == "a0"))
                spin(0.1)

        send(cams, 10)
        spin(5, until=lambda: len(tracks) >= 3)
        assert tracks, "group A published nothing"
        send(cams, 10, nan_a1=True, empty_a0=True)  # NaN cx on a1 every set, 0x0 images on a0
        send(["a0", "a1", "b0", "b1", "b2"], 25)  # a2 stops for 2.5 s
        a2 = _status(diags, "group_a: camera a2")
        a0 = _status(diags, "group_a: camera a0")
        b_input = _status(diags, "group_b: input")
        spin(4.5)  # every camera stopped
        a_input = _status(diags, "group_a: input")
    finally:
        rclpy.try_shutdown(context=ctx)
        for name, proc in procs.items():
            outs[name] = _stop(proc)
    out_a, out_b = outs["group_a"], outs["group_b"]
    for name, proc in procs.items():
        assert proc.returncode == 0 and "Traceback" not in outs[name], outs[name]
    rep_a = json.loads((tmp_path / "a.json").read_text())
    rep_b = json.loads((tmp_path / "b.json").read_text())
    # NaN principal point: refused per camera, logged once, no tracker rebuild, no NaN anywhere
    assert rep_a["bad_camera_info"] == 10 and rep_a["tracker_rebuilds"] == 1, rep_a
    assert out_a.count("a1: camera_info refused") == 1 and "NaN" in out_a, out_a
    assert all(np.isfinite([o.pose.position.x for t in tracks for o in t.objects]).tolist() or [True])
    # 0x0 images on a0: refused, counted, the sets went on partial
    assert rep_a["empty_image"] == 10 and out_a.count("a0: image refused") == 1, out_a
    assert rep_a["dropped"]["empty_image"] == 10 and rep_a["frames"] >= 40, rep_a
    # a2 stopped: one line, its status WARN (STALE later) while a0 stays OK
    assert out_a.count("camera a2 stopped") == 1, out_a
    assert a2 is not None and a2[0] in (1, 3), a2
    # a0 sends: WARN only for its 10 bad images, not stopped
    assert a0 is not None and a0[0] == 1 and "stopped" not in a0[1] and float(a0[2]["rate_hz"]) > 5, a0
    # all stopped: input rate 0, STALE
    assert a_input is not None and a_input[0] == 3 and float(a_input[2]["rate_hz"]) == 0.0, a_input
    # group B says which camera lacks what, in /diagnostics and in the log
    assert b_input is not None and b_input[0] == 2, b_input
    assert "b1 lacks a valid camera_info (none received)" in b_input[1] and "b2 lacks" in b_input[1], b_input
    assert "b0 lacks" not in b_input[1]
    assert "b1 lacks a valid camera_info (none received)" in out_b and "b2 lacks the transform world -> b2_optical_frame (refused: /tf_static" in out_b, out_b
    assert out_a.count("all cameras stopped") == 1 and out_b.count("all cameras stopped") == 1, out_b
    assert rep_b["frames"] == 0 and set(rep_b["lacking"]) == {"b1", "b2"}, rep_b
