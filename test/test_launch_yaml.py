"""The YAML launch runner parses the ROS 2 YAML launch format subset the
stack uses, and runs and stops real processes."""

from __future__ import annotations

import io
import sys
import textwrap
from pathlib import Path

import pytest
from hoi_perception.launch.yaml_launch import LaunchError, NodeSpec, parse_launch_file, run


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "g.launch.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_args_substitution_params_remaps(tmp_path: Path) -> None:
    f = _write(tmp_path, """
        launch:
        - arg: {name: rate, default: "2.0"}
        - arg: {name: ns, default: "cams"}
        - arg: {name: with_viz, default: "false"}
        - node:
            pkg: hoi_perception
            exec: bag_player
            name: player
            namespace: $(var ns)
            on_exit: shutdown
            param:
            - {name: rate, value: $(var rate)}
            - {name: loop, value: true}
            - {from: $(find-pkg-share hoi_bringup)/config/x.yaml}
            remap:
            - {from: /clock, to: /sim_clock}
        - node: {pkg: hoi_perception, exec: viz, if: $(var with_viz)}
        """)
    nodes = parse_launch_file(f, {"rate": "0.5"})
    assert len(nodes) == 1
    n = nodes[0]
    assert (n.name, n.namespace, n.shutdown_on_exit) == ("player", "cams", True)
    assert n.params == [("rate", 0.5), ("loop", True)]
    assert n.param_files[0].endswith("src/hoi_bringup/config/x.yaml")
    assert n.remaps == [("/clock", "/sim_clock")]
    cmd = n.command()
    assert cmd[cmd.index("--ros-args"):] == [
        "--ros-args", "-r", "__node:=player", "-r", "__ns:=/cams", "--params-file", n.param_files[0],
        "-p", "rate:=0.5", "-p", "loop:=true", "-r", "/clock:=/sim_clock"]


def test_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="no default"):
        parse_launch_file(_write(tmp_path, "launch:\n- arg: {name: bag}\n"), {})
    with pytest.raises(LaunchError, match="unknown launch arguments: nope"):
        parse_launch_file(_write(tmp_path, "launch:\n- arg: {name: a, default: '1'}\n"), {"nope": "1"})
    with pytest.raises(LaunchError, match="not supported"):
        parse_launch_file(_write(tmp_path, "launch:\n- include: {file: x}\n"), {})
    with pytest.raises(LaunchError, match="not found"):
        NodeSpec(pkg="p", executable="no-such-executable-xyz", name="n").command()


def test_run_stops_everything_when_a_shutdown_node_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    long = NodeSpec(pkg="t", executable=sys.executable, name="sleeper", args=["-c", "import time; time.sleep(60)"])
    short = NodeSpec(pkg="t", executable=sys.executable, name="quick", shutdown_on_exit=True,
                     args=["-c", "print('hello from quick')"])
    # the runner appends --ros-args; python -c ignores trailing argv
    out = io.StringIO()
    rc = run([long, short], timeout_s=30, sink=out)
    assert rc == 0
    assert "[quick] hello from quick" in out.getvalue()
