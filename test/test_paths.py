"""hoi_perception.paths: one lookup order for models, data, engines and share folders."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hoi_perception import paths


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No override variables, an empty ament path and a user cache under tmp_path."""
    for var in (*paths.ENV_VARS.values(), "HOI_BLAZEPOSE_DIR", "AMENT_PREFIX_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def _prefix_with(tmp_path: Path, name: str, kind: str, family: str) -> Path:
    """An install prefix holding share/hoi_perception/<kind>/<family>/ (as a colcon install would)."""
    prefix = tmp_path / name
    (prefix / "share" / paths.PACKAGE / kind / family).mkdir(parents=True)
    return prefix


def test_env_variable_overrides_the_install_prefixes(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = _prefix_with(clean_env, "install", "models", "blazepose")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    assert paths.models_dir("blazepose") == prefix / "share" / "hoi_perception" / "models" / "blazepose"
    mine = clean_env / "mine"
    (mine / "blazepose").mkdir(parents=True)
    monkeypatch.setenv("HOI_MODELS_DIR", str(mine))
    assert paths.models_dir("blazepose") == mine / "blazepose"
    # a per-model variable wins over both
    solo = clean_env / "solo"
    solo.mkdir()
    monkeypatch.setenv("HOI_BLAZEPOSE_DIR", str(solo))
    assert paths.models_dir("", env="HOI_BLAZEPOSE_DIR") == solo


def test_explicit_parameter_is_final(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = _prefix_with(clean_env, "install", "models", "blazepose")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    given = clean_env / "given"
    (given / "blazepose").mkdir(parents=True)
    assert paths.models_dir("blazepose", explicit=given) == given / "blazepose"
    # a wrong parameter is an error naming it, not papered over by the install prefix that has the folder
    wrong = clean_env / "wrong"
    with pytest.raises(paths.ResourceNotFound) as err:
        paths.models_dir("blazepose", explicit=wrong)
    msg = str(err.value)
    assert str(wrong) in msg and "(parameter)" in msg and "fix the parameter" in msg
    assert str(prefix) not in msg


def test_ament_prefixes_in_order_then_the_venv(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _prefix_with(clean_env, "overlay", "models", "hands")
    second = _prefix_with(clean_env, "underlay", "models", "hands")
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{first}:{second}")
    assert paths.ament_prefixes()[:2] == [first, second]
    assert paths.ament_prefixes()[-1] == Path(sys.prefix)  # the venv is a prefix even when not on the path
    assert paths.models_dir("hands") == first / "share" / "hoi_perception" / "models" / "hands"
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{second}:{first}")
    assert paths.models_dir("hands") == second / "share" / "hoi_perception" / "models" / "hands"


def test_user_cache_is_the_last_resort(clean_env: Path) -> None:
    # a family no install prefix holds (the venv's share has the real model families)
    cache = clean_env / "cache" / "hoi_perception" / "models" / "only_in_cache"
    cache.mkdir(parents=True)
    assert paths.models_dir("only_in_cache") == cache
    assert paths.candidates("models")[-1].origin == "user cache"
    assert paths.engine_cache_dir() == clean_env / "cache" / "hoi_perception" / "engines"
    assert paths.data_dir() == clean_env / "cache" / "hoi_perception" / "data"


def test_not_found_names_every_folder_searched_and_the_fix(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = clean_env / "install"
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    with pytest.raises(paths.ResourceNotFound) as err:
        paths.models_dir("no_such_family")
    msg = str(err.value)
    for folder in (prefix / "share" / "hoi_perception" / "models", Path(sys.prefix) / "share" / "hoi_perception" / "models",
                   clean_env / "cache" / "hoi_perception" / "models"):
        assert str(folder) in msg
    assert "'no_such_family'" in msg and "hoi-fetch-models" in msg and "HOI_MODELS_DIR" in msg
    assert isinstance(err.value, FileNotFoundError)  # callers that catch FileNotFoundError keep working


def test_data_and_engine_overrides(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOI_DATA_DIR", str(clean_env / "d"))
    monkeypatch.setenv("HOI_ENGINE_CACHE", str(clean_env / "e"))
    assert paths.data_dir() == clean_env / "d"
    assert paths.engine_cache_dir() == clean_env / "e"
    assert paths.data_dir(clean_env / "x") == clean_env / "x"  # explicit first


def test_writable_dir(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert paths.writable_dir("models", explicit=clean_env / "p") == clean_env / "p"
    monkeypatch.setenv("HOI_MODELS_DIR", str(clean_env / "env"))
    assert paths.writable_dir("models") == clean_env / "env"
    monkeypatch.delenv("HOI_MODELS_DIR")
    expected = (Path(sys.prefix) / "share" / "hoi_perception" / "models"
                if sys.prefix != sys.base_prefix else clean_env / "cache" / "hoi_perception" / "models")
    assert paths.writable_dir("models") == expected


def test_share_dir_from_an_install_prefix(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a colcon-style install: resource marker + share/<pkg>/package.xml
    prefix = clean_env / "install" / "demo_pkg"
    (prefix / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    (prefix / "share" / "ament_index" / "resource_index" / "packages" / "demo_pkg").write_text("")
    (prefix / "share" / "demo_pkg").mkdir(parents=True)
    (prefix / "share" / "demo_pkg" / "package.xml").write_text("<package/>")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    assert paths.share_dir("demo_pkg") == prefix / "share" / "demo_pkg"
    with pytest.raises(paths.ResourceNotFound) as err:
        paths.share_dir("no_such_pkg_xyz")
    assert str(prefix / "share" / "no_such_pkg_xyz") in str(err.value)
    assert "install/setup.bash" in str(err.value)


def test_the_stack_resolves_its_own_packages() -> None:
    """make setup registers the three packages in the venv (an ament prefix like a colcon install)."""
    for pkg in ("hoi_msgs", "hoi_perception", "hoi_bringup"):
        share = paths.share_dir(pkg)
        assert (share / "package.xml").is_file(), share
    assert (paths.share_dir("hoi_bringup") / "launch" / "body_pose_video.launch.yaml").is_file()
    assert (paths.share_dir("hoi_msgs") / "msg").is_dir()
