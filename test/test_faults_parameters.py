"""Bad start-up parameters of body_pose and sparse4d_node (issue 10): each is
one clear line and exit code 2, never a traceback or exit 1. All processes
start at once, so the module takes about one node start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NODES = {"body_pose": "hoi_perception.nodes.body_pose", "sparse4d_node": "hoi_perception.nodes.sparse4d_node"}


def _cases(not_onnx: Path) -> list[tuple[str, list[str], str]]:
    """(node, parameters, a word the one line must contain)."""
    return [
        ("sparse4d_node", ["cameras:=[]"], "cameras"),
        ("body_pose", ["max_people:=-3"], "max_people"),
        ("body_pose", ["tracker_max_age_s:=-5.0"], "tracker_max_age_s"),
        ("body_pose", ["sync.max_interval_s:=-1.0"], "sync.max_interval_s"),
        ("sparse4d_node", ["sync.max_interval_s:=-1.0"], "sync.max_interval_s"),
        ("body_pose", ["use_depth:=maybe"], "use_depth"),
        ("body_pose", ["backend:=bodypose3dnet", f"model_path:={not_onnx}"], "not a loadable ONNX model"),
        ("sparse4d_node", [f"model_path:={not_onnx}"], "not a loadable ONNX model"),
        ("body_pose", ["image_topic:=bad topic!"], "topic"),
        ("sparse4d_node", ["image_topic:=/cams/{camera}/bad topic"], "topic"),
        ("body_pose", ["max_image_pixels:=-1"], "max_image_pixels"),
        ("sparse4d_node", ["camera_stopped_after_s:=0.0"], "camera_stopped_after_s"),
    ]


def test_bad_parameters_exit_2_with_one_line(tmp_path: Path) -> None:
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_bytes(b"this is not an ONNX model\n" * 10)
    cases = _cases(not_onnx)
    procs = []
    for node, params, _ in cases:
        args = [sys.executable, "-m", NODES[node], "--ros-args"]
        for p in params:
            args += ["-p", p]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      env=os.environ.copy()))
    failures = []
    for (node, params, word), proc in zip(cases, procs, strict=True):
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        lines = [ln for ln in out.splitlines() if ln.strip() and "XNNPACK" not in ln]
        if proc.returncode != 2 or len(lines) != 1 or word not in lines[0] or "ERROR" not in lines[0]:
            failures.append(f"{node} {params}: exit {proc.returncode}, output:\n{out}")
    assert not failures, "\n\n".join(failures)
