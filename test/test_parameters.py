"""Parameters have one source of truth: every node declares them from its
PARAMETERS table with a ParameterDescriptor; config/*.yaml only holds values
that differ from those defaults, each declared by its node; every launch file
parses and documents its arguments."""

from __future__ import annotations

import importlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import rclpy
import yaml
from conftest import REPO_ROOT
from hoi_perception.launch.yaml_launch import LaunchError, parse_launch_file
from hoi_perception.ros.parameters import Param, declare_parameters, defaults
from rclpy.parameter import Parameter

CONFIG = REPO_ROOT / "config"
LAUNCH = REPO_ROOT / "src" / "hoi_bringup" / "launch"
# node name -> module whose PARAMETERS (and SYNC_DEFAULTS) it declares
NODES = {
    "body_pose": "hoi_perception.nodes.body_pose",
    "sparse4d_node": "hoi_perception.nodes.sparse4d_node",
    "track_fusion": "hoi_perception.nodes.track_fusion_node",
    "track_evaluator": "hoi_perception.nodes.track_evaluator",
    "sync_monitor": "hoi_perception.nodes.sync_monitor",
    "video_camera": "hoi_perception.nodes.video_camera",
    "zed_capture": "hoi_perception.nodes.zed_capture",
    "episode_recorder": "hoi_perception.nodes.episode_recorder",
    "bag_player": "hoi_perception.nodes.bag_player",
    "bag_recorder": "hoi_perception.nodes.bag_recorder",
    "coconet": "hoi_perception.nodes.coconet_node",
    "contacts": "hoi_perception.nodes.contacts_node",
    "interactvlm": "hoi_perception.nodes.interactvlm_node",
    "objects_hands": "hoi_perception.nodes.objects_hands",
}


def _table(node: str) -> tuple[tuple[Param, ...], dict[str, Any]]:
    mod = importlib.import_module(NODES[node])
    params = mod.PARAMETERS if hasattr(mod, "PARAMETERS") else mod.parameters()
    d = defaults(params)
    if hasattr(mod, "SYNC_DEFAULTS"):
        from hoi_perception.ros.synchronizer import SyncConfig

        params = params + SyncConfig.parameters(mod.SYNC_DEFAULTS)
        d.update({f"sync.{k}": v for k, v in asdict(mod.SYNC_DEFAULTS).items()})
    return params, d


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


@pytest.mark.parametrize("node", sorted(NODES))
def test_every_parameter_is_documented(node: str) -> None:
    params, _ = _table(node)
    names = [p.name for p in params]
    assert len(names) == len(set(names)), names
    for p in params:
        d = p.descriptor()
        assert len(p.description) > 10, p
        if p.choices:
            assert p.default in p.choices, p
        if d.integer_range or d.floating_point_range:
            r = (d.integer_range or d.floating_point_range)[0]
            assert r.from_value <= p.default <= r.to_value, p


def _param_files() -> list[Path]:
    return [f for f in sorted(CONFIG.glob("*.yaml"))
            if any(isinstance(v, dict) and "ros__parameters" in v
                   for v in (yaml.safe_load(f.read_text()) or {}).values())]


@pytest.mark.parametrize("path", _param_files(), ids=lambda p: p.name)
def test_config_keys_are_declared_and_differ_from_the_defaults(path: Path) -> None:
    for section, body in yaml.safe_load(path.read_text()).items():
        node = section.split("/")[-1]
        assert node in NODES, f"{path.name}: section {section!r} names no node of this package"
        _, d = _table(node)
        for key, value in _flat(body["ros__parameters"] or {}).items():
            assert key in d, f"{path.name}: {node} declares no parameter {key!r}"
            assert value != d[key], f"{path.name}: {node}.{key} = {value!r} is the default already (one place)"


def test_descriptors_reach_the_node_and_bad_values_exit_cleanly() -> None:
    from hoi_perception.nodes.sync_monitor import PARAMETERS, SYNC_DEFAULTS
    from hoi_perception.ros.synchronizer import SyncConfig

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        node = rclpy.create_node("param_test", context=ctx)
        declare_parameters(node, PARAMETERS)
        SyncConfig.declare(node, "sync", SYNC_DEFAULTS)
        d = node.describe_parameter("sync.stream_policy")
        assert d.read_only and "partial" in d.additional_constraints and d.description
        r = node.describe_parameter("report_period_s").floating_point_range[0]
        assert (r.from_value, r.to_value) == (0.0, 3600.0)
        # read-only: a run-time change is refused, not silently ignored
        assert not node.set_parameters([Parameter("report_period_s", value=1.0)])[0].successful
        node.destroy_node()
        bad = rclpy.create_node("param_bad", context=ctx,
                                parameter_overrides=[Parameter("sync.stream_policy", value="sometimes")])
        with pytest.raises(ValueError, match="stream_policy"):
            SyncConfig.declare(bad, "sync")
        bad.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)


@pytest.mark.parametrize("path", sorted(LAUNCH.glob("*.launch.yaml")), ids=lambda p: p.name)
def test_launch_files_parse_and_document_their_arguments(path: Path) -> None:
    nodes = parse_launch_file(path, {})
    assert nodes, path
    for entry in yaml.safe_load(path.read_text())["launch"]:
        (kind, body), = entry.items()
        if kind == "arg":
            assert body.get("description"), f"{path.name}: argument {body['name']} has no description"
            if "choice" in body:
                assert str(body["default"]) in [str(c["value"]) for c in body["choice"]], body
                with pytest.raises(LaunchError, match="not one of"):
                    parse_launch_file(path, {body["name"]: "__not_a_choice__"})
    for n in nodes:
        assert n.executable, n


@pytest.mark.parametrize("name", ["body_pose_video.launch.yaml", "body_pose_bag.launch.yaml"])
def test_box_source_choices_in_launch_files_match_the_node(name: str) -> None:
    from hoi_perception.bodypose.box_sources import BOX_SOURCES

    args = {e["arg"]["name"]: e["arg"] for e in yaml.safe_load((LAUNCH / name).read_text())["launch"] if "arg" in e}
    assert [c["value"] for c in args["box_source"]["choice"]] == ["default", *BOX_SOURCES]
    for choice in ("ssd", "ssd+blazepose", "hog"):  # every source by name reaches the node's parameter
        (node,) = [n for n in parse_launch_file(LAUNCH / name, {"box_source": choice}) if n.name == "body_pose"]
        assert dict(node.params)["box_source"] == choice, node.params
