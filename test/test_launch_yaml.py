"""The YAML launch runner parses the ROS 2 YAML launch format subset the
stack uses, and runs and stops real processes."""

from __future__ import annotations

import io
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hoi_perception.launch.yaml_launch import (
    LaunchError,
    NodeSpec,
    find_pkg_share,
    parse_launch_file,
    run,
    substitute,
)

from hoi_perception import paths


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
    # installed share folder first (the venv under make setup, a colcon install when sourced)
    assert n.param_files[0] == str(paths.share_dir("hoi_bringup") / "config" / "x.yaml")
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
    # each exit is reported as ros2 launch reports it: quick ended by itself, sleeper was stopped by SIGINT
    assert "process quick has finished cleanly" in out.getvalue()
    assert "process sleeper has died" in out.getvalue() and "signal SIGINT" in out.getvalue(), out.getvalue()


@pytest.mark.parametrize("attr", ["launch-prefix: gdb -ex run --args", "respawn: true", "output: log",
                                  "emulate_tty: true", "shell: true", "respawnn: true"])
def test_node_attributes_are_implemented_or_rejected_by_name(tmp_path: Path, attr: str) -> None:
    """Nothing vanishes silently: an attribute hoi-launch does not implement is an error naming it."""
    f = _write(tmp_path, f"""
        launch:
        - node:
            pkg: hoi_perception
            exec: bag_player
            {attr}
        """)
    key = attr.split(":")[0]
    if key in ("launch-prefix", "respawn"):  # implemented
        n = parse_launch_file(f, {})[0]
        assert n.prefix == ["gdb", "-ex", "run", "--args"] if key == "launch-prefix" else n.respawn
        return
    with pytest.raises(LaunchError, match=key):
        parse_launch_file(f, {})


def test_env_cwd_prefix_ros_args_and_nested_params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOI_TEST_UNSET_ME", "x")
    f = _write(tmp_path, """
        launch:
        - arg: {name: mode, default: fast, description: how, choice: [{value: fast}, {value: slow}]}
        - let: {name: tag, value: run-$(var mode)}
        - set_env: {name: HOI_TEST_LEVEL, value: $(var tag)}
        - unset_env: {name: HOI_TEST_UNSET_ME}
        - node:
            pkg: hoi_perception
            exec: bag_player
            exec_name: player_proc
            cwd: /tmp
            launch-prefix: nice -n 5
            ros_args: --log-level debug
            env: [{name: HOI_TEST_OWN, value: "$(optenv HOI_TEST_NOPE fallback)"}]
            sigterm_timeout: "2"
            param:
            - name: group
              param:
              - {name: a, value: 1}
              - name: inner
                param: [{name: b, value: $(var mode)}]
        """)
    n = parse_launch_file(f, {})[0]
    assert n.params == [("group.a", 1), ("group.inner.b", "fast")]
    assert n.env == {"HOI_TEST_LEVEL": "run-fast", "HOI_TEST_UNSET_ME": None, "HOI_TEST_OWN": "fallback"}
    env = n.environment()
    assert env["HOI_TEST_LEVEL"] == "run-fast" and "HOI_TEST_UNSET_ME" not in env
    assert (n.cwd, n.label, n.sigterm_timeout_s) == ("/tmp", "player_proc", 2.0)
    cmd = n.command()
    assert cmd[:3] == ["nice", "-n", "5"] and cmd[-2:] == ["--log-level", "debug"]
    with pytest.raises(LaunchError, match="'slow2' is not one of"):
        parse_launch_file(f, {"mode": "slow2"})


def test_substitutions_as_ros2_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOI_TEST_NOT_SET", raising=False)
    with pytest.raises(LaunchError, match="HOI_TEST_NOT_SET"):  # launch raises SubstitutionFailure here
        substitute("$(env HOI_TEST_NOT_SET)", {})
    assert substitute("$(env HOI_TEST_NOT_SET dflt)", {}) == "dflt"
    assert substitute("$(optenv HOI_TEST_NOT_SET)", {}) == ""
    with pytest.raises(LaunchError, match=r"\$\(eval"):
        substitute("$(eval 1+1)", {})
    assert substitute("$(find-pkg-prefix hoi_bringup)", {}) == str(paths.share_dir("hoi_bringup").parent.parent)


def test_installed_share_before_the_source_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # run from a directory holding a source checkout of the package: the installed one still wins
    (tmp_path / "src" / "hoi_bringup").mkdir(parents=True)
    (tmp_path / "src" / "hoi_bringup" / "package.xml").write_text("<package/>")
    monkeypatch.chdir(tmp_path)
    assert find_pkg_share("hoi_bringup") == paths.share_dir("hoi_bringup")
    # a package that is not installed falls back to ./src/<pkg>, and failing that names the places searched
    (tmp_path / "src" / "only_in_source").mkdir()
    (tmp_path / "src" / "only_in_source" / "package.xml").write_text("<package/>")
    assert find_pkg_share("only_in_source") == tmp_path / "src" / "only_in_source"
    with pytest.raises(LaunchError, match="no_such_pkg_xyz"):
        find_pkg_share("no_such_pkg_xyz")


def test_every_bringup_launch_file_parses() -> None:
    for f in sorted((paths.share_dir("hoi_bringup") / "launch").glob("*.launch.yaml")):
        assert parse_launch_file(f, {}), f


def test_respawn_restarts_until_the_retries_are_spent(tmp_path: Path) -> None:
    counter = tmp_path / "n"
    script = f"import pathlib; p = pathlib.Path({str(counter)!r}); p.write_text(str(int(p.read_text() or 0) + 1) if p.exists() else '1')"
    flaky = NodeSpec(pkg="t", executable=sys.executable, name="flaky", args=["-c", script], respawn=True,
                     respawn_delay_s=0.1, respawn_max_retries=2)
    out = io.StringIO()
    rc = run([flaky], timeout_s=30, sink=out)
    assert rc == 0
    assert counter.read_text() == "3"  # first start + 2 respawns
    assert out.getvalue().count("respawning") == 2


def test_stop_escalates_to_sigterm(tmp_path: Path) -> None:
    # a node that ignores SIGINT is stopped by SIGTERM after sigterm_timeout
    stubborn = NodeSpec(pkg="t", executable=sys.executable, name="stubborn", sigterm_timeout_s=0.5,
                        args=["-c", "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"])
    quick = NodeSpec(pkg="t", executable=sys.executable, name="quick", shutdown_on_exit=True,
                     args=["-c", "import time; time.sleep(1.0)"])
    t0 = time.monotonic()
    assert run([stubborn, quick], timeout_s=30, sink=io.StringIO()) == 0
    assert time.monotonic() - t0 < 10
