"""The ``vaultshift`` command: a thin adapter that turns arguments into engine calls.

Exit status of ``scan``: 0 nothing found, 1 findings, 2 usage or fatal error (including files
that could not be read: the report would be incomplete).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from migrator import __version__
from migrator.discover.walker import DEFAULT_MAX_FILE_SIZE

if TYPE_CHECKING:
    from migrator.discover.models import ScanResult

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


def _add_source_options(parser: argparse.ArgumentParser) -> None:
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


def _add_scan(sub: argparse._SubParsersAction) -> None:
    scan = sub.add_parser(
        "scan",
        help="find plaintext credentials in files and directory trees",
        description="Find plaintext credentials in files and trees. Values are never printed: findings carry "
                    "a keyed fingerprint and a redacted hint.",
        epilog="exit status: 0 nothing found, 1 findings, 2 usage error or content left unscanned "
               "(each such file is named in the report's errors)",
    )
    _add_source_options(scan)
    scan.add_argument("-f", "--format", choices=("table", "json", "sarif"), default="table",
                      help="report format (default table; sarif for code-scanning dashboards)")
    scan.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                      help="colour the table (default auto: on a terminal, unless NO_COLOR is set)")
    scan.add_argument("-o", "--output", help="write the report to this file instead of standard output")
    scan.add_argument("--baseline", metavar="FILE", help="accepted fingerprints (vaultshift baseline JSON)")
    scan.set_defaults(handler=run_scan)


def _add_baseline(sub: argparse._SubParsersAction) -> None:
    baseline = sub.add_parser("baseline", help="accept the current findings as reviewed",
                              description="Baselines hold fingerprints and logical locations, never values.")
    actions = baseline.add_subparsers(dest="action", metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="write a baseline of every current finding",
        description="Scan PATHs and write every finding's fingerprint, path, key path and rule to a "
                    "sorted JSON baseline; `vaultshift scan --baseline FILE` then reports only new ones.",
    )
    _add_source_options(create)
    create.add_argument("-o", "--output", default=".vaultshift-baseline.json",
                        help="baseline file to write (default .vaultshift-baseline.json)")
    create.set_defaults(handler=run_baseline_create)


def _run_scanner(args: argparse.Namespace, accepted: frozenset[str] = frozenset()) -> ScanResult:
    """Scan ``args.paths`` with the shared source options."""
    from migrator.discover.models import Confidence
    from migrator.discover.scanner import Scanner, ScanOptions
    from migrator.discover.walker import WalkOptions, walk
    from migrator.fingerprint import Fingerprinter, load_key
    from migrator.report.progress import ProgressBar

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
        baseline=accepted,
        include_uuids=args.uuids,
    )
    scanner = Scanner(Fingerprinter(load_key(args.fingerprint_key_file)), options)
    progress = None
    if not args.no_progress and sys.stderr.isatty():
        progress = ProgressBar()
    try:
        return scanner.scan(args.paths, progress=progress)
    finally:
        if progress is not None:
            progress.close()


def _check_output(path: str | None) -> None:
    if path and not Path(path).parent.is_dir():
        raise UsageError(f"{path}: cannot write report: no such directory {str(Path(path).parent)!r}")


def run_scan(args: argparse.Namespace) -> int:
    from migrator.discover import baseline as baseline_file
    from migrator.report import json_report, sarif, table

    _check_output(args.output)
    accepted: frozenset[str] = frozenset()
    if args.baseline:
        accepted = baseline_file.fingerprints(baseline_file.load(args.baseline))
    result = _run_scanner(args, accepted)

    if args.format == "json":
        report = json_report.render(result)
    elif args.format == "sarif":
        report = sarif.render(result)
    else:
        stream_is_tty = sys.stdout.isatty() and not args.output
        color = args.color == "always" or (args.color == "auto" and stream_is_tty and "NO_COLOR" not in os.environ)
        width = shutil.get_terminal_size().columns if stream_is_tty else None
        report = table.render(result, color=color, width=width)
    if args.output:
        _write_report(Path(args.output), report)
        if args.format != "table":
            print(table.summary(result), file=sys.stderr)
    else:
        sys.stdout.write(report)
    return _exit_status(result)


def run_baseline_create(args: argparse.Namespace) -> int:
    from migrator.discover import baseline as baseline_file
    from migrator.report import table

    _check_output(args.output)
    result = _run_scanner(args)
    entries = baseline_file.entries_from_findings(result.findings)
    baseline_file.save(args.output, entries)
    for error in result.errors:
        print(f"{error.severity}: {error.path}: {error.reason}", file=sys.stderr)
    print(f"{len(entries)} accepted finding{'s' if len(entries) != 1 else ''} written to {args.output} "
          f"({table.summary(result)})", file=sys.stderr)
    return EXIT_ERROR if any(error.fatal for error in result.errors) else EXIT_CLEAN


def _exit_status(result: ScanResult) -> int:
    if any(error.fatal for error in result.errors):
        return EXIT_ERROR
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN


def _write_report(path: Path, report: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(report)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot write report: {exc.strerror or exc}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaultshift",
        description="Get plaintext credentials out of code and configs, into a vault, and keep them out.",
    )
    parser.add_argument("--version", action="version", version=f"vaultshift {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_scan(sub)
    _add_baseline(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    from migrator.discover.baseline import BaselineError
    from migrator.fingerprint import FingerprintKeyError

    try:
        return int(args.handler(args))
    except (UsageError, BaselineError, FingerprintKeyError) as exc:
        print(f"vaultshift: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("vaultshift: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
