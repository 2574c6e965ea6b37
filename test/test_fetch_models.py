"""hoi-fetch-models: every model family's fetch into one models folder, found again through paths."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hoi_perception.bodypose import fetch_models as blazepose_fetch
from hoi_perception.bodypose.blazepose import default_model_dir

from hoi_perception import fetch_models, paths


def test_families_present_in_this_checkout() -> None:
    found = dict(fetch_models.family_modules())
    assert found["bodypose"] is blazepose_fetch
    assert blazepose_fetch.FAMILY == "blazepose"
    assert blazepose_fetch.default_dest() == paths.writable_dir("models") / "blazepose"


def test_fetch_into_dest_is_verified_and_found_by_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = default_model_dir()
    if not all((src / name).is_file() for name in blazepose_fetch.MEMBERS):
        pytest.skip(f"BlazePose models missing in {src}: run hoi-fetch-models")
    # files already present with the pinned hashes: verified, nothing downloaded
    (tmp_path / "blazepose").mkdir()
    for name in blazepose_fetch.MEMBERS:
        shutil.copy(src / name, tmp_path / "blazepose" / name)
    monkeypatch.setattr(blazepose_fetch.subprocess, "run", lambda *a, **k: pytest.fail("downloaded"))
    assert fetch_models.main(["--dest", str(tmp_path), "--only", "blazepose"]) == 0
    monkeypatch.setenv("HOI_MODELS_DIR", str(tmp_path))
    monkeypatch.delenv("HOI_BLAZEPOSE_DIR", raising=False)
    assert default_model_dir() == tmp_path / "blazepose"


def test_a_corrupt_model_is_an_error_not_a_silent_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "blazepose"
    dest.mkdir()
    for name in blazepose_fetch.MEMBERS:
        (dest / name).write_bytes(b"not a model")

    def fake_download(cmd: list[str], check: bool) -> None:  # the "wheel" holds the same bad bytes
        import zipfile

        out = Path(cmd[cmd.index("--dest") + 1]) / f"mediapipe-{blazepose_fetch.MEDIAPIPE_VERSION}-x.whl"
        with zipfile.ZipFile(out, "w") as zf:
            for member in blazepose_fetch.MEMBERS.values():
                zf.writestr(member, b"tampered")

    monkeypatch.setattr(blazepose_fetch.subprocess, "run", fake_download)
    assert fetch_models.main(["--dest", str(tmp_path)]) == 1
