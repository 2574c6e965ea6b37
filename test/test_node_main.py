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
        if sys.argv[1].startswith("slow_close"):
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
