"""The interactvlm node as a separate process over Fast DDS: a grasp frame of the
synthetic scene goes in, a keyframe is requested on ~/request, and the
Render-Localize-Lift result comes back as a ContactSetArray, with the STAND-IN
engine (scored against the scene's contact vertices) and with the contract's
ONNX test model through ONNX Runtime (the real engine path)."""

from __future__ import annotations

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
from geometry_msgs.msg import Point
from hoi_perception.contacts.surfaces import save_mesh_npz
from hoi_perception.ros.conversions import pose_from_matrix
from hoi_perception.ros.qos import reliable_qos
from hoi_perception.ros.time import stamp_from_ns
from hoi_perception.scene import SceneConfig, SyntheticScene
from hoi_perception.scene.synthetic import BOX_TRACK_ID
from hoi_perception.skeleton.bodypose34 import SKELETON_NAME
from std_msgs.msg import Empty, Header

from hoi_msgs.msg import ContactSetArray, HumanPose3D, HumanPose3DArray, ObjectPose, ObjectPoseArray


def _pt(p: np.ndarray) -> Point:
    return Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))


def _run(extra: list[str], mesh: Path, gt, timeout_s: float = 120) -> tuple[list, list, str, int]:  # noqa: ANN001
    proc = subprocess.Popen(
        [sys.executable, "-m", "hoi_perception.nodes.interactvlm_node", "--ros-args", "-p", "humans_topic:=/iv/humans",
         "-p", "objects_topic:=/iv/objects", "-p", "keyframe_period_s:=0.0", "-p", "up_axis:=[0.0, 0.0, 1.0]", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    context = rclpy.Context()
    rclpy.init(context=context)
    got: list = []
    diag: list = []
    try:
        node = rclpy.create_node("interactvlm_test", context=context)
        q = reliable_qos(10)
        pub_h = node.create_publisher(HumanPose3DArray, "/iv/humans", q)
        pub_o = node.create_publisher(ObjectPoseArray, "/iv/objects", q)
        pub_r = node.create_publisher(Empty, "/interactvlm/request", q)
        node.create_subscription(ContactSetArray, "/interactvlm/contacts", got.append, q)
        node.create_subscription(DiagnosticArray, "/diagnostics", diag.append, q)
        ex = rclpy.executors.SingleThreadedExecutor(context=context)
        ex.add_node(node)
        end = time.monotonic() + timeout_s
        header = Header(stamp=stamp_from_ns(1_700_000_003_000_000_000), frame_id="world")
        humans = HumanPose3DArray(header=header, humans=[HumanPose3D(
            header=header, track_id=1, skeleton=SKELETON_NAME, joints=[_pt(p) for p in gt.joints_world], score=1.0,
            source="ground-truth")])
        objs = ObjectPoseArray(header=header, objects=[
            ObjectPose(header=header, track_id=o.track_id, object_name=o.name.lower(),
                       mesh_resource=f"file://{mesh}" if o.track_id == BOX_TRACK_ID else "",
                       pose=pose_from_matrix(o.world_from_object), score=1.0, source="ground-truth")
            for o in gt.objects])
        next_request = 0.0
        while time.monotonic() < end and not (got and any(
                any(kv.key == "last_engine_ms" for s in d.status for kv in s.values) for d in diag)):
            if pub_h.get_subscription_count() and pub_r.get_subscription_count() and time.monotonic() > next_request:
                pub_o.publish(objs)
                pub_h.publish(humans)
                ex.spin_once(timeout_sec=0.2)
                pub_r.publish(Empty())
                next_request = time.monotonic() + 3.0  # a busy worker skips (and counts) extra requests
            ex.spin_once(timeout_sec=0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        rclpy.shutdown(context=context)
    return got, diag, out, proc.returncode


@pytest.fixture(scope="module")
def scene_frame(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    tmp = tmp_path_factory.mktemp("interactvlm")
    scene = SyntheticScene(SceneConfig(num_static_cameras=0, duration_s=6.0))
    gt = scene.ground_truth(30, with_visibility=False)  # both hands on the carried box
    assert gt.hand_contact.left and gt.hand_contact.right
    box = gt.object(BOX_TRACK_ID)
    return gt, save_mesh_npz(tmp / "box.npz", box.vertices, box.faces), tmp


def test_stand_in_keyframe_finds_the_grasp(scene_frame: tuple) -> None:
    gt, mesh, _ = scene_frame
    got, diag, log, rc = _run([], mesh, gt)
    assert rc == 0, log[-3000:]
    assert "STAND-IN" in log and "interactvlm summary:" in log
    sets = [c for m in got for c in m.contacts]
    assert sets, log[-3000:]
    c = sets[0]
    assert c.source.startswith("stand-in:proximity-painter") and c.body_model == "hoi_capsules"
    assert c.object_track_id == BOX_TRACK_ID and c.human_track_id == 1
    body, truth = set(np.asarray(c.body_vertex_indices).tolist()), set(gt.body_contact_vertices.tolist())
    # lifting loses only what no fixed view sees (palm faces pressed to the box are partly hidden)
    assert len(body & truth) / len(body) > 0.9 and len(body & truth) / len(truth) > 0.5
    obj, otruth = set(np.asarray(c.object_vertex_indices).tolist()), set(gt.object_contact_vertices.tolist())
    assert len(obj & otruth) / len(otruth) > 0.5
    assert len(c.body_points) == len(c.body_vertex_indices)


def test_onnx_test_model_keyframe_reports_latency_split(scene_frame: tuple) -> None:
    from hoi_perception.engine.test_models import make_test_model

    gt, mesh, tmp = scene_frame
    model = make_test_model("interactvlm_mvloc", tmp / "mvloc_test.onnx")
    got, diag, log, rc = _run(["-p", f"model_path:={model}", "-p", "engine:=onnxruntime:cpu"], mesh, gt)
    assert rc == 0, log[-3000:]
    assert got and got[0].contacts and got[0].contacts[0].source.startswith("interactvlm:onnxruntime")
    values = {kv.key: kv.value for d in diag for s in d.status if s.name.startswith("interactvlm") for kv in s.values}
    for k in ("last_render_ms", "last_engine_ms", "last_lift_ms"):
        assert float(values[k]) >= 0.0
    assert float(values["last_engine_ms"]) > 0.0
    assert "STAND-IN" not in log


def test_pickle_body_model_needs_explicit_permission(tmp_path: Path) -> None:
    pkl = tmp_path / "SMPLX_NEUTRAL.pkl"
    pkl.write_bytes(b"not read")
    out = subprocess.run([sys.executable, "-m", "hoi_perception.nodes.interactvlm_node", "--ros-args", "-p",
                          f"body_model_path:={pkl}"], capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert out.returncode == 2
    assert "unpickling runs code" in out.stdout + out.stderr


def test_stop_does_not_wait_for_a_keyframe_in_flight() -> None:
    """A stopped node (context shut down) cannot publish the keyframe in flight, so close() waits only
    STOP_WAIT_S for it, well inside a launcher's SIGINT -> SIGTERM escalation (5 s), and counts it."""
    import threading

    from hoi_perception.nodes import interactvlm_node as iv

    rclpy.init()
    try:
        node = iv.InteractVlmNode()
        release = threading.Event()
        node.worker = threading.Thread(target=release.wait, args=(30.0,), daemon=True)  # a slow render
        node.worker.start()
        rclpy.shutdown()  # what SIGINT does before run_node calls close()
        t0 = time.monotonic()
        node.close()
        assert time.monotonic() - t0 < iv.STOP_WAIT_S + 1.0
        assert node.stopped_in_flight == 1 and "1 not published (stopped while in flight)" in node.summary()
        release.set()
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
