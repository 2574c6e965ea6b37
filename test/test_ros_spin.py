"""ros/spin.spin_until_shutdown: ends when the context is shut down (also when the shutdown's
wake-up is missed) and when another thread shuts the executor down, without an exception."""

from __future__ import annotations

import threading
import time

import rclpy
from hoi_perception.ros.spin import spin_until_shutdown
from rclpy.executors import SingleThreadedExecutor


def _spin_in_thread(executor: SingleThreadedExecutor) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            spin_until_shutdown(executor, poll_s=0.05)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t, errors


def test_ends_when_another_thread_shuts_the_executor_down() -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("spin_probe", context=context)
        node.create_timer(0.01, lambda: None)
        for _ in range(20):  # shut down at different moments of a spin_once
            executor = SingleThreadedExecutor(context=context)
            executor.add_node(node)
            t, errors = _spin_in_thread(executor)
            time.sleep(0.013)
            executor.shutdown(timeout_sec=1.0)
            t.join(timeout=2.0)
            assert not t.is_alive() and not errors, errors
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_ends_when_the_context_is_shut_down() -> None:
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("spin_probe_ctx", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    t, errors = _spin_in_thread(executor)
    time.sleep(0.1)
    rclpy.try_shutdown(context=context)
    t.join(timeout=2.0)
    assert not t.is_alive()
    assert all(type(e).__name__ == "ExternalShutdownException" for e in errors), errors
