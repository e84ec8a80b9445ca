"""``vaultshift scan``: find plaintext credentials and report them as a table, JSON or SARIF."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from migrator.cli.common import (
    UsageError,
    add_source_options,
    check_output,
    exit_status,
    load_baseline,
    make_scanner,
    run_scanner,
    write_report,
)
from migrator.discover.baseline import Baseline
from migrator.discover.models import Finding, ScanResult


def add_parser(sub: argparse._SubParsersAction) -> None:
    scan = sub.add_parser(
        "scan",
        help="find plaintext credentials in files and directory trees",
        description="Find plaintext credentials in files and trees. Values are never printed: findings carry "
                    "a keyed fingerprint and a redacted hint.",
        epilog="exit status: 0 nothing found, 1 findings, 2 usage error or content left unscanned "
               "(each such file is named in the report's errors)",
    )
    add_source_options(scan)
    scan.add_argument("-f", "--format", choices=("table", "json", "sarif"), default="table",
                      help="report format (default table; sarif for code-scanning dashboards)")
    scan.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                      help="colour the table (default auto: on a terminal, unless NO_COLOR is set)")
    scan.add_argument("-o", "--output", help="write the report to this file instead of standard output")
    scan.add_argument("--baseline", metavar="FILE",
                      help="report only findings this baseline does not accept (see `vaultshift baseline`)")
    scan.add_argument("--git", action="store_true",
                      help="scan the git history of the repository at PATH instead of its files: every blob "
                           "once, each finding with the commits that introduced it")
    scan.add_argument("--since", metavar="REV",
                      help="with --git: only commits not reachable from REV (what came after it)")
    scan.add_argument("--state-dir", metavar="DIR",
                      help="also record the scan in the migration's inventory there (with --git: the history "
                           "scan phase 1's gate rests on); a tracking: url in --config goes first")
    scan.add_argument("--config", metavar="FILE", help="with --state-dir: the configuration (its tracking: section)")
    scan.set_defaults(handler=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    from migrator.discover import baseline as baseline_file
    from migrator.report import json_report, sarif, table

    check_output(args.output)
    accepted = load_baseline(args, args.baseline) if args.baseline else baseline_file.EMPTY
    if args.since and not args.git:
        raise UsageError("--since needs --git")
    annotate = None
    if args.git:
        result, annotate = _scan_history(args, accepted)
    else:
        result = run_scanner(args, accepted)
        if args.state_dir:
            from migrator.config import load_config
            from migrator.report.record import record_scan

            record_scan(load_config(args.config), args.state_dir, result, args.paths or ["."])

    if args.format == "json":
        report = json_report.render(result, annotate)
    elif args.format == "sarif":
        report = sarif.render(result)
    else:
        stream_is_tty = sys.stdout.isatty() and not args.output
        color = args.color == "always" or (args.color == "auto" and stream_is_tty and "NO_COLOR" not in os.environ)
        width = shutil.get_terminal_size().columns if stream_is_tty else None
        shown = result
        if annotate is not None:  # name the commit that introduced each finding
            shown = ScanResult([replace(f, path=f"{annotate(f)['commit'][:12]}:{f.path}") for f in result.findings],
                               result.errors, result.stats)
        report = table.render(shown, color=color, width=width)
    if args.output:
        write_report(Path(args.output), report)
        if args.format != "table":
            print(table.summary(result), file=sys.stderr)
    else:
        sys.stdout.write(report)
    return exit_status(result)


def _scan_history(args: argparse.Namespace,
                  accepted: Baseline) -> tuple[ScanResult, Callable[[Finding], dict[str, Any]]]:
    from migrator.git.history import scan_history
    from migrator.git.repo import Git

    if len(args.paths) != 1:
        raise UsageError("--git scans one repository: give one PATH")
    git = Git(args.paths[0])
    history = scan_history(git, make_scanner(args, accepted), args.max_file_size, args.since, tuple(args.exclude))
    if args.state_dir:
        from migrator.config import load_config
        from migrator.report.record import record_history

        record_history(load_config(args.config), args.state_dir, args.paths[0], history, git.resolve("HEAD") or "")

    def annotate(finding: Finding) -> dict[str, Any]:
        commits = [c.to_dict() for c in history.introductions(finding)]
        return {"commit": commits[0]["commit"] if commits else "", "commits": commits}

    return history.result, annotate
