"""The shared main() of the stack's nodes: build the node (a parameter error
is one clear line and exit code 2), spin until Ctrl-C or shutdown, then print
the node's report and tear down cleanly."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rclpy
from rclpy.exceptions import NameValidationException
from rclpy.executors import ExternalShutdownException

EXIT_OK = 0
EXIT_START_FAILED = 1
EXIT_BAD_PARAMETERS = 2


def run_node(factory: Callable[[], Any], name: str, report: Callable[[Any], str] | None = None,
             argv: list[str] | None = None, spin: Callable[[Any], None] | None = None,
             json_report: Callable[[Any], dict[str, Any]] | None = None) -> int:
    """rclpy.init, ``factory()``, spin, then ``node.close()`` (if it has one),
    write ``json_report(node)`` to the node's ``report_path`` (when it has one
    set: tests and tools read that, not the printed text) and print
    ``report(node)``. ``spin``: the node's own loop (a file or camera source
    paced by its frames) instead of ``rclpy.spin(node)``. Returns the process
    exit code."""
    rclpy.init(args=argv)
    try:
        node = factory()
    except (ValueError, FileNotFoundError, NameValidationException) as exc:
        # bad values, missing files, non-ONNX models, bad topic names: one line, exit 2
        rclpy.logging.get_logger(name).error(" ".join(str(exc).split()))
        rclpy.try_shutdown()
        return EXIT_BAD_PARAMETERS
    except Exception as exc:  # engine creation and the like: say why, exit cleanly
        rclpy.logging.get_logger(name).error(f"cannot start: {exc!r}")
        rclpy.try_shutdown()
        return EXIT_START_FAILED
    try:
        if spin is None:
            rclpy.spin(node)
        else:
            spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        try:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            if json_report is not None and getattr(node, "report_path", ""):
                write_json_report(Path(node.report_path), json_report(node))
            if report is not None:
                print(report(node), flush=True)
        finally:
            node.destroy_node()
            rclpy.try_shutdown()
    return EXIT_OK


def write_json_report(path: Path, report: dict[str, Any]) -> None:
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str))
