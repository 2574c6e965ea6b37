"""Replay evaluation of one bag: the configured graph, a paced replay, the outputs recorded.

:func:`replay_bag` starts the graph's nodes as processes (a ROS 2 YAML launch
file of hoi_bringup, parsed by hoi_perception.launch.yaml_launch, the way
`hoi-launch` and the demo run them), replays the bag through them under
/clock with the pacing of :mod:`hoi_perception.evaluation.pacing` (every
frame processed, none dropped; as fast as the graph answers), records the
outputs and /diagnostics to an MCAP bag, and stops the nodes (their final
reports go to the log). Metrics are computed afterwards from the source bag
and that recording (hoi_perception.evaluation.metrics).

The configuration (config/evaluation.yaml) names the launch file, its
arguments, the output topics to record and what each is paced on. A launch
argument given as ``auto:static_cameras`` becomes the bag's static cameras.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hoi_perception.evaluation.pacing import AwaitSpec, FramePacer, header_stamp_ns

RECORDING_DIR = "recording"
REPLAY_JSON = "replay.json"


class EvalConfigError(ValueError):
    """An evaluation configuration that cannot be used."""


@dataclass
class EvalConfig:
    name: str
    launch: str
    launch_args: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)  # topic -> pkg/msg/Type
    pace: list[AwaitSpec] = field(default_factory=list)
    window: int = 2
    frame_timeout_s: float = 10.0
    final_timeout_s: float = 10.0
    final_idle_s: float = 2.0
    discovery_timeout_s: float = 40.0
    settle_s: float = 1.5
    exclude_topics: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-family options
    source: str = ""

    @classmethod
    def load(cls, path: Path | str) -> EvalConfig:
        path = Path(path)
        try:
            doc = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as e:
            raise EvalConfigError(f"{path}: {e}") from e
        if not isinstance(doc, dict):
            raise EvalConfigError(f"{path}: not a mapping")
        return cls.from_dict(doc, source=str(path))

    @classmethod
    def from_dict(cls, doc: dict[str, Any], source: str = "") -> EvalConfig:
        known = {"name", "launch", "launch_args", "outputs", "pace", "window", "frame_timeout_s", "final_timeout_s",
                 "final_idle_s", "discovery_timeout_s", "settle_s", "exclude_topics", "metrics"}
        unknown = set(doc) - known
        if unknown:
            raise EvalConfigError(f"{source}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        if "launch" not in doc:
            raise EvalConfigError(f"{source}: 'launch' (a hoi_bringup launch file) is required")
        cfg = cls(
            name=str(doc.get("name") or Path(source).stem or "graph"),
            launch=str(doc["launch"]),
            launch_args={str(k): str(v) for k, v in (doc.get("launch_args") or {}).items()},
            outputs={str(k): str(v) for k, v in (doc.get("outputs") or {}).items()},
            pace=[AwaitSpec(str(p["output"]), str(p["trigger"])) for p in (doc.get("pace") or [])],
            window=int(doc.get("window", 2)),
            frame_timeout_s=float(doc.get("frame_timeout_s", 10.0)),
            final_timeout_s=float(doc.get("final_timeout_s", 10.0)),
            final_idle_s=float(doc.get("final_idle_s", 2.0)),
            discovery_timeout_s=float(doc.get("discovery_timeout_s", 40.0)),
            settle_s=float(doc.get("settle_s", 1.5)),
            exclude_topics=[str(t) for t in (doc.get("exclude_topics") or [])],
            metrics={str(k): dict(v or {}) for k, v in (doc.get("metrics") or {}).items()},
            source=source,
        )
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.window < 1:
            raise EvalConfigError(f"{self.source}: window must be >= 1")
        for name in ("frame_timeout_s", "final_timeout_s", "final_idle_s", "discovery_timeout_s"):
            if not getattr(self, name) > 0:
                raise EvalConfigError(f"{self.source}: {name} must be > 0")
        for p in self.pace:
            if p.output not in self.outputs:
                raise EvalConfigError(f"{self.source}: paced output {p.output} is not in outputs")
        for t, ty in self.outputs.items():
            if ty.count("/") != 2:
                raise EvalConfigError(f"{self.source}: output {t}: type {ty!r} is not pkg/msg/Name")


def default_config_path() -> Path:
    from hoi_perception.launch.yaml_launch import find_pkg_share

    return find_pkg_share("hoi_bringup") / "config" / "evaluation.yaml"


def static_cameras(topics: dict[str, str]) -> list[str]:
    """Camera names of a bag's /cameras/<name>/image_raw topics, sorted."""
    return sorted(t.split("/")[2] for t in topics if t.startswith("/cameras/") and t.endswith("/image_raw")
                  and t.count("/") == 3)


def resolve_launch_args(cfg: EvalConfig, bag_topics: dict[str, str]) -> dict[str, str]:
    out = {}
    for k, v in cfg.launch_args.items():
        if v == "auto:static_cameras":
            v = "[" + ", ".join(static_cameras(bag_topics)) + "]"
        out[k] = v
    return out


class GraphProcesses:
    """The launch file's nodes as processes, output to one log; stopped with SIGINT (then SIGKILL)."""

    def __init__(self, launch: str, args: dict[str, str], log_path: Path) -> None:
        from hoi_perception.launch.yaml_launch import find_pkg_share, parse_launch_file

        path = Path(launch) if "/" in launch else find_pkg_share("hoi_bringup") / "launch" / launch
        self.specs = parse_launch_file(path, args)
        self.log_path = log_path
        self.procs: list[tuple[str, subprocess.Popen[str]]] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> GraphProcesses:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._sink = self.log_path.open("w")
        for spec in self.specs:
            p = subprocess.Popen(spec.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 start_new_session=True)
            self.procs.append((spec.name if not spec.namespace else f"{spec.namespace}/{spec.name}", p))
            t = threading.Thread(target=self._pump, args=(self.procs[-1][0], p), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _pump(self, name: str, p: subprocess.Popen[str]) -> None:
        assert p.stdout is not None
        for line in iter(p.stdout.readline, ""):
            with self._lock:
                self._sink.write(f"[{name}] {line}")
                self._sink.flush()

    def exited(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.procs if p.poll() is not None}

    def failure(self) -> str | None:
        """Every node runs until stopped: one that ended is a failure, named with its exit code."""
        ended = self.exited()
        if not ended:
            return None
        return (", ".join(f"node {n} exited with code {c}" for n, c in ended.items())
                + f" during the replay; see {self.log_path}")

    def stop(self, timeout_s: float = 15.0) -> dict[str, int]:
        for _, p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        for name, p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # the nodes print their threads' stacks on SIGUSR1 (ros/stop_signal.py): where it hung
                with self._lock:
                    self._sink.write(f"[{name}] did not stop within {timeout_s:.0f} s of SIGINT; its threads:\n")
                os.killpg(p.pid, signal.SIGUSR1)
                time.sleep(1.0)
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for t in self._threads:
            t.join(timeout=2)
        self._sink.close()
        return {n: p.returncode for n, p in self.procs}

    def tail(self, name: str, lines: int = 15) -> list[str]:
        """The last ``lines`` lines one node wrote to the log."""
        prefix = f"[{name}] "
        with self.log_path.open() as f:
            own = [ln.rstrip("\n") for ln in f if ln.startswith(prefix)]
        return own[-lines:]


@dataclass
class ReplayResult:
    """What one replay produced (written as replay.json beside the recording)."""

    config: str
    bag: str
    out_dir: str
    recording: str
    bag_duration_s: float
    wall_s: float
    replay_wall_s: float
    discovery_s: float
    frames: dict[str, int]
    pacing: dict[str, dict]
    published: dict[str, int]
    publish_errors: dict[str, int]
    node_exit_codes: dict[str, int]
    log: str
    unmatched_outputs: list[str]
    dds_profile: str = ""
    skipped_topics: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


FASTDDS_PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"


def use_replay_dds_profile() -> str:
    """Point Fast DDS at config/fastdds_replay.xml (short heartbeat: a lost sample is repaired in
    50 ms, not 3 s) for this process and the nodes it starts, unless the user chose a profile."""
    from hoi_perception.launch.yaml_launch import find_pkg_share

    if not os.environ.get(FASTDDS_PROFILE_ENV):
        profile = find_pkg_share("hoi_bringup") / "config" / "fastdds_replay.xml"
        if profile.is_file():
            os.environ[FASTDDS_PROFILE_ENV] = str(profile)
    return os.environ.get(FASTDDS_PROFILE_ENV, "")


def replay_bag(bag: Path, cfg: EvalConfig, out_dir: Path, progress: bool = True) -> ReplayResult:
    """Run the graph on ``bag`` (see module doc); returns the replay's bookkeeping."""
    from hoi_perception.bag.io import BagReader, BagWriter, is_complete_bag
    from hoi_perception.ros.replay_driver import DIAGNOSTICS, DIAGNOSTICS_TYPE, run_driver

    t_start = time.monotonic()
    dds_profile = use_replay_dds_profile()
    out_dir.mkdir(parents=True, exist_ok=True)
    rec_dir = out_dir / RECORDING_DIR
    if rec_dir.exists():
        import shutil

        shutil.rmtree(rec_dir)
    with BagReader(bag) as reader:
        infos = reader.topics()
        bag_topics = {t: i.msgtype for t, i in infos.items()}
        topics = [t for t in sorted(infos) if t not in cfg.exclude_topics and t != "/clock"]
        triggers = sorted({p.trigger for p in cfg.pace if p.trigger in infos})
        trigger_stamps: dict[str, list[int]] = {t: [] for t in triggers}
        for m in reader.messages(topics=triggers):
            s = header_stamp_ns(m.data)
            trigger_stamps[m.topic].append(m.log_time_ns if s is None else s)
        pacer = FramePacer(cfg.pace, trigger_stamps, window=cfg.window)
        for a in pacer.ignored:
            print(f"  pacing: {a.output} is paced on {a.trigger}, which the bag does not have; not awaited")
        graph = GraphProcesses(cfg.launch, resolve_launch_args(cfg, bag_topics), out_dir / "graph.log").start()
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=sum(len(v) for v in trigger_stamps.values()), unit="frame",
                       desc=f"replay {bag.name} [{cfg.name}]", file=sys.stderr, dynamic_ncols=True)
        try:
            res = run_driver(reader, topics, cfg.outputs, pacer, discovery_timeout_s=cfg.discovery_timeout_s,
                             settle_s=cfg.settle_s, frame_timeout_s=cfg.frame_timeout_s,
                             final_timeout_s=cfg.final_timeout_s, final_idle_s=cfg.final_idle_s,
                             health=graph.failure, progress=bar.update if bar else None)
        finally:
            if bar is not None:
                bar.close()
            codes = graph.stop()
            for name, code in codes.items():
                if code != 0:  # every node is stopped by SIGINT and must end cleanly: say which did not, and how
                    print(f"  node {name} exited with code {code} when stopped; its last lines in {graph.log_path}:\n"
                          + "\n".join(f"    {ln}" for ln in graph.tail(name, 80)), flush=True)
        with BagWriter(rec_dir, custom_data={"hoi_eval.config": cfg.name, "hoi_eval.bag": str(bag)}) as w:
            types = dict(cfg.outputs)
            types[DIAGNOSTICS] = DIAGNOSTICS_TYPE
            for t, ty in types.items():
                if ty in w.typestore.types:
                    w.add_topic(t, ty)
            t0 = reader.start_time_ns
            for m in sorted(res.recorded, key=lambda r: (r.stamp_ns or 0, r.arrival_ns)):
                if m.topic not in w.counts:
                    continue
                # log time = header stamp (sim time), as the inputs; /diagnostics carry sim time too
                w.write_raw(m.topic, max(0, m.stamp_ns if m.stamp_ns is not None else t0), m.data)
    assert is_complete_bag(rec_dir) or not res.recorded
    result = ReplayResult(
        config=cfg.name, bag=str(bag), out_dir=str(out_dir), recording=str(rec_dir),
        bag_duration_s=res.bag_duration_s, wall_s=time.monotonic() - t_start, replay_wall_s=res.wall_s,
        discovery_s=res.discovery_s, frames={t: len(s) for t, s in trigger_stamps.items()},
        pacing=pacer.summary(), published=res.published, publish_errors=res.publish_errors,
        node_exit_codes=codes, log=str(out_dir / "graph.log"), unmatched_outputs=res.unmatched_outputs,
        dds_profile=dds_profile, skipped_topics=res.skipped_topics,
    )
    (out_dir / REPLAY_JSON).write_text(json.dumps(result.to_dict(), indent=1))
    return result
