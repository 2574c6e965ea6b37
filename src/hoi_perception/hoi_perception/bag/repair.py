"""``hoi-bag-repair``: turn a bag cut off by a crash (or with damaged chunks) into one every reader opens.

The MCAP file is read record by record (:func:`~hoi_perception.bag.mcap_records.scan_mcap`):
everything up to the point where the file ends mid-record is kept, chunks
that do not decompress or fail their CRC are skipped and counted. The
recovered messages are written, in file order, into a fresh indexed MCAP
with the crash-safe writer, and metadata.yaml is rebuilt from what was
recovered (topic types, QoS and type hashes come from the MCAP channels, so a
missing or broken metadata.yaml is no obstacle). The original file is kept
beside it as ``<name>.mcap.orig`` unless ``--no-backup`` is given.

Exit codes: 0 repaired (or nothing to repair), 2 the input is not a bag or
MCAP file, or nothing could be recovered.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rosbags.rosbag2.metadata import parse_qos

from hoi_perception.bag import mcap_records as rec
from hoi_perception.bag.io import BagError, BagReader
from hoi_perception.bag.recording import CrashSafeBagWriter

EXIT_OK = 0
EXIT_BAD_INPUT = 2


@dataclass
class RepairReport:
    """What a repair found and kept."""

    bag: Path
    source: Path
    needed: bool = True
    recovered: dict[str, int] = field(default_factory=dict)
    problems: list[rec.ScanProblem] = field(default_factory=list)
    declared: int | None = None  # message_count of the old metadata.yaml, when it was readable
    backup: Path | None = None
    why_needed: str = ""

    @property
    def total(self) -> int:
        return sum(self.recovered.values())

    def lines(self) -> list[str]:
        if not self.needed:
            return [f"{self.bag}: opens cleanly, {self.total} messages; nothing to repair"]
        out = [f"{self.bag}: recovered {self.total} messages from {self.source.name}"
               + (f" (old metadata.yaml declared {self.declared})" if self.declared is not None else "")
               + f"; needed because {self.why_needed}"]
        out += [f"  {t}: {n}" for t, n in sorted(self.recovered.items())]
        out += [f"  {p.line()}" for p in self.problems]
        if self.backup is not None:
            out.append(f"  original kept as {self.backup}")
        return out


def _old_declared_count(bag_dir: Path) -> int | None:
    try:
        import yaml

        return int(yaml.safe_load((bag_dir / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
                   ["message_count"])
    except Exception:  # noqa: BLE001 - a broken metadata.yaml is one of the things repaired
        return None


def _why_repair(bag: Path) -> str:
    """Empty when the bag opens and reads without problems, else the reason."""
    try:
        with BagReader(bag) as r:
            n = sum(1 for _ in r.messages())
            if r.fallback_reason:
                return r.fallback_reason
            if r.problems:
                return r.problems[0]
            if n != r.message_count:
                return f"metadata.yaml declares {r.message_count} messages, the file holds {n}"
    except BagError as exc:
        text = str(exc)
        return text[len(f"{bag}: "):] if text.startswith(f"{bag}: ") else text
    return ""


def repair_bag(path: Path | str, *, keep_backup: bool = True, force: bool = False) -> RepairReport:
    """Repair the bag at ``path`` (a bag directory or one ``.mcap`` file) in place.

    A bare ``.mcap`` file becomes a bag directory of the same stem beside it.
    Raises BagError when the input is not MCAP or holds nothing recoverable.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.mcap"))
        if len(files) != 1:
            raise BagError(f"{path}: expected one .mcap file in the bag directory, found {len(files)}")
        source, bag_dir = files[0], path
    elif path.is_file() and path.suffix == ".mcap":
        source, bag_dir = path, path.with_suffix("")
        if bag_dir.exists():
            raise BagError(f"{path}: {bag_dir} exists; move it away to repair this file into it")
    else:
        raise BagError(f"{path}: not a bag directory or .mcap file")
    report = RepairReport(bag=bag_dir, source=source, declared=_old_declared_count(bag_dir) if path.is_dir() else None)
    if path.is_dir() and not force:
        report.why_needed = _why_repair(bag_dir)
        if not report.why_needed:
            report.needed = False
            with BagReader(bag_dir) as r:
                report.recovered = {t: i.count for t, i in r.topics().items()}
            return report
    elif not path.is_dir():
        report.why_needed = "a bare .mcap file has no metadata.yaml"
    else:
        report.why_needed = "--force"

    tmp = bag_dir.parent / f".{bag_dir.name}.repair"
    if tmp.exists():
        shutil.rmtree(tmp)
    result = rec.ScanResult()
    writer = CrashSafeBagWriter(tmp, fsync=False, custom_data={"hoi_repaired_from": source.name})
    schemas: dict[int, rec.SchemaRecord] = {}
    channels: dict[int, rec.ChannelRecord] = {}
    try:
        writer.open()
        for r in rec.scan_mcap(source, result):
            if isinstance(r, rec.SchemaRecord):
                schemas[r.id] = r
            elif isinstance(r, rec.ChannelRecord):
                channels[r.id] = r
                schema = schemas.get(r.schema_id)
                msgtype = schema.name if schema else ""
                try:
                    qos = parse_qos(r.metadata.get("offered_qos_profiles", ""))
                except Exception:  # noqa: BLE001 - keep the topic with the default QoS record
                    qos = None
                writer.add_topic(r.topic, msgtype, qos or None,
                                 msgdef=schema.data.decode(errors="replace") if schema else "",
                                 type_hash=r.metadata.get("topic_type_hash", ""))
            else:
                ch = channels.get(r.channel_id)
                if ch is not None:
                    writer.write_raw(ch.topic, r.log_time, r.data)
        writer.close()
        if writer.error is not None:
            raise BagError(f"{bag_dir}: writing the repaired bag failed: {writer.error}")
    except rec.McapFormatError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BagError(f"{source}: {exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report.problems = result.problems
    report.recovered = {t: n for t, n in writer.counts().items()}
    if not report.total:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BagError(f"{source}: no message could be recovered"
                       + (f" ({result.problems[0].line()})" if result.problems else ""))
    _swap_in(tmp, bag_dir, source, report, keep_backup)
    return report


def _swap_in(tmp: Path, bag_dir: Path, source: Path, report: RepairReport, keep_backup: bool) -> None:
    """Move the repaired files into the bag directory; the old MCAP becomes the backup (or goes)."""
    new_mcap = tmp / f"{tmp.name}.mcap"
    bag_dir.mkdir(exist_ok=True)
    final_mcap = bag_dir / f"{bag_dir.name}.mcap"
    if source.parent == bag_dir:
        if keep_backup:
            backup = source.with_name(source.name + ".orig")
            os.replace(source, backup)
            report.backup = backup
        else:
            source.unlink()
    elif keep_backup:
        report.backup = source
    else:
        source.unlink()
    os.replace(new_mcap, final_mcap)
    # metadata.yaml names the MCAP file; write it for the final name.
    import yaml

    meta = yaml.safe_load((tmp / "metadata.yaml").read_text())
    info = meta["rosbag2_bagfile_information"]
    info["relative_file_paths"] = [final_mcap.name]
    for f in info.get("files", []):
        f["path"] = final_mcap.name
    from hoi_perception.bag.recording import write_file_atomically

    write_file_atomically(bag_dir / "metadata.yaml", yaml.safe_dump(meta, sort_keys=True).encode())
    shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hoi-bag-repair", description=__doc__.split("\n\n")[0])
    parser.add_argument("bag", help="bag directory or .mcap file")
    parser.add_argument("--no-backup", action="store_true", help="delete the original .mcap after repair")
    parser.add_argument("--force", action="store_true", help="rewrite even a bag that opens cleanly")
    args = parser.parse_args(argv)
    try:
        report = repair_bag(args.bag, keep_backup=not args.no_backup, force=args.force)
    except BagError as exc:
        print(f"hoi-bag-repair: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"hoi-bag-repair: {args.bag}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print("\n".join(report.lines()))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
