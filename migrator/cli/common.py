"""What the sub-commands share: exit codes, source options, running the scanner, writing reports."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from migrator.discover.walker import DEFAULT_MAX_FILE_SIZE

if TYPE_CHECKING:
    from migrator.discover.baseline import Baseline
    from migrator.discover.models import ScanResult
    from migrator.discover.scanner import Scanner, ValueObserver
    from migrator.fingerprint import Fingerprinter
    from migrator.plan.digest import FileDigester

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)


class UsageError(Exception):
    pass


def parse_size(text: str) -> int:
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 512K, 5M, 1G)")
    number = float(match.group(1))
    unit = (match.group(2) or "b").lower()[:1]
    factor = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
    return int(number * factor)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """What to scan and how: shared by ``scan`` and ``baseline create``."""
    parser.add_argument("paths", nargs="*", default=["."], help="files or directories (default: .)")
    parser.add_argument("-e", "--exclude", action="append", default=[], metavar="PATTERN",
                        help="gitignore-style pattern to skip (repeatable)")
    parser.add_argument("--no-ignore-files", action="store_true",
                        help="do not honour .gitignore / .vaultshiftignore files")
    parser.add_argument("--max-file-size", type=parse_size, default=DEFAULT_MAX_FILE_SIZE, metavar="SIZE",
                        help="skip (and report) files larger than this (default 20M)")
    parser.add_argument("--min-confidence", default="low", choices=("low", "medium", "high"),
                        help="report only findings at least this sure (default low)")
    parser.add_argument("--no-uuids", dest="uuids", action="store_false",
                        help="do not report bare UUIDs (by default they are reported at low confidence)")
    parser.add_argument("--fingerprint-key-file", metavar="FILE",
                        help="HMAC key for fingerprints (default: $VAULTSHIFT_FINGERPRINT_KEY or the user key)")
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")


def make_keyed(args: argparse.Namespace) -> tuple[Fingerprinter, FileDigester]:
    """The value fingerprinter and the file digester, both under the one key (read once)."""
    from migrator.fingerprint import Fingerprinter, load_key
    from migrator.plan.digest import FileDigester

    key = load_key(args.fingerprint_key_file)
    return Fingerprinter(key), FileDigester(key)


def make_fingerprinter(args: argparse.Namespace) -> Fingerprinter:
    from migrator.fingerprint import Fingerprinter, load_key

    return Fingerprinter(load_key(args.fingerprint_key_file))


def load_baseline(args: argparse.Namespace, path: str) -> Baseline:
    """The baseline at ``path``; an error if it was made with another fingerprint key."""
    from migrator.discover import baseline as baseline_file

    return baseline_file.load(path, key_id=make_fingerprinter(args).key_id)


def make_scanner(args: argparse.Namespace, baseline: Baseline | None = None,
                 fingerprinter: Fingerprinter | None = None, value_observer: ValueObserver | None = None) -> Scanner:
    """The scanner the shared source options describe."""
    from migrator.discover.baseline import EMPTY
    from migrator.discover.models import Confidence
    from migrator.discover.scanner import Scanner, ScanOptions
    from migrator.discover.walker import WalkOptions, walk

    for pattern in args.exclude:
        try:
            walk([], WalkOptions(exclude=(pattern,)))
        except ValueError:
            raise UsageError(f"--exclude {pattern!r}: not a valid gitignore-style pattern") from None
    options = ScanOptions(
        walk=WalkOptions(
            exclude=tuple(args.exclude),
            max_file_size=args.max_file_size,
            use_ignore_files=not args.no_ignore_files,
        ),
        min_confidence=Confidence.parse(args.min_confidence),
        baseline=baseline if baseline is not None else EMPTY,
        include_uuids=args.uuids,
        value_observer=value_observer,
    )
    return Scanner(fingerprinter or make_fingerprinter(args), options)


def run_scanner(args: argparse.Namespace, baseline: Baseline | None = None,
                fingerprinter: Fingerprinter | None = None, value_observer: ValueObserver | None = None) -> ScanResult:
    """Scan ``args.paths`` with the shared source options; findings ``baseline`` accepts are dropped."""
    from migrator.report.progress import ProgressBar

    scanner = make_scanner(args, baseline, fingerprinter, value_observer)
    progress = None
    if not args.no_progress and sys.stderr.isatty():
        progress = ProgressBar()
    try:
        return scanner.scan(args.paths, progress=progress)
    finally:
        if progress is not None:
            progress.close()


def check_output(path: str | None) -> None:
    if path and not Path(path).parent.is_dir():
        raise UsageError(f"{path}: cannot write report: no such directory {str(Path(path).parent)!r}")


def exit_status(result: ScanResult) -> int:
    if any(error.fatal for error in result.errors):
        return EXIT_ERROR
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN


def write_report(path: Path, report: str) -> None:
    """Replace a regular file atomically (temporary file beside it, rename); write in place to
    anything else (/dev/stdout, a FIFO, a device), which a rename would replace by a file."""
    try:
        if path.exists() and not path.is_file():
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(report)
            return
        target = path.resolve() if path.is_symlink() else path  # keep the link, replace what it names
    except OSError as exc:
        raise UsageError(f"{path}: cannot write report: {exc.strerror or exc}") from None
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(report)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot write report: {exc.strerror or exc}") from None
