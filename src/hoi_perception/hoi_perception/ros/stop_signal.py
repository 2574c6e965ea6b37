"""Ctrl-C / a launcher's SIGINT as a stop request, not a KeyboardInterrupt.

rclpy's own SIGINT handler shuts the context down and wakes the executor, and
then chains to Python's handler, which raises KeyboardInterrupt at whatever
bytecode the main thread runs next. When a callback is in flight that is often
not inside spin: its publish fails on the closed context first, and the
KeyboardInterrupt lands later, in the exception handler or in the node's
teardown (closing a bag, writing a report), which it cuts short and which then
ends the process with a traceback and a non-zero code. With this handler
installed before ``rclpy.init``, the first SIGINT only stops rclpy (spin ends
with ExternalShutdownException, an in-flight publish with RCLError on an
invalid context) and teardown runs to the end; a second SIGINT raises
KeyboardInterrupt, for a user who wants a hung stop cut short. Before
``arm()`` (while rclpy is not running yet) SIGINT behaves as Python's default."""

from __future__ import annotations

import faulthandler
import signal
import sys
import threading
import time
from types import FrameType, TracebackType
from typing import Any

# Duplicates of one stop request arrive within milliseconds; a person pressing
# Ctrl-C again because the stop hangs does so seconds later.
ESCALATE_AFTER_S = 1.5


class SigintStopsRclpy:
    """Context manager around a node's main: install before ``rclpy.init``,
    ``arm()`` once rclpy runs; the previous handler comes back on exit."""

    def __init__(self, escalate_after_s: float = ESCALATE_AFTER_S) -> None:
        self.armed = False
        self.requests = 0
        self.escalate_after_s = escalate_after_s
        self._first_request: float | None = None
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> SigintStopsRclpy:
        # signal.signal works only in the main thread (tests call mains from threads too)
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
            # `kill -USR1 <pid>` prints every thread's stack to stderr (from C, so also while the
            # main thread is blocked): where a node that does not stop hangs.
            try:
                faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
            except (ValueError, OSError, AttributeError):  # stderr without a file descriptor (tests)
                pass
        return self

    def arm(self) -> None:
        self.armed = True

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.requests += 1
        if not self.armed:
            raise KeyboardInterrupt
        now = time.monotonic()
        if self._first_request is None:
            self._first_request = now
        elif now - self._first_request >= self.escalate_after_s:
            raise KeyboardInterrupt

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._installed:
            if self.requests:
                # Stopping: teardown is over and the process exits next. A duplicate of the request
                # (a terminal's Ctrl-C reaches the process group and ros2 launch forwards one more)
                # can still come; Python resets its own handlers to SIG_DFL while finalizing, and a
                # SIGINT then kills a process that stopped cleanly (-2). Ignored handlers are left
                # as they are, so from here SIGINT is ignored.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            else:
                signal.signal(signal.SIGINT, self._previous)
            self._installed = False


__all__ = ["SigintStopsRclpy"]
