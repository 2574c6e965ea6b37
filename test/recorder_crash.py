"""Record with a real bag_recorder process, SIGKILL it, and count what survives.

Shared by test/test_bag_faults.py (one kill per case, with asserts) and
scripts/bench_recorder_crash.py (several kills at random moments, a table).
Processes: ``python -m hoi_perception.nodes.bag_recorder`` and one
scripts/bag_load_publisher.py per topic; DDS settings come from the caller's
environment (ROS_DOMAIN_ID, ROS_AUTOMATIC_DISCOVERY_RANGE).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PUBLISHER = REPO / "scripts" / "bag_load_publisher.py"
SHIM = REPO / "test" / "enospc_shim.py"
PY = sys.executable
REPAIR = [PY, "-m", "hoi_perception.bag.repair"]  # what the hoi-bag-repair console script runs


def env() -> dict[str, str]:
    """The caller's environment with the checkout's package first on the path and unbuffered output."""
    e = os.environ.copy()
    e["PYTHONPATH"] = str(REPO / "src" / "hoi_perception") + os.pathsep + e.get("PYTHONPATH", "")
    e["PYTHONUNBUFFERED"] = "1"
    return e


def recorder_cmd(out: Path, topics: str, *extra: str, shim: list[str] | None = None) -> list[str]:
    """bag_recorder into ``out`` for ``topics`` (comma-separated), optionally under test/enospc_shim.py."""
    head = [PY, str(SHIM), *shim, "--"] if shim else [PY]
    return [*head, "-m", "hoi_perception.nodes.bag_recorder", "--ros-args", "-p", f"output:={out}",
            "-p", f"topics:=[{topics}]", *extra]


def wait_for_line(proc: subprocess.Popen, log: Path, text: str, timeout: float) -> None:
    """Wait until ``text`` appears in ``log``; AssertionError with the log if not (or if ``proc`` exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"'{text}' not seen in {log} within {timeout} s:\n{log.read_text(errors='replace')}")


def mcap_lib_count(mcap_file: Path) -> int:
    """Messages mcap's own reader (make_reader) yields."""
    from mcap.reader import make_reader

    with open(mcap_file, "rb") as f:
        return sum(1 for _ in make_reader(f).iter_messages())


def mcap_stream_count(mcap_file: Path) -> int:
    """Messages mcap's stream reader yields before the file ends or breaks (what a crash left readable)."""
    from mcap.records import Message
    from mcap.stream_reader import StreamReader

    n = 0
    try:
        with open(mcap_file, "rb") as f:
            for r in StreamReader(f).records:
                n += isinstance(r, Message)
    except Exception:  # noqa: BLE001 - a file cut off mid-record ends the count there
        pass
    return n


def rosbags_count(bag: Path) -> int | str:
    """Messages rosbags' Reader yields from the bag as it is, or why it refused (one line)."""
    from rosbags.rosbag2 import Reader

    try:
        with Reader(bag) as r:
            return sum(1 for _ in r.messages())
    except Exception as exc:  # noqa: BLE001 - the refusal is the result
        return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:160]


def declared_count(bag: Path) -> int | None:
    """message_count in the bag's metadata.yaml, None when it is missing or unreadable."""
    import yaml

    try:
        return int(yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]["message_count"])
    except Exception:  # noqa: BLE001 - a missing or broken metadata.yaml is a result too
        return None


def bag_reader_count(bag: Path) -> int | str:
    """Messages the project's BagReader yields from the bag as it is, or its one-line BagError."""
    from hoi_perception.bag.io import BagError, BagReader

    try:
        with BagReader(bag) as r:
            return sum(1 for _ in r.messages())
    except (BagError, OSError) as exc:
        return " ".join(str(exc).split())[:160]


def sequences(bag: Path) -> dict[str, dict[str, list[int]]]:
    """topic -> {"seqs", "send"}: the sequence numbers and send times (ns) that bag_load_publisher put in
    each recorded message (String "<seq> <ns>"; Image frame_id "f<seq>" and stamp), read with BagReader."""
    from hoi_perception.bag.io import BagReader

    out: dict[str, dict[str, list[int]]] = {}
    with BagReader(bag) as r:
        for m in r.messages():
            d = out.setdefault(m.topic, {"seqs": [], "send": []})
            msg = r.deserialize(m)
            if m.msgtype == "std_msgs/msg/String":
                seq, send = (int(x) for x in msg.data.split()[:2])
            else:
                seq = int(msg.header.frame_id[1:])
                send = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            d["seqs"].append(seq)
            d["send"].append(send)
    return out


@dataclass
class Stream:
    """One publisher: its topic and bag_load_publisher arguments beyond topic/rate/duration/out/depth."""

    topic: str
    args: list[str] = field(default_factory=list)


@dataclass
class KillRun:
    bag: Path
    kill_ns: int
    kill_after_s: float
    sent: dict[str, list[int]]  # topic -> send time (ns) of each sequence number
    publisher_out: dict[str, str]

    def sent_before_kill(self, topic: str) -> int:
        return sum(1 for t in self.sent[topic] if t < self.kill_ns)


def record_and_kill(workdir: Path, streams: list[Stream], *, rate: float, kill_after_s: float, publish_s: float,
                    depth: int, recorder_params: tuple[str, ...] = (), start_timeout_s: float = 30.0) -> KillRun:
    """Start bag_recorder on the streams' topics, start one publisher per stream, SIGKILL the recorder
    ``kill_after_s`` after every publisher began publishing (it waits to see the recorder's
    subscription first), let the publishers finish.

    Bounded: the recorder must start and subscribe within ``start_timeout_s`` each, the publishers
    end within ``publish_s`` + 60 s; every process is killed on the way out. RuntimeError when a
    publisher fails.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    bag = workdir / "bag"
    rec_log = workdir / "recorder.log"
    topics = ",".join(s.topic for s in streams)
    with open(rec_log, "w") as log:
        # Queues deep enough that DDS keeps every message while the recorder fsyncs on a loaded
        # machine: what is missing afterwards is then what the kill cost, not a queue overrun.
        rec = subprocess.Popen(recorder_cmd(bag, topics, "-p", f"qos_depth:={depth}", *recorder_params),
                               stdout=log, stderr=subprocess.STDOUT, env=env())
    pubs: dict[str, subprocess.Popen] = {}
    outs: dict[str, str] = {}
    try:
        wait_for_line(rec, rec_log, "recording [", start_timeout_s)
        for i, s in enumerate(streams):
            with open(workdir / f"publisher{i}.log", "w") as log:
                pubs[s.topic] = subprocess.Popen(
                    [PY, str(PUBLISHER), "--topic", s.topic, "--rate", str(rate), "--duration-s", str(publish_s),
                     "--out", str(workdir / f"sent{i}.json"), "--depth", str(depth), *s.args],
                    stdout=log, stderr=subprocess.STDOUT, env=env())
        for i, s in enumerate(streams):
            wait_for_line(rec, rec_log, f"recording {s.topic} (", start_timeout_s)
            wait_for_line(pubs[s.topic], workdir / f"publisher{i}.log", "publishing ", start_timeout_s)
        time.sleep(kill_after_s)
        kill_ns = time.time_ns()
        rec.send_signal(signal.SIGKILL)
        rec.wait(timeout=10)
        for i, (topic, p) in enumerate(pubs.items()):
            p.wait(timeout=publish_s + 60)
            outs[topic] = (workdir / f"publisher{i}.log").read_text(errors="replace")
            if p.returncode != 0:
                raise RuntimeError(f"publisher {topic} exited {p.returncode}: {outs[topic]}")
    finally:
        for p in (rec, *pubs.values()):
            if p.poll() is None:
                p.kill()
                p.wait()
    sent = {s.topic: json.loads((workdir / f"sent{i}.json").read_text())["send_time_ns"]
            for i, s in enumerate(streams)}
    return KillRun(bag=bag, kill_ns=kill_ns, kill_after_s=kill_after_s, sent=sent, publisher_out=outs)


@dataclass
class Recovery:
    """What each reader gets from a killed recording, before and after hoi-bag-repair."""

    declared: int | None  # metadata.yaml's message_count as the kill left it
    rosbags: int | str  # as the kill left it: a count, or why rosbags refused
    bag_reader: int | str
    mcap_stream: int
    repair_rc: int
    repair_report: str
    rosbags_after_repair: int | str
    mcap_after_repair: int
    streams: dict[str, dict[str, list[int]]]  # after repair, from BagReader

    @property
    def opened_as_is(self) -> bool:
        return isinstance(self.rosbags, int)


def recover(bag: Path, timeout_s: float = 120.0) -> Recovery:
    """Count with rosbags, BagReader and mcap's stream reader as the bag is; then run hoi-bag-repair
    (which leaves a bag that opens cleanly untouched) and count again."""
    mcap_file = next(bag.glob("*.mcap"))
    declared = declared_count(bag)
    as_is = rosbags_count(bag), bag_reader_count(bag), mcap_stream_count(mcap_file)
    res = subprocess.run([*REPAIR, str(bag)], capture_output=True, text=True, env=env(), timeout=timeout_s)
    after = rosbags_count(bag)
    return Recovery(declared=declared, rosbags=as_is[0], bag_reader=as_is[1], mcap_stream=as_is[2], repair_rc=res.returncode,
                    repair_report=(res.stdout + res.stderr).strip(), rosbags_after_repair=after,
                    mcap_after_repair=mcap_lib_count(next(bag.glob("*.mcap"))),
                    streams=sequences(bag) if res.returncode == 0 else {})


def newest_recovered_age_s(run: KillRun, rec: Recovery, topic: str) -> float:
    """Seconds of data lost on ``topic``: from the send time of the newest recovered message to the kill
    (the whole time since the publisher's first message when nothing was recovered; 0 when nothing
    was sent before the kill)."""
    send = rec.streams.get(topic, {}).get("send", [])
    ref = max(send) if send else min([*run.sent[topic], run.kill_ns])
    return max(0, run.kill_ns - ref) / 1e9
