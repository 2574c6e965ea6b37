"""Console entry points of the node executables (entry_points.py).

Importing a node module takes a second or more (numpy, OpenCV, ONNX Runtime,
LiteRT, rclpy). Python's default SIGINT handling during that time ends the
process with a KeyboardInterrupt traceback from deep inside some import and
exit code -2, which ``ros2 launch`` reports as a crash when a graph is stopped
right after it was started. Here a SIGINT while the node module is importing
ends the process quietly with one line and exit code 0: nothing had run yet,
so nothing is lost. Once the node's ``main`` runs, ros/stop_signal.py takes
over SIGINT."""

from __future__ import annotations

import importlib
import signal
import sys
from collections.abc import Callable
from types import FrameType


class _StoppedWhileStarting(BaseException):
    """BaseException, so that no ``except Exception`` in an imported module swallows it."""


def run(name: str, module: str, attribute: str = "main") -> int:
    """Import ``module`` with SIGINT ending the start quietly, then return ``module.main()``."""

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        raise _StoppedWhileStarting

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        main: Callable[[], int] = getattr(importlib.import_module(module), attribute)
    except _StoppedWhileStarting:
        print(f"{name}: stopped while starting (SIGINT while loading; nothing had run)", file=sys.stderr, flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, previous)
    return main()


def bag_player() -> int:
    return run("bag_player", "hoi_perception.nodes.bag_player")


def zed_capture() -> int:
    return run("zed_capture", "hoi_perception.nodes.zed_capture")


def video_camera() -> int:
    return run("video_camera", "hoi_perception.nodes.video_camera")


def sync_monitor() -> int:
    return run("sync_monitor", "hoi_perception.nodes.sync_monitor")


def sparse4d_node() -> int:
    return run("sparse4d_node", "hoi_perception.nodes.sparse4d_node")


def track_fusion() -> int:
    return run("track_fusion", "hoi_perception.nodes.track_fusion_node")


def track_evaluator() -> int:
    return run("track_evaluator", "hoi_perception.nodes.track_evaluator")


def body_pose() -> int:
    return run("body_pose", "hoi_perception.nodes.body_pose")


def objects_hands() -> int:
    return run("objects_hands", "hoi_perception.nodes.objects_hands")


def bag_recorder() -> int:
    return run("bag_recorder", "hoi_perception.nodes.bag_recorder")


def episode_recorder() -> int:
    return run("episode_recorder", "hoi_perception.nodes.episode_recorder")


def contacts() -> int:
    return run("contacts", "hoi_perception.nodes.contacts_node")


def interactvlm() -> int:
    return run("interactvlm", "hoi_perception.nodes.interactvlm_node")


def coconet() -> int:
    return run("coconet", "hoi_perception.nodes.coconet_node")
