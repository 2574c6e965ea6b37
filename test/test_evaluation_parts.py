"""Parts of the replay evaluation on their own: pacing, the CDR stamp reader,
PA-MPJPE, object pose errors, the whole-graph launch file, the configuration,
the CLI's argument errors, and the batch runner on Dask."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.spatial.transform import Rotation

REPO = Path(__file__).resolve().parents[1]
GRAPH = REPO / "src" / "hoi_bringup" / "launch" / "hoi_graph.launch.yaml"


# ---------------------------------------------------------------- pacing


def test_header_stamp_from_cdr_equals_rclpy() -> None:
    from hoi_perception.evaluation.pacing import header_stamp_ns
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Image

    m = Image()
    m.header.stamp.sec, m.header.stamp.nanosec = 1_700_000_123, 456_789
    m.header.frame_id = "cam"
    assert header_stamp_ns(serialize_message(m)) == 1_700_000_123 * 10**9 + 456_789
    assert header_stamp_ns(b"\x00\x01") is None
    assert header_stamp_ns(b"\x07\x07" + bytes(10)) is None  # not plain CDR


def test_pacer_window_tolerance_and_summary() -> None:
    from hoi_perception.evaluation.pacing import AwaitSpec, FramePacer

    stamps = [1000 + 100 * k for k in range(6)]  # 100 ns period -> tolerance 50
    p = FramePacer([AwaitSpec("/out", "/img"), AwaitSpec("/other", "/missing")], {"/img": stamps}, window=2)
    assert [a.output for a in p.ignored] == ["/other"]
    assert p.tolerance_ns["/img"] == 50
    assert p.required("/img", 0) == [] and p.required("/img", 1) == []
    assert p.required("/img", 2) == [("/out", 0)]
    for k in range(4):
        p.on_published("/img", k, 10_000 * k)
    assert not p.answered("/out", 0)
    p.on_output("/out", 1000 - 40, 10_000 * 0 + 7_000_000)  # stamped with another camera, 40 ns earlier
    assert p.answered("/out", 0) and not p.answered("/out", 1)
    p.on_output("/out", 1300, 10_000 * 3 + 2_000_000)  # frames 1 and 2 skipped by the node
    assert p.answered("/out", 1) and p.answered("/out", 3)  # a later output answers the skipped frames
    p.on_timeout("/out")
    s = p.summary()["/out"]
    assert (s["frames"], s["answered"], s["missing"], s["timeouts"], s["outputs"]) == (6, 2, 4, 1, 2)
    assert s["latency_ms"] == pytest.approx([7.0, 2.0])
    assert p.remaining() == [("/out", 4), ("/out", 5)]
    with pytest.raises(ValueError):
        FramePacer([], {}, window=0)


# ---------------------------------------------------------------- pose and object metrics


def test_pa_mpjpe_removes_similarity_transform_only() -> None:
    from hoi_perception.evaluation.pose import mpjpe_mm, pa_mpjpe_mm

    rng = np.random.default_rng(0)
    gt = rng.normal(size=(17, 3))
    moved = 1.3 * Rotation.from_rotvec([0.3, -1.0, 0.4]).apply(gt) + [1.0, 2.0, -0.5]
    assert mpjpe_mm(moved, gt) > 100
    assert pa_mpjpe_mm(moved, gt) == pytest.approx(0.0, abs=1e-6)
    noisy = gt + rng.normal(scale=0.01, size=gt.shape)
    assert 0 < pa_mpjpe_mm(noisy, gt) <= mpjpe_mm(noisy, gt)
    mirrored = gt * [-1, 1, 1]  # a reflection is not a rotation: error stays
    assert pa_mpjpe_mm(mirrored, gt) > 1
    valid = np.zeros(17, bool)
    valid[:2] = True
    assert np.isnan(pa_mpjpe_mm(noisy, gt, valid))


def test_object_pose_errors_known_values() -> None:
    from hoi_perception.evaluation.object_pose import (
        add_m,
        adds_m,
        box_model_points,
        diameter_m,
        rotation_error_deg,
        translation_error_m,
    )

    pts = box_model_points([0.4, 0.2, 0.1], step_m=0.05)
    assert np.abs(pts).max(axis=0) == pytest.approx([0.2, 0.1, 0.05])
    assert diameter_m(pts) == pytest.approx(np.linalg.norm([0.4, 0.2, 0.1]))
    gt = np.eye(4)
    shifted = np.eye(4)
    shifted[:3, 3] = [0.03, 0.04, 0.0]
    assert translation_error_m(shifted, gt) == pytest.approx(0.05)
    assert add_m(pts, shifted, gt) == pytest.approx(0.05)  # a pure translation moves every point by it
    flipped = np.eye(4)
    flipped[:3, :3] = Rotation.from_rotvec([0, 0, np.pi]).as_matrix()
    assert rotation_error_deg(flipped, gt) == pytest.approx(180.0)
    assert add_m(pts, flipped, gt) > 0.1
    assert adds_m(pts, flipped, gt) == pytest.approx(0.0, abs=1e-9)  # the box is symmetric under it
    r30 = np.eye(4)
    r30[:3, :3] = Rotation.from_rotvec([0.3, 0.2, 0.1]).as_matrix()
    assert rotation_error_deg(r30, gt) == pytest.approx(np.degrees(np.linalg.norm([0.3, 0.2, 0.1])))


def test_grasp_event_matching() -> None:
    from hoi_perception.evaluation.metrics.contacts import GraspEvent, match_events, transitions

    seq = [(0, {"Box": {"left": False, "right": False}}), (10, {"Box": {"left": True, "right": False}}),
           (20, {"Box": {"left": True, "right": True}}), (30, {})]
    ev = transitions(seq)
    assert [(e.stamp_ns, e.hand, e.kind) for e in ev] == [(10, "left", "grasp"), (20, "right", "grasp"),
                                                          (30, "left", "release"), (30, "right", "release")]
    pred = [GraspEvent(14, "left", "grasp", "Box"), GraspEvent(12, "right", "grasp", "Box"),
            GraspEvent(90, "left", "release", "Box")]
    errors, missed, spurious = match_events(ev, pred, window_ns=10)
    assert errors == pytest.approx([4e-6, -8e-6]) and missed == 2 and spurious == 1


# ---------------------------------------------------------------- the whole-graph launch file

# What ros2 launch's YAML front end accepts for these entries (launch/launch_ros
# frontend: Node.parse, DeclareLaunchArgument.parse; an action takes one of if/unless).
NODE_KEYS = {"pkg", "exec", "name", "namespace", "param", "remap", "args", "on_exit", "if", "unless", "output",
             "respawn", "ros_args"}


def test_graph_launch_is_ros2_yaml_and_parses_with_hoi_launch() -> None:
    from hoi_perception.launch.yaml_launch import parse_launch_file

    doc = yaml.safe_load(GRAPH.read_text())
    args = {}
    for entry in doc["launch"]:
        (kind, body), = entry.items()
        assert kind in ("arg", "node")
        if kind == "arg":
            assert set(body) <= {"name", "default", "description", "choice"} and isinstance(body["default"], str)
            args[body["name"]] = body["default"]
        else:
            assert set(body) <= NODE_KEYS, set(body) - NODE_KEYS
            assert not ("if" in body and "unless" in body), "ros2 launch allows one condition per action"
    assert {n.name for n in parse_launch_file(GRAPH, {})} == {"body_pose", "objects_hands", "contacts", "sparse4d_node"}
    everything = {"play_bag": "true", "zed_live": "true", "sync_monitor": "true", "sparse4d_groups": "true",
                  "evaluate_tracks": "true", "record": "true"}
    nodes = parse_launch_file(GRAPH, everything)
    names = [(n.namespace, n.name) for n in nodes]
    assert ("bev_group_0", "sparse4d_node") in names and ("", "track_fusion") in names
    assert {"zed_capture", "bag_player", "sync_monitor", "bag_recorder", "track_evaluator"} <= {n for _, n in names}
    for n in nodes:
        n.command()  # every executable resolves
        for f in n.param_files:  # a parameter file per part, in ROS 2 parameter-file form
            params = yaml.safe_load(Path(f).read_text())
            assert any("ros__parameters" in v for v in params.values()), f
    off = {k: "false" for k in ("body_pose", "objects_hands", "contacts", "sparse4d")}
    assert parse_launch_file(GRAPH, off) == []
    # objects_hands and contacts publish on the topics contacts and the evaluation read
    by_name = {n.name: n for n in parse_launch_file(GRAPH, {})}
    assert ("~/objects", "/hoi/objects") in by_name["objects_hands"].remaps
    assert ("~/hands", "/hoi/hands") in by_name["objects_hands"].remaps
    assert dict(by_name["objects_hands"].params)["people_source"] == "topic"
    from hoi_perception.nodes.contacts_node import PARAMETERS as CONTACTS_PARAMETERS

    # the node's defaults, overridden by its parameter file (which holds only values that differ)
    contacts_cfg = {p.name: p.default for p in CONTACTS_PARAMETERS}
    contacts_cfg.update(yaml.safe_load((Path(by_name["contacts"].param_files[0])).read_text())["contacts"]
                        .get("ros__parameters") or {})
    assert (contacts_cfg["hands_topic"], contacts_cfg["objects_topic"]) == ("/hoi/hands", "/hoi/objects")
    # CoCoNet and InteractVLM: off by default, each behind its argument and its own parameter file,
    # fed by body_pose (/hoi/humans) and objects_hands (/hoi/objects, /hoi/object_extents)
    assert not {"coconet", "interactvlm"} & set(by_name)
    assert ("~/object_extents", "/hoi/object_extents") in by_name["objects_hands"].remaps
    plugged = {n.name: n for n in parse_launch_file(GRAPH, {"coconet": "true", "interactvlm": "true"})}
    assert set(plugged) == set(by_name) | {"coconet", "interactvlm"}
    assert {n.name for n in parse_launch_file(GRAPH, {"coconet": "true"})} == set(by_name) | {"coconet"}
    coconet, ivlm = plugged["coconet"], plugged["interactvlm"]
    assert Path(coconet.param_files[0]).name == "coconet.yaml" and Path(ivlm.param_files[0]).name == "contacts.yaml"
    assert "coconet" in yaml.safe_load(Path(coconet.param_files[0]).read_text())
    assert "interactvlm" in yaml.safe_load(Path(ivlm.param_files[0]).read_text())
    from hoi_perception.nodes.coconet_node import PARAMETERS as COCONET_PARAMETERS
    from hoi_perception.nodes.interactvlm_node import PARAMETERS as INTERACTVLM_PARAMETERS

    cp, ip = dict(coconet.params), dict(ivlm.params)
    coconet_defaults = {p.name: p.default for p in COCONET_PARAMETERS}
    ivlm_defaults = {p.name: p.default for p in INTERACTVLM_PARAMETERS}
    assert cp["objects_topic"] == "/hoi/objects" and coconet_defaults["humans_topic"] == "/hoi/humans"
    assert (ivlm_defaults["humans_topic"], ivlm_defaults["objects_topic"]) == ("/hoi/humans", "/hoi/objects")
    assert cp["model_path"] == ip["model_path"] == ""  # no model given: the labelled STAND-IN engines
    assert cp["use_sim_time"] is ip["use_sim_time"] is False
    assert ("~/hoi_state", "/hoi/hoi_state") in coconet.remaps
    assert ("~/contacts", "/hoi/interactvlm/contacts") in ivlm.remaps
    own = {"coconet": "true", "interactvlm": "true", "use_sim_time": "true", "coconet_params": "/tmp/c.yaml",
           "interactvlm_params": "/tmp/i.yaml", "coconet_model": "/m/coconet.onnx", "interactvlm_model": "/m/mvloc.onnx"}
    plugged = {n.name: n for n in parse_launch_file(GRAPH, own)}
    assert plugged["coconet"].param_files == ["/tmp/c.yaml"] and plugged["interactvlm"].param_files == ["/tmp/i.yaml"]
    assert dict(plugged["coconet"].params)["model_path"] == "/m/coconet.onnx"
    assert dict(plugged["interactvlm"].params)["model_path"] == "/m/mvloc.onnx"
    assert dict(plugged["coconet"].params)["use_sim_time"] is True
    assert "PLUG-IN" not in GRAPH.read_text()


# ---------------------------------------------------------------- configuration and CLI


def test_config_errors_are_clear(tmp_path: Path) -> None:
    from hoi_perception.evaluation.replay import EvalConfig, EvalConfigError, default_config_path

    cfg = EvalConfig.load(default_config_path())
    assert cfg.outputs["/hoi/humans"] == "hoi_msgs/msg/HumanPose3DArray" and cfg.window == 2
    with pytest.raises(EvalConfigError, match="unknown keys"):
        EvalConfig.from_dict({"launch": "x", "typo": 1})
    with pytest.raises(EvalConfigError, match="not in outputs"):
        EvalConfig.from_dict({"launch": "x", "pace": [{"output": "/a", "trigger": "/b"}]})
    with pytest.raises(EvalConfigError, match="launch"):
        EvalConfig.from_dict({})


def test_cli_bad_arguments_exit_2(tmp_path: Path) -> None:
    py = [sys.executable, "-m", "hoi_perception.evaluation.eval_bag_cli"]
    r = subprocess.run(py + [str(tmp_path / "nope")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "does not exist" in r.stderr and r.stderr.count("\n") == 1
    (tmp_path / "bad.yaml").write_text("launch: x\nwindow: 0\n")
    (tmp_path / "bag").mkdir()
    (tmp_path / "bag" / "metadata.yaml").write_text("x")
    r = subprocess.run(py + [str(tmp_path / "bag"), "--config", str(tmp_path / "bad.yaml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "window must be >= 1" in r.stderr


def test_batch_domain_ids_and_dask_local(tmp_path: Path) -> None:
    """hoi-eval-batch on a LocalCluster: the bag runs in a worker process through
    hoi-eval-bag; a missing bag fails alone, without stopping the batch."""
    from hoi_perception.evaluation.batch import domain_for, make_tasks, run_batch, write_batch_report

    assert [domain_for(i, 99) for i in range(4)] == [99, 100, 1, 2]
    bags = [tmp_path / "a", tmp_path / "b"]
    tasks = make_tasks(bags, tmp_path / "out", None, 7, 60.0)
    assert [t.domain_id for t in tasks] == [7, 8] and len({t.out_dir for t in tasks}) == 2
    results = run_batch(tasks, dask="local", workers=2)
    assert [r["exit_code"] for r in results] == [2, 2]  # the bags do not exist: a clear exit 2 each
    assert all("does not exist" in Path(r["log"]).read_text() for r in results)
    md, js = write_batch_report(results, tmp_path / "out")
    assert md.read_text().count("| a |") == 1 and js.exists()
