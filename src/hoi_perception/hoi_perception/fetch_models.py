"""``hoi-fetch-models``: fetch every model family the stack runs on the CPU.

Each family is a module ``hoi_perception.<family package>.fetch_models`` with
``fetch(dest, force)`` (hash-checked, idempotent) and optionally ``FAMILY``,
the folder name its loader looks for under the models folder (default: the
package name). Families whose module does not exist in this checkout are
skipped and named. Files go to ``paths.writable_dir('models')/<family>`` (the
venv's ``share/hoi_perception/models`` under ``make setup``, where
``paths.models_dir`` finds them), or to ``--dest/<family>``.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

from hoi_perception import paths

# Packages that may hold a fetch_models module, in fetch order.
FAMILY_PACKAGES = ("bodypose", "hands", "objects")


def family_modules() -> list[tuple[str, ModuleType]]:
    """(package, module) for every family package whose fetch_models module exists."""
    out = []
    for pkg in FAMILY_PACKAGES:
        name = f"hoi_perception.{pkg}.fetch_models"
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # only a missing family is skipped; a broken import inside one is an error
            if exc.name not in (name, f"hoi_perception.{pkg}"):
                raise
            continue
        out.append((pkg, mod))
    return out


def fetch_all(dest: Path | None = None, force: bool = False, only: list[str] | None = None) -> dict[str, Path]:
    """Run every family's ``fetch``; return {family folder name: folder written}."""
    root = Path(dest) if dest is not None else paths.writable_dir("models")
    done: dict[str, Path] = {}
    for pkg, mod in family_modules():
        family = getattr(mod, "FAMILY", pkg)
        if only and family not in only and pkg not in only:
            continue
        folder = root / family
        mod.fetch(folder, force)
        done[family] = folder
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hoi-fetch-models", description=__doc__.splitlines()[0].strip("`: "))
    ap.add_argument("--dest", type=Path, default=None,
                    help=f"models folder to fill, one sub-folder per family (default: {paths.writable_dir('models')})")
    ap.add_argument("--force", action="store_true", help="download again even if the files verify")
    ap.add_argument("--only", nargs="*", default=None, help="families to fetch (default: all)")
    args = ap.parse_args(argv)
    found = [pkg for pkg, _ in family_modules()]
    missing = [pkg for pkg in FAMILY_PACKAGES if pkg not in found]
    if missing:
        print(f"hoi-fetch-models: no fetch_models module in {', '.join(missing)} (skipped)")
    try:
        done = fetch_all(args.dest, args.force, args.only)
    except (RuntimeError, OSError, subprocess.CalledProcessError, KeyError, zipfile.BadZipFile) as exc:
        print(f"hoi-fetch-models: {exc}", file=sys.stderr)
        return 1
    for family, folder in done.items():
        print(f"[hoi-fetch-models] {family}: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
