"""The nodes' shared main (ros/node_main.run_node) over real rclpy: a node stopped by
SIGINT while one of its callbacks runs exits 0 with a line naming what was lost
(the callback's publish fails on the closed context); two SIGINTs milliseconds
apart (``ros2 launch`` without a terminal forwards one while the process group
gets the other) are one stop request; a callback that fails while the node runs
still ends the process with the traceback and a non-zero code; a SIGINT sent
seconds after the first cuts a stop that hangs short."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hoi_perception.ros.stop_signal import ESCALATE_AFTER_S

NODE = '''
import sys, time
from rclpy.node import Node
from std_msgs.msg import String
from hoi_perception.ros.node_main import run_node

class Slow(Node):
    def __init__(self):
        super().__init__("node_main_probe")
        self.pub = self.create_publisher(String, "probe_out", 10)
        self.timer = self.create_timer(0.05, self.tick)

    def tick(self):
        self.timer.cancel()
        print("callback started", flush=True)
        if sys.argv[1].startswith("slow_close") or sys.argv[1] == "idle":
            return
        if sys.argv[1] == "fail":
            raise RuntimeError("a real fault in the callback")
        time.sleep(3.0)  # SIGINT arrives here
        self.pub.publish(String(data="late"))

    def close(self):
        if sys.argv[1] == "slow_close":
            print("closing", flush=True)
            time.sleep(20.0)
        if sys.argv[1] == "slow_close_briefly":
            time.sleep(0.5)  # the duplicate SIGINT lands in here
            print("closed", flush=True)

sys.exit(run_node(Slow, "node_main_probe"))
'''


def _start(tmp_path: Path, mode: str) -> subprocess.Popen[str]:
    script = tmp_path / "probe.py"
    script.write_text(NODE)
    return subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=os.environ.copy())


def test_sigint_during_a_callback_is_a_clean_stop(tmp_path: Path) -> None:
    proc = _start(tmp_path, "slow")
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert "callback started" in first, first
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "stopped while a callback was running; its output was not published" in out, out
    assert "Traceback" not in out and "Failed to publish log message" not in out, out


def test_a_duplicated_sigint_is_one_stop_request(tmp_path: Path) -> None:
    proc = _start(tmp_path, "slow_close_briefly")
    assert proc.stdout is not None
    assert "callback started" in proc.stdout.readline()
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)  # the launcher's copy of the same request
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "closed" in out and "Traceback" not in out and "KeyboardInterrupt" not in out, out


def test_a_duplicate_sigint_after_the_node_stopped_is_harmless(tmp_path: Path) -> None:
    """The node's stop is quick; the duplicate of the request (Ctrl-C reaches the process group,
    ros2 launch forwards another) lands while the process exits: still exit 0, no traceback."""
    for gap_s in (0.02, 0.05, 0.1):
        proc = _start(tmp_path, "idle")
        assert proc.stdout is not None
        assert "callback started" in proc.stdout.readline()
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        time.sleep(gap_s)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, (gap_s, out)
        assert "Traceback" not in out and "KeyboardInterrupt" not in out, (gap_s, out)


def test_a_fault_in_a_running_node_still_fails(tmp_path: Path) -> None:
    proc = _start(tmp_path, "fail")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1, out
    assert "RuntimeError: a real fault in the callback" in out and "Traceback" in out, out


def test_a_second_sigint_cuts_a_hung_stop_short(tmp_path: Path) -> None:
    proc = _start(tmp_path, "slow_close")
    assert proc.stdout is not None
    assert "callback started" in proc.stdout.readline()
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # spin ends; close() starts and hangs
    line = proc.stdout.readline()
    assert "closing" in line, line
    time.sleep(ESCALATE_AFTER_S + 0.5)  # sooner would be the same request again
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    assert time.monotonic() - t0 < 10
    assert proc.returncode != 0 and "KeyboardInterrupt" in out, out


SLOW_IMPORT = '''
import time
print("importing", flush=True)
time.sleep(20.0)  # SIGINT arrives while the module is still loading


def main():
    return 5
'''


def test_sigint_while_a_node_module_imports_ends_quietly(tmp_path: Path) -> None:
    """ros2 launch stopping a graph right after starting it: a node still importing ends with
    one line and exit 0, not a KeyboardInterrupt traceback from inside an import (exit -2)."""
    (tmp_path / "slow_node_module.py").write_text(SLOW_IMPORT)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from hoi_perception.ros.node_entry import run; "
            "sys.exit(run('slow_node', 'slow_node_module'))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    assert proc.stdout is not None
    assert "importing" in proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    assert "slow_node: stopped while starting" in out and "Traceback" not in out, out


def test_every_node_executable_starts_through_node_entry() -> None:
    import importlib
    import runpy

    from hoi_perception.ros import node_entry

    from hoi_perception import entry_points

    scripts = runpy.run_path(entry_points.__file__)["CONSOLE_SCRIPTS"]
    targets = dict(s.replace(" ", "").split("=") for s in scripts)
    nodes_dir = Path(importlib.import_module("hoi_perception.nodes").__file__).parent
    node_modules = {p.stem for p in nodes_dir.glob("*.py") if p.stem != "__init__"}
    for name, target in targets.items():
        module, func = target.split(":")
        assert not module.startswith("hoi_perception.nodes."), f"{name} bypasses node_entry: {target}"
        if module == "hoi_perception.ros.node_entry":
            assert callable(getattr(node_entry, func)), name
    started = {t.split(":")[1] for t in targets.values() if t.startswith("hoi_perception.ros.node_entry:")}
    assert len(started) >= 14
    source = Path(node_entry.__file__).read_text()
    for mod in sorted(node_modules):
        if "def main(" in (nodes_dir / f"{mod}.py").read_text():
            assert f'"hoi_perception.nodes.{mod}"' in source, f"node module {mod} has a main() but no executable"
