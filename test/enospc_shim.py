"""Run a Python module as if the disk held only N more bytes under one directory.

    python test/enospc_shim.py --limit-bytes 60000 --under /tmp/x -- -m hoi_perception.nodes.bag_recorder ...

``os.write`` and ``os.pwrite`` on files below ``--under`` write until the
budget is spent (a short write, as a full filesystem gives) and then raise
``OSError(ENOSPC)``, which is what the recorder meets on a full disk. The
module then runs as ``__main__`` in this process. Needs no root, mount or
tmpfs, so it runs the same in CI.
"""

from __future__ import annotations

import argparse
import errno
import os
import runpy
import sys


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit-bytes", type=int, required=True)
    ap.add_argument("--under", required=True)
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    if rest[:1] != ["-m"] or len(rest) < 2:
        ap.error("expected -- -m MODULE [ARGS...]")
    under = os.path.realpath(args.under)
    budget = [args.limit_bytes]
    real_write, real_pwrite = os.write, os.pwrite

    def limited(fd: int) -> bool:
        try:
            return os.path.realpath(f"/proc/self/fd/{fd}").startswith(under + os.sep)
        except OSError:
            return False

    def take(n: int) -> int:
        granted = min(n, budget[0])
        budget[0] -= granted
        if not granted:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return granted

    def write(fd: int, data) -> int:  # type: ignore[no-untyped-def]
        if not limited(fd):
            return real_write(fd, data)
        return real_write(fd, bytes(memoryview(data)[:take(len(data))]))

    def pwrite(fd: int, data, offset: int) -> int:  # type: ignore[no-untyped-def]
        if not limited(fd):
            return real_pwrite(fd, data, offset)
        # Rewriting bytes already on disk (the recorder's tail) needs no new space.
        size = os.fstat(fd).st_size
        new = max(0, offset + len(data) - size)
        if new == 0:
            return real_pwrite(fd, data, offset)
        granted_new = min(new, budget[0])
        budget[0] -= granted_new
        allowed = len(data) - new + granted_new
        if allowed <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(fd, bytes(memoryview(data)[:allowed]), offset)

    real_ftruncate, real_unlink, real_replace = os.ftruncate, os.unlink, os.replace

    def size_of(path) -> int:  # type: ignore[no-untyped-def]
        try:
            return os.stat(path).st_size
        except OSError:
            return 0

    def under_dir(path) -> bool:  # type: ignore[no-untyped-def]
        return os.path.realpath(path).startswith(under + os.sep)

    # Space comes back when files shrink or go, as on a real filesystem.
    def ftruncate(fd: int, length: int) -> None:
        if limited(fd):
            budget[0] += max(0, os.fstat(fd).st_size - length)
        real_ftruncate(fd, length)

    def unlink(path, *a, **k) -> None:  # type: ignore[no-untyped-def]
        if under_dir(path):
            budget[0] += size_of(path)
        real_unlink(path, *a, **k)

    def replace(src, dst, *a, **k) -> None:  # type: ignore[no-untyped-def]
        if under_dir(dst):
            budget[0] += size_of(dst)
        real_replace(src, dst, *a, **k)

    os.write = write  # type: ignore[assignment]
    os.pwrite = pwrite  # type: ignore[assignment]
    os.ftruncate = ftruncate  # type: ignore[assignment]
    os.unlink = unlink  # type: ignore[assignment]
    os.replace = replace  # type: ignore[assignment]
    sys.argv = [rest[1], *rest[2:]]
    runpy.run_module(rest[1], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
