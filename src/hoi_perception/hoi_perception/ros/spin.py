"""Spinning that always ends when the context is shut down.

``rclpy.spin`` / ``Executor.spin`` wait without a timeout. After SIGINT,
rclpy's signal handling wakes executors through their SIGINT guard condition
and shuts the contexts down; when the wake-up comes first (a context switch
between the two under load), the executor finds the context still valid,
waits again, and no event ever comes: the node hangs on a shut-down context
until it is killed (seen: body_pose in about 1 of 10 replays on a loaded
2-core machine, its main thread in ``wait_set.wait``). Waiting with a timeout
bounds that to one period."""

from __future__ import annotations

from rclpy.executors import Executor, ShutdownException

# Longest a stop can go unnoticed; a wake-up this often costs nothing measurable.
SHUTDOWN_POLL_S = 0.25


def _executor_shut_down(executor: Executor) -> bool:
    # rclpy keeps this flag private; Executor.spin() tests it the same way before each spin_once
    return bool(getattr(executor, "_is_shutdown", False))


def spin_until_shutdown(executor: Executor, poll_s: float = SHUTDOWN_POLL_S) -> None:
    """Spin ``executor`` until its context is shut down or the executor is. Raises what
    ``spin_once`` raises (ExternalShutdownException when the context goes down mid-wait, a
    callback's exception), except while ``Executor.shutdown()`` from another thread tears the
    executor down under a ``spin_once`` in progress (its guard conditions destroyed): that is
    the stop, not a fault."""
    try:
        while executor.context.ok() and not _executor_shut_down(executor):
            executor.spin_once(timeout_sec=poll_s)
    except ShutdownException:
        pass
    except Exception:
        if _executor_shut_down(executor):
            return
        raise
