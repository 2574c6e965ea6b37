"""Where the stack finds its models, data, engine cache and package share folders.

Every lookup follows one order, so a node behaves the same from a colcon
install, from the pip venv of ``make setup`` and from a source checkout:

1. an explicit path (a node parameter or a command-line option);
2. an environment variable (``HOI_MODELS_DIR``, ``HOI_DATA_DIR``,
   ``HOI_ENGINE_CACHE``; ``HOI_BLAZEPOSE_DIR`` for the BlazePose folder alone);
3. the ament index: ``<prefix>/share/hoi_perception/<kind>`` of every prefix on
   ``AMENT_PREFIX_PATH`` (a colcon install, ``/opt/ros/<distro>``) and of the
   running Python's prefix (the venv, into which ``make setup`` installs);
4. a per-user cache folder (``$XDG_CACHE_HOME/hoi_perception/<kind>``, by
   default ``~/.cache/hoi_perception/<kind>``).

Nothing here knows the layout of the source tree: code never walks up from
``__file__``. A miss raises :class:`ResourceNotFound`, whose message lists every
folder searched and how to point the stack elsewhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "hoi_perception"

# kind -> environment variable that overrides the whole folder
ENV_VARS: dict[str, str] = {
    "models": "HOI_MODELS_DIR",
    "data": "HOI_DATA_DIR",
    "engines": "HOI_ENGINE_CACHE",
}


class ResourceNotFound(FileNotFoundError):
    """A model, data file or share folder is in none of the searched places."""


@dataclass(frozen=True)
class Candidate:
    """One place searched, and why it was searched (for error messages)."""

    path: Path
    origin: str


def ament_prefixes() -> list[Path]:
    """Install prefixes to search: AMENT_PREFIX_PATH, then this Python's prefix.

    The venv is an ament prefix too (``make setup`` builds hoi_msgs and
    hoi_bringup into it), so lookups work there without activating it.
    """
    out: list[Path] = []
    for entry in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if entry:
            out.append(Path(entry))
    out.append(Path(sys.prefix))
    seen: set[Path] = set()
    unique = []
    for p in out:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return unique


def share_dir(package: str) -> Path:
    """The installed share folder of a ROS package (``<prefix>/share/<package>``).

    Uses ament_index_python where it is installed (the resource marker decides),
    then falls back to any searched prefix that holds ``share/<package>/package.xml``.
    """
    tried: list[Candidate] = []
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            return Path(get_package_share_directory(package))
        except (PackageNotFoundError, LookupError, ValueError, OSError):
            # OSError: AMENT_PREFIX_PATH unset (an unactivated venv)
            tried.append(Candidate(Path("<ament index>"), f"no resource marker for '{package}' on AMENT_PREFIX_PATH"))
    except ImportError:  # pragma: no cover - ament_index_python ships with the ROS wheels
        pass
    for prefix in ament_prefixes():
        cand = prefix / "share" / package
        tried.append(Candidate(cand, "install prefix"))
        if (cand / "package.xml").is_file():
            return cand
    raise ResourceNotFound(_explain(f"share folder of package '{package}'", tried,
                                    "source the workspace's install/setup.bash or set AMENT_PREFIX_PATH"))


def user_cache_dir(kind: str) -> Path:
    """``$XDG_CACHE_HOME/hoi_perception/<kind>`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / PACKAGE / kind


def candidates(kind: str, explicit: str | os.PathLike[str] | None = None) -> list[Candidate]:
    """Every folder searched for ``kind`` ('models', 'data', 'engines'), in order."""
    out: list[Candidate] = []
    if explicit:
        out.append(Candidate(Path(explicit).expanduser(), "parameter"))
    env = ENV_VARS.get(kind)
    if env and os.environ.get(env):
        out.append(Candidate(Path(os.environ[env]).expanduser(), f"${env}"))
    for prefix in ament_prefixes():
        out.append(Candidate(prefix / "share" / PACKAGE / kind, "install prefix"))
    out.append(Candidate(user_cache_dir(kind), "user cache"))
    return out


def find(kind: str, relative: str | os.PathLike[str] = "", *, explicit: str | os.PathLike[str] | None = None,
         env: str | None = None) -> Path:
    """The first existing ``<folder>/<relative>`` over :func:`candidates`.

    ``explicit`` is the caller's parameter (a folder holding ``relative``);
    ``env`` names an extra environment variable checked right after it (e.g.
    ``HOI_BLAZEPOSE_DIR`` for one model's folder).
    """
    tried: list[Candidate] = []
    rel = Path(relative)
    if explicit:
        p = Path(explicit).expanduser()
        tried.append(Candidate(p, "parameter"))
        # An explicit folder is final: a wrong parameter must not be papered
        # over by a default found elsewhere.
        if (p / rel).exists():
            return p / rel
        raise ResourceNotFound(_explain(f"{kind} '{rel}'", tried, "fix the parameter"))
    if env and os.environ.get(env):
        p = Path(os.environ[env]).expanduser()
        tried.append(Candidate(p, f"${env}"))
        if (p / rel).exists():
            return p / rel
        raise ResourceNotFound(_explain(f"{kind} '{rel}'", tried, f"fix ${env}"))
    for cand in candidates(kind):
        tried.append(cand)
        if (cand.path / rel).exists():
            return cand.path / rel
    raise ResourceNotFound(_explain(f"{kind} '{rel}'", tried, _hint(kind)))


def models_dir(subdir: str = "", *, explicit: str | os.PathLike[str] | None = None, env: str | None = None) -> Path:
    """The folder of one model family (``blazepose``, ``hands``, ``objects``...)."""
    return find("models", subdir, explicit=explicit, env=env)


def model_folder(subdir: str, explicit: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding one model family's files: ``explicit`` as given (a
    node's ``*_model_dir`` parameter names the folder with the files, final),
    else :func:`models_dir` ``(subdir)``."""
    if explicit:
        p = Path(explicit).expanduser()
        if not p.is_dir():
            raise ResourceNotFound(_explain(f"models '{subdir}'", [Candidate(p, "parameter")], "fix the parameter"))
        return p
    return models_dir(subdir)


def writable_dir(kind: str, explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where to write ``kind`` (fetched models, generated data, built engines).

    An explicit folder or the environment variable wins; otherwise the venv's
    share folder when running inside a writable venv (what ``make setup``
    uses), else the user cache.
    """
    if explicit:
        return Path(explicit).expanduser()
    env = ENV_VARS.get(kind)
    if env and os.environ.get(env):
        return Path(os.environ[env]).expanduser()
    if sys.prefix != sys.base_prefix:  # a venv
        venv_share = Path(sys.prefix) / "share" / PACKAGE / kind
        if os.access(Path(sys.prefix), os.W_OK):
            return venv_share
    return user_cache_dir(kind)


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Folder for generated data (the sample bag): parameter, $HOI_DATA_DIR, user cache."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_VARS["data"]):
        return Path(os.environ[ENV_VARS["data"]]).expanduser()
    return user_cache_dir("data")


def engine_cache_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Folder of built TensorRT engines: parameter, $HOI_ENGINE_CACHE, user cache."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(ENV_VARS["engines"]):
        return Path(os.environ[ENV_VARS["engines"]]).expanduser()
    return user_cache_dir("engines")


def _hint(kind: str) -> str:
    env = ENV_VARS.get(kind, "")
    if kind == "models":
        return (f"run `hoi-fetch-models` (or `make setup`), or point the node's model parameter or ${env} "
                "at a folder that holds them")
    return f"set ${env} or pass the path explicitly"


def _explain(what: str, tried: Iterable[Candidate], hint: str) -> str:
    lines = [f"{what} not found; searched:"]
    lines += [f"  {c.path} ({c.origin})" for c in tried]
    lines.append(f"To fix: {hint}.")
    return "\n".join(lines)
