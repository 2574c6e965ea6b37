"""Run a ROS 2 YAML launch file without the launch package.

`ros2 launch` (launch, launch_ros, launch_yaml) is not on PyPI, so the venv
workflow needs a runner of its own. The stack's graphs are ordinary ROS 2 YAML
launch files (hoi_bringup/launch/*.launch.yaml): on a ROS 2 install
`ros2 launch hoi_bringup <file>` runs them; in the venv `hoi-launch hoi_bringup
<file>` runs the same files. Whatever hoi-launch does it does as ros2 launch
does; whatever it does not do is an error naming the tag, attribute or
substitution, never silently dropped (launch_yaml also rejects unknown keys:
ros2/launch launch_yaml/launch_yaml/entity.py, assert_entity_completely_parsed).

Supported (semantics of ros2/launch and ros2/launch_ros):

* ``arg``: name, default, description, choice [{value}] (a value outside the
  choices is an error), overridable as ``name:=value``;
* ``let``: name, value; ``set_env``: name, value; ``unset_env``: name
  (for the actions after them);
* ``node``: pkg, exec, name, namespace, exec_name, args, ros_args,
  param [{name, value} | {from: file} | {name, param: [...]}],
  remap [{from, to}], env [{name, value}], cwd, launch-prefix,
  output (screen | both), on_exit: shutdown, respawn, respawn_delay,
  respawn_max_retries, sigterm_timeout, sigkill_timeout;
* ``if`` / ``unless`` on every action;
* substitutions ``$(var name)``, ``$(env NAME [default])`` (unset without a
  default is an error), ``$(optenv NAME [default])``,
  ``$(find-pkg-share pkg)``, ``$(find-pkg-prefix pkg)``.

Packages are found as ament finds them (hoi_perception.paths.share_dir: the
ament index on AMENT_PREFIX_PATH and the venv), then in ``src/<pkg>`` of the
current directory (a source checkout that has not run ``make setup``). Node
executables are looked up where ``ros2 run`` looks (``<prefix>/lib/<pkg>/``),
then next to this Python (the venv's ``bin/``), then on PATH.

Each node runs as its own process (ROS arguments as ``--ros-args -r
__node:=... -p name:=value``), its output prefixed with its name. Ctrl-C, or
the exit of a node marked ``on_exit: shutdown``, stops all: SIGINT, then
SIGTERM after sigterm_timeout, then SIGKILL after sigkill_timeout (5 s each,
launch's defaults).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
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

from hoi_perception import paths

_SUBST = re.compile(r"\$\(([A-Za-z][\w-]*)(?:\s+([^)]*))?\)")
SUPPORTED_SUBSTITUTIONS = ("var", "env", "optenv", "find-pkg-share", "find-pkg-prefix")

# keys hoi-launch implements, per entity
ARG_KEYS = {"name", "default", "description", "choice", "if", "unless"}
LET_KEYS = {"name", "value", "if", "unless"}
SET_ENV_KEYS = {"name", "value", "if", "unless"}
UNSET_ENV_KEYS = {"name", "if", "unless"}
NODE_KEYS = {"pkg", "exec", "name", "namespace", "exec_name", "args", "ros_args", "param", "remap", "env", "cwd",
             "launch-prefix", "output", "on_exit", "respawn", "respawn_delay", "respawn_max_retries",
             "sigterm_timeout", "sigkill_timeout", "if", "unless"}
# keys ros2 launch knows that hoi-launch does not implement (named as such in the error)
NODE_KEYS_NOT_IMPLEMENTED = {"emulate_tty", "shell", "node-name", "ros_args_file"}
OUTPUT_MODES = ("screen", "both")
DEFAULT_SIGTERM_TIMEOUT_S = 5.0
DEFAULT_SIGKILL_TIMEOUT_S = 5.0


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
    ros_args: list[str] = field(default_factory=list)
    shutdown_on_exit: bool = False
    env: dict[str, str | None] = field(default_factory=dict)  # None: unset
    cwd: str | None = None
    prefix: list[str] = field(default_factory=list)
    respawn: bool = False
    respawn_delay_s: float = 0.0
    respawn_max_retries: int = -1  # -1: no limit, as launch
    sigterm_timeout_s: float = DEFAULT_SIGTERM_TIMEOUT_S
    sigkill_timeout_s: float = DEFAULT_SIGKILL_TIMEOUT_S
    label: str = ""  # log prefix (exec_name), default the node name

    def __post_init__(self) -> None:
        if not self.label:
            self.label = self.name

    def resolve_executable(self) -> str:
        """Where ``ros2 run`` finds it (``<prefix>/lib/<pkg>/<exec>``), else the venv's bin/, else PATH."""
        if os.path.isabs(self.executable):
            if os.access(self.executable, os.X_OK):
                return self.executable
            raise LaunchError(f"node {self.name!r}: executable {self.executable!r} is not executable")
        tried: list[str] = []
        try:
            lib = paths.share_dir(self.pkg).parent.parent / "lib" / self.pkg
            tried.append(str(lib))
            if os.access(lib / self.executable, os.X_OK):
                return str(lib / self.executable)
        except paths.ResourceNotFound:
            tried.append(f"<no installed package {self.pkg!r}>")
        search = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
        exe = shutil.which(self.executable, path=search)
        if exe is None:
            raise LaunchError(f"node {self.name!r}: executable {self.executable!r} of package {self.pkg!r} not found "
                              f"in {', '.join(tried)} nor on {search}")
        return exe

    def command(self) -> list[str]:
        cmd = [*self.prefix, self.resolve_executable(), *self.args, "--ros-args", "-r", f"__node:={self.name}"]
        if self.namespace:
            cmd += ["-r", f"__ns:={self.namespace if self.namespace.startswith('/') else '/' + self.namespace}"]
        for f in self.param_files:
            cmd += ["--params-file", f]
        for k, v in self.params:
            cmd += ["-p", f"{k}:={_param_literal(v)}"]
        for a, b in self.remaps:
            cmd += ["-r", f"{a}:={b}"]
        cmd += self.ros_args
        return cmd

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        for k, v in self.env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env


def _param_literal(v: Any) -> str:
    if isinstance(v, str) and v.strip() == "":
        return "''"  # rcl parses override values as YAML; an empty value is a syntax error
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_param_literal(x) if not isinstance(x, str) else f"'{x}'" for x in v) + "]"
    return str(v)


def find_pkg_share(pkg: str) -> Path:
    """Share folder of a package: installed (ament index, the venv) first, then ``./src/<pkg>``."""
    try:
        return paths.share_dir(pkg)
    except paths.ResourceNotFound as exc:
        # A source checkout run from its root before `make setup` installed the package.
        src = Path.cwd() / "src" / pkg
        if (src / "package.xml").is_file():
            return src
        raise LaunchError(f"package {pkg!r} not found: {exc}\n  {src} (source checkout in the current directory)") from exc


def find_pkg_prefix(pkg: str) -> Path:
    """Install prefix of a package (``<prefix>/share/<pkg>`` -> ``<prefix>``)."""
    try:
        return paths.share_dir(pkg).parent.parent
    except paths.ResourceNotFound as exc:
        raise LaunchError(f"package {pkg!r} not found: {exc}") from exc


def substitute(value: Any, variables: dict[str, str], env: dict[str, str | None] | None = None) -> Any:
    """Resolve substitutions in a scalar or list; ``env`` is the launch's own environment changes."""
    if isinstance(value, list):
        return [substitute(v, variables, env) for v in value]
    if not isinstance(value, str):
        return value
    env = env or {}

    def repl(m: re.Match[str]) -> str:
        kind = m.group(1)
        try:
            words = shlex.split(m.group(2) or "")
        except ValueError as exc:
            raise LaunchError(f"substitution {m.group(0)!r}: {exc}") from exc
        if kind not in SUPPORTED_SUBSTITUTIONS:
            raise LaunchError(f"substitution $({kind} ...) is not supported by hoi-launch "
                              f"(supported: {', '.join(SUPPORTED_SUBSTITUTIONS)})")
        if not words:
            raise LaunchError(f"substitution {m.group(0)!r} needs a name")
        name, default = words[0], (words[1] if len(words) > 1 else None)
        if kind == "var":
            if name not in variables:
                raise LaunchError(f"launch argument {name!r} is not declared")
            return variables[name]
        if kind in ("env", "optenv"):
            v = env[name] if name in env else os.environ.get(name)
            if v is not None:
                return v
            if default is None and kind == "env":
                # launch's EnvironmentVariable raises SubstitutionFailure here
                raise LaunchError(f"$(env {name}): environment variable {name!r} is not set and has no default")
            return default or ""
        if kind == "find-pkg-share":
            return str(find_pkg_share(name))
        return str(find_pkg_prefix(name))

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
    # launch's condition parsing: true/false/1/0 only (launch.conditions.evaluate_condition_expression)
    s = str(v).strip().lower()
    if s in ("true", "1"):
        return True
    if s in ("false", "0"):
        return False
    raise LaunchError(f"condition value {v!r} is not one of true, false, 1, 0")


def _check_keys(path: Path, kind: str, body: dict[str, Any], allowed: set[str],
                not_implemented: frozenset[str] | set[str] = frozenset()) -> None:
    extra = set(body) - allowed
    if not extra:
        return
    ours = sorted(extra & not_implemented)
    unknown = sorted(extra - not_implemented)
    parts = []
    if ours:
        parts.append(f"{', '.join(ours)} (valid for ros2 launch, not implemented by hoi-launch)")
    if unknown:
        parts.append(f"{', '.join(unknown)} (not a ROS 2 launch attribute)")
    raise LaunchError(f"{path}: '{kind}' {body.get('name', body.get('exec', ''))!r} has unsupported "
                      f"attribute(s): {'; '.join(parts)}; supported: {', '.join(sorted(allowed))}")


def _skip(body: dict[str, Any], variables: dict[str, str], env: dict[str, str | None]) -> bool:
    if "if" in body and not _truthy(substitute(body["if"], variables, env)):
        return True
    return "unless" in body and _truthy(substitute(body["unless"], variables, env))


def _params(path: Path, node: str, entries: Any, variables: dict[str, str], env: dict[str, str | None],
            spec: NodeSpec, prefix: str = "") -> None:
    if not isinstance(entries, list):
        raise LaunchError(f"{path}: node {node!r}: 'param' must be a list")
    for p in entries:
        if not isinstance(p, dict):
            raise LaunchError(f"{path}: node {node!r}: param entry {p!r} is not a mapping")
        if "from" in p:
            _check_keys(path, "param", p, {"from"}, {"allow_substs"})
            if prefix:
                raise LaunchError(f"{path}: node {node!r}: a parameter file inside the group {prefix!r}")
            spec.param_files.append(str(substitute(p["from"], variables, env)))
        elif "param" in p:
            _check_keys(path, "param", p, {"name", "param"})
            _params(path, node, p["param"], variables, env, spec, f"{prefix}{p['name']}.")
        else:
            _check_keys(path, "param", p, {"name", "value"})
            if "name" not in p or "value" not in p:
                raise LaunchError(f"{path}: node {node!r}: param entry {p!r} needs name and value")
            spec.params.append((prefix + str(p["name"]), substitute(p["value"], variables, env)))


def _node(path: Path, body: dict[str, Any], variables: dict[str, str], env: dict[str, str | None]) -> NodeSpec:
    _check_keys(path, "node", body, NODE_KEYS, NODE_KEYS_NOT_IMPLEMENTED)
    for required in ("pkg", "exec"):
        if required not in body:
            raise LaunchError(f"{path}: a node needs {required!r}: {body}")

    def sub(key: str, default: Any = "") -> Any:
        return substitute(body.get(key, default), variables, env)

    name = str(sub("name", body["exec"]))
    on_exit = sub("on_exit", None)
    if on_exit not in (None, "shutdown"):
        raise LaunchError(f"{path}: node {name!r}: on_exit must be 'shutdown', got {on_exit!r}")
    output = sub("output", "screen")
    if output not in OUTPUT_MODES:
        raise LaunchError(f"{path}: node {name!r}: output {output!r} is not supported by hoi-launch "
                          f"(it prints every node to the screen: {', '.join(OUTPUT_MODES)})")
    node_env = dict(env)
    for e in body.get("env", []) or []:
        _check_keys(path, "env", e, {"name", "value"})
        node_env[str(substitute(e["name"], variables, env))] = str(substitute(e["value"], variables, env))
    try:
        spec = NodeSpec(
            pkg=str(sub("pkg")), executable=str(sub("exec")), name=name,
            namespace=str(sub("namespace")),
            args=shlex.split(str(sub("args"))),
            ros_args=shlex.split(str(sub("ros_args"))),
            shutdown_on_exit=on_exit == "shutdown",
            env=node_env,
            cwd=str(sub("cwd")) or None,
            prefix=shlex.split(str(sub("launch-prefix"))),
            respawn=_truthy(sub("respawn", "false")),
            respawn_delay_s=float(sub("respawn_delay", 0.0)),
            respawn_max_retries=int(sub("respawn_max_retries", -1)),
            sigterm_timeout_s=float(sub("sigterm_timeout", DEFAULT_SIGTERM_TIMEOUT_S)),
            sigkill_timeout_s=float(sub("sigkill_timeout", DEFAULT_SIGKILL_TIMEOUT_S)),
            label=str(sub("exec_name", name)),
        )
    except ValueError as exc:
        raise LaunchError(f"{path}: node {name!r}: {exc}") from exc
    _params(path, name, body.get("param", []) or [], variables, env, spec)
    for r in body.get("remap", []) or []:
        _check_keys(path, "remap", r, {"from", "to"})
        spec.remaps.append((str(substitute(r["from"], variables, env)), str(substitute(r["to"], variables, env))))
    return spec


def parse_launch_file(path: Path, overrides: dict[str, str]) -> list[NodeSpec]:
    path = Path(path)
    if not path.is_file():
        raise LaunchError(f"launch file {path} not found")
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or "launch" not in doc:
        raise LaunchError(f"{path}: not a ROS 2 YAML launch file (no top-level 'launch' list)")
    if set(doc) != {"launch"}:
        raise LaunchError(f"{path}: unexpected top-level key(s) {sorted(set(doc) - {'launch'})}")
    variables: dict[str, str] = {}
    declared: set[str] = set()
    env: dict[str, str | None] = {}
    nodes: list[NodeSpec] = []
    for entry in doc["launch"] or []:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise LaunchError(f"{path}: each launch entry is a mapping with one tag, got {entry!r}")
        (kind, body), = entry.items()
        if not isinstance(body, dict):
            raise LaunchError(f"{path}: '{kind}' needs a mapping of attributes, got {body!r}")
        if kind == "arg":
            _check_keys(path, "arg", body, ARG_KEYS)
            name = body["name"]
            declared.add(name)
            if _skip(body, variables, env):
                continue
            choices = [str(c["value"]) for c in body.get("choice", []) or []]
            if name in overrides:
                value = overrides[name]
            elif name in variables:  # set by an earlier declaration or let
                value = variables[name]
            elif "default" in body:
                value = str(substitute(body["default"], variables, env))
            else:
                raise LaunchError(f"{path}: launch argument {name!r} has no default; pass {name}:=<value>")
            if choices and value not in choices:
                raise LaunchError(f"{path}: launch argument {name!r}: value {value!r} is not one of {choices}")
            variables[name] = value
        elif kind == "let":
            _check_keys(path, "let", body, LET_KEYS)
            if not _skip(body, variables, env):
                variables[body["name"]] = str(substitute(body["value"], variables, env))
        elif kind == "set_env":
            _check_keys(path, "set_env", body, SET_ENV_KEYS)
            if not _skip(body, variables, env):
                env[str(body["name"])] = str(substitute(body["value"], variables, env))
        elif kind == "unset_env":
            _check_keys(path, "unset_env", body, UNSET_ENV_KEYS)
            if not _skip(body, variables, env):
                env[str(body["name"])] = None
        elif kind == "node":
            if _skip(body, variables, env):
                continue
            nodes.append(_node(path, body, variables, env))
        else:
            raise LaunchError(f"{path}: launch entry {kind!r} is not supported by hoi-launch "
                              "(supported: arg, let, set_env, unset_env, node)")
    unknown = set(overrides) - declared
    if unknown:
        raise LaunchError(f"{path}: unknown launch arguments: {', '.join(sorted(unknown))}")
    return nodes


def _pump(name: str, stream: Any, sink: Any) -> None:
    for line in iter(stream.readline, ""):
        sink.write(f"[{name}] {line}")
        sink.flush()


@dataclass
class _Slot:
    """One node and its current process (a respawned node gets a new one)."""

    spec: NodeSpec
    proc: subprocess.Popen[str] | None = None
    starts: int = 0
    respawn_at: float | None = None
    threads: list[threading.Thread] = field(default_factory=list)
    reported: subprocess.Popen[str] | None = None  # the process whose exit was already reported


def _report_exit(slot: _Slot, sink: Any) -> None:
    """One line per process exit, worded as ros2 launch words it, so a node that did not end
    cleanly (non-zero code, or a signal) is seen without reading its log."""
    p = slot.proc
    if p is None or p.returncode is None or slot.reported is p:
        return
    slot.reported = p
    code = p.returncode
    if code == 0:
        sink.write(f"[hoi-launch] process {slot.spec.label} has finished cleanly [pid {p.pid}]\n")
    else:
        why = f", signal {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals() else ""
        sink.write(f"[hoi-launch] process {slot.spec.label} has died [pid {p.pid}, exit code {code}{why}]\n")


def _start(slot: _Slot, sink: Any) -> None:
    spec = slot.spec
    slot.proc = subprocess.Popen(spec.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 start_new_session=True, env=spec.environment(), cwd=spec.cwd)
    slot.starts += 1
    t = threading.Thread(target=_pump, args=(spec.label, slot.proc.stdout, sink), daemon=True)
    t.start()
    slot.threads.append(t)


def _stop(slots: list[_Slot]) -> None:
    """SIGINT, then SIGTERM after sigterm_timeout, then SIGKILL after sigkill_timeout (launch's escalation)."""
    live = [s for s in slots if s.proc is not None and s.proc.poll() is None]
    for sig, timeout_of in ((signal.SIGINT, lambda s: s.spec.sigterm_timeout_s),
                            (signal.SIGTERM, lambda s: s.spec.sigkill_timeout_s),
                            (signal.SIGKILL, lambda s: 5.0)):
        live = [s for s in live if s.proc is not None and s.proc.poll() is None]
        if not live:
            return
        for s in live:
            try:
                os.killpg(s.proc.pid, sig)  # type: ignore[union-attr]
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + max(timeout_of(s) for s in live)
        while time.monotonic() < deadline and any(s.proc.poll() is None for s in live):  # type: ignore[union-attr]
            time.sleep(0.05)


def run(nodes: list[NodeSpec], timeout_s: float | None = None, sink: Any = sys.stdout) -> int:
    """Start every node, wait until a shutdown-on-exit node ends (or all end,
    or the timeout, or SIGINT), stop the rest. Nodes with ``respawn`` are
    restarted after ``respawn_delay`` when they exit (at most
    ``respawn_max_retries`` times) until the launch shuts down. Returns the
    worst exit code of the shutdown-triggering nodes (0 if none failed)."""
    slots = [_Slot(spec) for spec in nodes]
    stop = threading.Event()
    old = signal.signal(signal.SIGINT, lambda *_: stop.set())
    rc = 0
    try:
        for slot in slots:
            _start(slot, sink)
        end = None if timeout_s is None else time.monotonic() + timeout_s
        while not stop.is_set():
            now = time.monotonic()
            finished = [s for s in slots if s.proc is not None and s.proc.poll() is not None]
            for s in finished:
                _report_exit(s, sink)
            shutting = [s for s in finished if s.spec.shutdown_on_exit]
            if shutting:
                rc = max(abs(s.proc.returncode) for s in shutting)  # type: ignore[union-attr]
                break
            for s in finished:
                retries_left = s.spec.respawn_max_retries < 0 or s.starts <= s.spec.respawn_max_retries
                if s.spec.respawn and retries_left:
                    if s.respawn_at is None:
                        sink.write(f"[hoi-launch] {s.spec.label} exited with {s.proc.returncode}; respawning in "  # type: ignore[union-attr]
                                   f"{s.spec.respawn_delay_s:g} s\n")
                        s.respawn_at = now + s.spec.respawn_delay_s
                    elif now >= s.respawn_at:
                        s.respawn_at = None
                        _start(s, sink)
            waiting = any(s.respawn_at is not None or (s.proc is not None and s.proc.poll() is None) for s in slots)
            if not waiting:
                break
            if end is not None and now > end:
                sink.write(f"[hoi-launch] timeout after {timeout_s:.0f} s, stopping\n")
                rc = 124
                break
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGINT, old)
        _stop(slots)
        for s in slots:
            if s.proc is not None:
                s.proc.wait()
            for t in s.threads:
                t.join(timeout=2)
            _report_exit(s, sink)
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
    bad = [a for a in rest if ":=" not in a]
    if bad:
        print(f"hoi-launch: error: launch arguments are name:=value, got {' '.join(bad)}", file=sys.stderr)
        return 2
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
