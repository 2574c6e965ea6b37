"""Run a ROS 2 YAML launch file without the launch package.

`ros2 launch` (launch, launch_ros) is not on PyPI, so the venv workflow needs
a runner of its own. The stack's graphs are written as ordinary ROS 2 YAML
launch files (src/hoi_bringup/launch/*.launch.yaml): on a full ROS 2 install
`ros2 launch hoi_bringup <file>` runs them; here `hoi-launch <file>` runs the
same files. It supports the subset the stack uses:

* ``arg`` (name, default) with ``$(var name)`` substitution, overridable as
  ``name:=value`` on the command line;
* ``node`` (pkg, exec, name, namespace, param: [{name, value} | {from: file}],
  remap: [{from, to}], args, on_exit: shutdown, if/unless);
* ``$(find-pkg-share pkg)`` resolved against the source tree and the venv's
  share directory; ``$(env NAME default)``.

Each node runs as its own process (its console script, ROS arguments as
`--ros-args -r __node:=... -p name:=value`), its output prefixed with its
name. Ctrl-C, or the exit of a node marked ``on_exit: shutdown``, stops all.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[4]
_SUBST = re.compile(r"\$\((var|find-pkg-share|env)\s+([^)\s]+)(?:\s+([^)]*))?\)")


class LaunchError(RuntimeError):
    """A launch file that cannot be run, with the reason."""


@dataclass
class NodeSpec:
    pkg: str
    executable: str
    name: str
    namespace: str = ""
    params: list[tuple[str, Any]] = field(default_factory=list)
    param_files: list[str] = field(default_factory=list)
    remaps: list[tuple[str, str]] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    shutdown_on_exit: bool = False

    def command(self) -> list[str]:
        exe = shutil.which(self.executable, path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
        if exe is None:
            raise LaunchError(f"node {self.name!r}: executable {self.executable!r} of package {self.pkg!r} not found")
        cmd = [exe, *self.args, "--ros-args", "-r", f"__node:={self.name}"]
        if self.namespace:
            cmd += ["-r", f"__ns:={self.namespace if self.namespace.startswith('/') else '/' + self.namespace}"]
        for f in self.param_files:
            cmd += ["--params-file", f]
        for k, v in self.params:
            cmd += ["-p", f"{k}:={_param_literal(v)}"]
        for a, b in self.remaps:
            cmd += ["-r", f"{a}:={b}"]
        return cmd


def _param_literal(v: Any) -> str:
    if isinstance(v, str) and v.strip() == "":
        return "''"  # rcl parses override values as YAML; an empty value is a syntax error
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_param_literal(x) if not isinstance(x, str) else f"'{x}'" for x in v) + "]"
    return str(v)


def find_pkg_share(pkg: str) -> Path:
    """Share directory of a package: the source tree first, then the venv prefix."""
    src = REPO_ROOT / "src" / pkg
    if src.is_dir():
        return src
    share = Path(sys.prefix) / "share" / pkg
    if share.is_dir():
        return share
    raise LaunchError(f"package {pkg!r} not found in {REPO_ROOT / 'src'} nor {Path(sys.prefix) / 'share'}")


def substitute(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def repl(m: re.Match[str]) -> str:
        kind, name, rest = m.group(1), m.group(2), m.group(3)
        if kind == "var":
            if name not in variables:
                raise LaunchError(f"launch argument {name!r} is not declared")
            return variables[name]
        if kind == "env":
            return os.environ.get(name, rest or "")
        return str(find_pkg_share(name))

    out = _SUBST.sub(repl, value)
    # a whole-value substitution of a YAML scalar keeps its type ("3.0" -> 3.0)
    if out != value and _SUBST.fullmatch(value.strip()):
        try:
            parsed = yaml.safe_load(out)
            if isinstance(parsed, (bool, int, float)):
                return parsed
        except yaml.YAMLError:
            pass
    return out


def _truthy(v: Any) -> bool:
    return str(v).strip().lower() in ("true", "1", "yes")


def parse_launch_file(path: Path, overrides: dict[str, str]) -> list[NodeSpec]:
    doc = yaml.safe_load(Path(path).read_text())
    if not isinstance(doc, dict) or "launch" not in doc:
        raise LaunchError(f"{path}: not a ROS 2 YAML launch file (no top-level 'launch' list)")
    variables: dict[str, str] = {}
    nodes: list[NodeSpec] = []
    for entry in doc["launch"]:
        (kind, body), = entry.items()
        if kind == "arg":
            name = body["name"]
            if name in overrides:
                variables[name] = overrides[name]
            elif "default" in body:
                variables[name] = str(substitute(body["default"], variables))
            else:
                raise LaunchError(f"{path}: launch argument {name!r} has no default; pass {name}:=<value>")
            choices = [str(c) for c in body.get("choices", [])]
            if choices and variables[name] not in choices:  # as launch's DeclareLaunchArgument
                raise LaunchError(f"{path}: launch argument {name}:={variables[name]} is not one of "
                                  f"{', '.join(choices)}")
        elif kind == "node":
            if "if" in body and not _truthy(substitute(body["if"], variables)):
                continue
            if "unless" in body and _truthy(substitute(body["unless"], variables)):
                continue
            spec = NodeSpec(
                pkg=body["pkg"], executable=body["exec"], name=substitute(body.get("name", body["exec"]), variables),
                namespace=substitute(body.get("namespace", ""), variables),
                args=str(substitute(body.get("args", ""), variables)).split(),
                shutdown_on_exit=body.get("on_exit") == "shutdown",
            )
            for p in body.get("param", []):
                if "from" in p:
                    spec.param_files.append(str(substitute(p["from"], variables)))
                else:
                    spec.params.append((p["name"], substitute(p["value"], variables)))
            for r in body.get("remap", []):
                spec.remaps.append((substitute(r["from"], variables), substitute(r["to"], variables)))
            nodes.append(spec)
        else:
            raise LaunchError(f"{path}: launch entry {kind!r} is not supported by hoi-launch (supported: arg, node)")
    unknown = set(overrides) - set(variables)
    if unknown:
        raise LaunchError(f"{path}: unknown launch arguments: {', '.join(sorted(unknown))}")
    return nodes


def _pump(name: str, stream: Any, sink: Any) -> None:
    for line in iter(stream.readline, ""):
        sink.write(f"[{name}] {line}")
        sink.flush()


def run(nodes: list[NodeSpec], timeout_s: float | None = None, sink: Any = sys.stdout) -> int:
    """Start every node, wait until a shutdown-on-exit node ends (or all end,
    or the timeout, or SIGINT), stop the rest. Returns the worst exit code of
    the shutdown-triggering nodes (0 if none failed)."""
    procs: list[tuple[NodeSpec, subprocess.Popen[str]]] = []
    threads = []
    stop = threading.Event()
    old = signal.signal(signal.SIGINT, lambda *_: stop.set())
    rc = 0
    try:
        for spec in nodes:
            p = subprocess.Popen(spec.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 start_new_session=True)
            procs.append((spec, p))
            t = threading.Thread(target=_pump, args=(spec.name, p.stdout, sink), daemon=True)
            t.start()
            threads.append(t)
        end = None if timeout_s is None else time.monotonic() + timeout_s
        while not stop.is_set():
            if all(p.poll() is not None for _, p in procs):
                break
            finished = [(s, p) for s, p in procs if p.poll() is not None and s.shutdown_on_exit]
            if finished:
                rc = max(abs(p.returncode) for _, p in finished)
                break
            if end is not None and time.monotonic() > end:
                sink.write(f"[hoi-launch] timeout after {timeout_s:.0f} s, stopping\n")
                rc = 124
                break
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGINT, old)
        for _, p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGINT)
        deadline = time.monotonic() + 10
        for _, p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for t in threads:
            t.join(timeout=2)
    return rc


def resolve_launch_file(arg1: str, arg2: str | None) -> Path:
    if arg2 is not None:  # "<package> <file>" as ros2 launch takes it
        return find_pkg_share(arg1) / "launch" / arg2
    return Path(arg1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hoi-launch", description=__doc__.split("\n\n")[0])
    parser.add_argument("package_or_file")
    parser.add_argument("rest", nargs="*", help="[launch file] [name:=value ...]")
    parser.add_argument("--timeout", type=float, default=None, help="stop everything after this many seconds")
    ns = parser.parse_args(argv)
    rest = list(ns.rest)
    file_arg = rest.pop(0) if rest and ":=" not in rest[0] else None
    overrides = dict(a.split(":=", 1) for a in rest)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    try:
        nodes = parse_launch_file(resolve_launch_file(ns.package_or_file, file_arg), overrides)
        return run(nodes, timeout_s=ns.timeout)
    except LaunchError as e:
        print(f"hoi-launch: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
