"""objects_hands node start-up: a parameter out of range exits 2 with one line."""

from __future__ import annotations

import os
import subprocess
import sys


def test_out_of_range_parameter_exits_2_with_one_line() -> None:
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "hoi_perception.nodes.objects_hands", "--ros-args", "-p", "min_detection_score:=1.5"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2, r.stderr
    err = [ln for ln in r.stderr.splitlines() if "min_detection_score" in ln]
    assert len(err) == 1 and "[0.0, 1.0]" in err[0]


def test_unknown_people_source_exits_2() -> None:
    cmd = [sys.executable, "-m", "hoi_perception.nodes.objects_hands", "--ros-args", "-p", "people_source:=kinect"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert r.returncode == 2 and "people_source" in r.stderr
