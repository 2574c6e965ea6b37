"""The shared main() of the stack's nodes: build the node (a parameter error
is one clear line and exit code 2), spin until Ctrl-C or shutdown, then print
the node's report and tear down cleanly.

SIGINT is a stop request, not a KeyboardInterrupt (ros/stop_signal.py). A
callback that is running when the node is told to stop finishes against a
closed context: its next publish raises RCLError ("publisher's context is
invalid") out of spin. That is the stop the user asked for, not a fault, so it
is logged with what was lost and the exit code stays 0; an exception while the
context is still valid is a real fault and still ends the process with a
traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import rclpy
from rclpy.exceptions import NameValidationException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

from hoi_perception.ros.spin import spin_until_shutdown
from hoi_perception.ros.stop_signal import SigintStopsRclpy

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
    return run_with_rclpy(name, argv, lambda _sigint: _run(factory, name, report, spin, json_report))


def run_with_rclpy(name: str, argv: Sequence[str] | None, body: Callable[[SigintStopsRclpy], int]) -> int:
    """SIGINT as a stop request (ros/stop_signal.py) around ``rclpy.init(argv)`` and ``body(sigint)``;
    malformed ``--ros-args`` are one line and exit 2. Returns ``body``'s exit code."""
    with SigintStopsRclpy() as sigint:
        try:
            rclpy.init(args=argv)
        except Exception as exc:  # noqa: BLE001 - malformed --ros-args
            print(f"{name}: bad arguments: {' '.join(str(exc).split())}", file=sys.stderr)
            return EXIT_BAD_PARAMETERS
        sigint.arm()
        return body(sigint)


def _run(factory: Callable[[], Any], name: str, report: Callable[[Any], str] | None,
         spin: Callable[[Any], None] | None, json_report: Callable[[Any], dict[str, Any]] | None) -> int:
    logger = rclpy.logging.get_logger(name)
    try:
        node = factory()
    except (ValueError, FileNotFoundError, NameValidationException) as exc:
        # bad values, missing files, non-ONNX models, bad topic names: one line, exit 2
        logger.error(" ".join(str(exc).split()))
        rclpy.try_shutdown()
        return EXIT_BAD_PARAMETERS
    except Exception as exc:  # engine creation and the like: say why, exit cleanly
        if not rclpy.ok():  # stopped while starting: creating an entity on the closed context failed
            logger.info(f"stopped while starting ({type(exc).__name__})")
            rclpy.try_shutdown()
            return EXIT_OK
        logger.error(f"cannot start: {exc!r}")
        rclpy.try_shutdown()
        return EXIT_START_FAILED
    interrupted = ""
    try:
        if spin is None:
            executor = SingleThreadedExecutor(context=node.context)
            executor.add_node(node)
            spin_until_shutdown(executor)  # not rclpy.spin: it can miss a SIGINT (ros/spin.py)
        else:
            spin(node)
    except ExternalShutdownException:
        pass
    except Exception as exc:
        if node.context.ok():
            raise
        why = " ".join(str(exc).split())
        interrupted = f"stopped while a callback was running; its output was not published ({type(exc).__name__}: {why})"
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
            if interrupted:  # after destroy_node: the node's /rosout publisher is gone with the context
                logger.info(interrupted)
    return EXIT_OK


def write_json_report(path: Path, report: dict[str, Any]) -> None:
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str))
