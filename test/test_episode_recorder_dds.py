"""episode_recorder over real DDS: the node as a subprocess, publishers and service clients in the test;
two episodes recorded through the services (a third discarded, a fourth started and stopped by grasp
events), then both bags read back with BagReader and their metadata.yaml and episode.json checked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hoi_perception.bag.io import BagReader

rclpy = pytest.importorskip("rclpy")
hoi_srv = pytest.importorskip("hoi_msgs.srv")

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
NODE = "/episode_recorder"


def _env() -> dict[str, str]:
    env = os.environ.copy()
    env["PYTHONPATH"] = str(REPO / "src" / "hoi_perception") + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _spin_until(executor: Any, done: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        executor.spin_once(timeout_sec=0.05)


def _spin_for(executor: Any, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)


def _call(executor: Any, client: Any, request: Any) -> Any:
    future = client.call_async(request)
    _spin_until(executor, future.done, 20.0, f"service {client.srv_name}")
    return future.result()


def test_two_episodes_through_services(tmp_path: Path) -> None:
    from geometry_msgs.msg import TransformStamped
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo
    from std_msgs.msg import String
    from tf2_msgs.msg import TFMessage

    from hoi_msgs.msg import EpisodeStatus, GraspEvent, GraspEventArray

    out = tmp_path / "episodes"
    log = tmp_path / "recorder.log"
    with log.open("w") as logf:
        proc = subprocess.Popen(
            [PY, "-m", "hoi_perception.nodes.episode_recorder", "--ros-args", "-p", f"output_dir:={out}",
             "-p", "topics:=[/ep_test/*, /tf_static]", "-p", "robot:=g1", "-p", "default_operator:=nobody",
             "-p", "min_free_bytes:=0", "-p", "chunk_interval_s:=0.2", "-p", "discovery_period_s:=0.2",
             "-p", "grasp_trigger:=true", "-p", "grasp_topic:=/ep_grasp", "-p", "stop_delay_s:=0.5"],
            stdout=logf, stderr=subprocess.STDOUT, env=_env())
    context = rclpy.Context()
    rclpy.init(context=context)
    statuses: list[Any] = []
    try:
        node = rclpy.create_node("episode_test", context=context)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        tf_pub = node.create_publisher(TFMessage, "/tf_static", latched)
        tf = TransformStamped()
        tf.header.frame_id, tf.child_frame_id = "world", "zed_left"
        tf.transform.translation.x = 1.25
        tf.transform.rotation.w = 1.0
        tf_pub.publish(TFMessage(transforms=[tf]))  # once, before the recorder exists
        chatter = node.create_publisher(String, "/ep_test/chatter", 10)
        cam = node.create_publisher(CameraInfo, "/ep_test/cam/camera_info", 10)
        grasp = node.create_publisher(GraspEventArray, "/ep_grasp", 10)
        sent = {"n": 0}

        def publish() -> None:
            sent["n"] += 1
            chatter.publish(String(data=f"m{sent['n']}"))
            if sent["n"] % 4 == 0:
                cam.publish(CameraInfo(width=1280, height=720, k=[700.0, 0, 640, 0, 700.0, 360, 0, 0, 1]))

        node.create_timer(0.05, publish)
        node.create_subscription(EpisodeStatus, f"{NODE}/status", statuses.append,
                                 QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        start = node.create_client(hoi_srv.StartEpisode, f"{NODE}/start")
        stop = node.create_client(hoi_srv.StopEpisode, f"{NODE}/stop")
        discard = node.create_client(hoi_srv.DiscardEpisode, f"{NODE}/discard")
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        _spin_until(executor, lambda: all(c.service_is_ready() for c in (start, stop, discard))
                    and chatter.get_subscription_count() > 0 and cam.get_subscription_count() > 0
                    and tf_pub.get_subscription_count() > 0, 60.0, "the recorder's services and subscriptions")
        _spin_for(executor, 0.6)  # a camera_info reaches the recorder's calibration cache

        r1 = _call(executor, start, hoi_srv.StartEpisode.Request(operator_name="alice", task_label="pick cup",
                                                                notes="first take"))
        assert r1.success, r1.message
        again = _call(executor, start, hoi_srv.StartEpisode.Request())
        assert not again.success and "is recording" in again.message
        _spin_for(executor, 1.5)
        s1 = _call(executor, stop, hoi_srv.StopEpisode.Request(episode_success=True, notes="clean grasp"))
        assert s1.success and s1.episode_id == r1.episode_id and s1.path == r1.path

        r2 = _call(executor, start, hoi_srv.StartEpisode.Request(operator_name="bob", task_label="stack blocks",
                                                                robot="h1"))
        assert r2.success and r2.episode_id != r1.episode_id
        _spin_for(executor, 1.0)
        s2 = _call(executor, stop, hoi_srv.StopEpisode.Request(episode_success=False))
        assert s2.success

        r3 = _call(executor, start, hoi_srv.StartEpisode.Request(task_label="oops"))
        assert r3.success
        _spin_for(executor, 0.3)
        d3 = _call(executor, discard, hoi_srv.DiscardEpisode.Request())
        assert d3.success and d3.episode_id == r3.episode_id and not Path(r3.path).exists()
        assert not _call(executor, stop, hoi_srv.StopEpisode.Request()).success

        # Grasp trigger: START starts an episode, END stops it stop_delay_s later.
        ev = GraspEvent(event=GraspEvent.START, hand=GraspEvent.RIGHT, human_track_id=1, object_track_id=7,
                        object_name="cup")
        grasp.publish(GraspEventArray(events=[ev]))
        _spin_until(executor, lambda: statuses and statuses[-1].state == EpisodeStatus.RECORDING, 10.0,
                    "grasp START to start an episode")
        grasp_id = statuses[-1].episode_id
        _spin_for(executor, 0.5)
        grasp.publish(GraspEventArray(events=[GraspEvent(event=GraspEvent.END, hand=GraspEvent.RIGHT,
                                                         human_track_id=1, object_track_id=7)]))
        _spin_until(executor, lambda: statuses[-1].state == EpisodeStatus.IDLE and statuses[-1].episodes_recorded == 3,
                    10.0, "the delayed stop after grasp END")
        assert statuses[-1].last_stop_reason == "grasp end" and statuses[-1].episode_id == grasp_id
        executor.remove_node(node)
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    text = log.read_text()
    assert rc == 0, text
    assert "3 episodes kept, 1 discarded" in text, text

    # The status topic showed episode 1 recording with messages on disk.
    rec1 = [s for s in statuses if s.episode_id == r1.episode_id and s.state == EpisodeStatus.RECORDING]
    assert rec1 and max(s.messages for s in rec1) > 0 and max(s.size_bytes for s in rec1) > 0
    assert rec1[-1].operator_name == "alice" and rec1[-1].task_label == "pick cup"

    expected = {r1.episode_id: ("alice", "pick cup", "g1", "true"), r2.episode_id: ("bob", "stack blocks", "h1",
                                                                                     "false")}
    assert sorted(p.name for p in out.iterdir()) == sorted([r1.episode_id, r2.episode_id, grasp_id])
    for episode_id, (operator, task, robot, success) in expected.items():
        path = out / episode_id
        meta = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        cd = meta["custom_data"]
        assert (cd["episode_operator"], cd["episode_task_label"], cd["episode_robot"], cd["episode_success"]) == \
            (operator, task, robot, success)
        assert cd["episode_id"] == episode_id and cd["hoi_recorder_state"] == "closed"
        assert cd["episode_software_version"].startswith("0.1.0")
        assert set(cd["episode_calibration_topics"].split(",")) == {"/tf_static", "/ep_test/cam/camera_info"}
        man = json.loads((path / "episode.json").read_text())
        assert man["operator"] == operator and man["task_label"] == task and man["robot"] == robot
        assert man["success"] is (success == "true") and man["stop_reason"] == "operator"
        with BagReader(path) as r:
            msgs = list(r.messages())
            counts: dict[str, int] = {}
            for m in msgs:
                counts[m.topic] = counts.get(m.topic, 0) + 1
            assert counts == {t: v["count"] for t, v in man["bag"]["topics"].items()}
            assert r.message_count == man["bag"]["message_count"] == len(msgs)
            # the latched transform published once before the recorder started is in every episode
            tfs = [r.deserialize(m) for m in msgs if m.topic == "/tf_static"]
            assert len(tfs) == 1 and tfs[0].transforms[0].child_frame_id == "zed_left"
            assert tfs[0].transforms[0].transform.translation.x == 1.25
            first = msgs[0]
            assert first.topic in ("/tf_static", "/ep_test/cam/camera_info")  # calibration leads the episode
            infos = [r.deserialize(m) for m in msgs if m.topic == "/ep_test/cam/camera_info"]
            assert infos and infos[0].width == 1280 and infos[0].k[0] == 700.0
            chatter_n = counts["/ep_test/chatter"]
            assert chatter_n >= (20 if episode_id == r1.episode_id else 10), counts
    assert json.loads((out / r1.episode_id / "episode.json").read_text())["notes"] == "first take\nclean grasp"


def test_bad_parameter_exits_2(tmp_path: Path) -> None:
    res = subprocess.run([PY, "-m", "hoi_perception.nodes.episode_recorder", "--ros-args", "-p",
                          f"output_dir:={tmp_path}", "-p", "button_mode:=sometimes"],
                         capture_output=True, text=True, env=_env(), timeout=60)
    assert res.returncode == 2
    assert "button_mode" in res.stderr + res.stdout


def test_button_start_and_duration_limit_stop(tmp_path: Path) -> None:
    """A teleop button starts an episode, max_episode_duration_s stops it with one WARN line;
    ~/status and /diagnostics say so."""
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from std_msgs.msg import Bool, String

    from hoi_msgs.msg import EpisodeStatus

    out = tmp_path / "episodes"
    log = tmp_path / "recorder.log"
    with log.open("w") as logf:
        proc = subprocess.Popen(
            [PY, "-m", "hoi_perception.nodes.episode_recorder", "--ros-args", "-p", f"output_dir:={out}",
             "-p", "topics:=[/ep_btn/*]", "-p", "min_free_bytes:=0", "-p", "max_episode_duration_s:=1.0",
             "-p", "button_topic:=/ep_button", "-p", "discovery_period_s:=0.2", "-p", "default_task:=button task"],
            stdout=logf, stderr=subprocess.STDOUT, env=_env())
    context = rclpy.Context()
    rclpy.init(context=context)
    statuses: list[Any] = []
    diags: list[Any] = []
    try:
        node = rclpy.create_node("episode_button_test", context=context)
        chatter = node.create_publisher(String, "/ep_btn/chatter", 10)
        button = node.create_publisher(Bool, "/ep_button", 10)
        node.create_timer(0.05, lambda: chatter.publish(String(data="x")))
        node.create_subscription(EpisodeStatus, f"{NODE}/status", statuses.append,
                                 QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        _spin_until(executor, lambda: button.get_subscription_count() > 0 and chatter.get_subscription_count() > 0,
                    60.0, "the recorder's subscriptions")
        button.publish(Bool(data=True))
        _spin_until(executor, lambda: statuses and statuses[-1].state == EpisodeStatus.RECORDING, 10.0,
                    "the button to start an episode")
        button.publish(Bool(data=False))  # release: toggle mode keeps recording
        _spin_until(executor, lambda: statuses[-1].state == EpisodeStatus.IDLE, 10.0, "the duration limit")
        last = statuses[-1]
        assert last.last_stop_reason.startswith("max_duration") and last.episodes_recorded == 1
        assert last.task_label == "button task" and 1.0 <= last.duration_s < 3.0 and last.messages > 0
        _spin_until(executor, lambda: any(s.name == "episode_recorder: episodes" and
                                          dict((kv.key, kv.value) for kv in s.values).get("episodes_recorded") == "1"
                                          for d in diags for s in d.status), 10.0, "/diagnostics")
        executor.remove_node(node)
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    text = log.read_text()
    assert rc == 0, text
    limit_lines = [ln for ln in text.splitlines() if "max_duration" in ln and ln.startswith("[")]  # not the summary
    assert len(limit_lines) == 1 and "[WARN]" in limit_lines[0], text
    (episode,) = out.iterdir()
    man = json.loads((episode / "episode.json").read_text())
    assert man["stop_reason"].startswith("max_duration") and man["success"] is None
    with BagReader(episode) as r:
        assert r.message_count == man["bag"]["message_count"] > 0
