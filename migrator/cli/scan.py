"""``vaultshift scan``: find plaintext credentials and report them as a table, JSON or SARIF."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from migrator.cli.common import (
    add_source_options,
    check_output,
    exit_status,
    load_baseline,
    run_scanner,
    write_report,
)


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
    scan.add_argument("--baseline", metavar="FILE", help="accepted fingerprints (vaultshift baseline JSON)")
    scan.set_defaults(handler=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    from migrator.discover import baseline as baseline_file
    from migrator.report import json_report, sarif, table

    check_output(args.output)
    accepted = load_baseline(args, args.baseline) if args.baseline else baseline_file.EMPTY
    result = run_scanner(args, accepted)

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
        write_report(Path(args.output), report)
        if args.format != "table":
            print(table.summary(result), file=sys.stderr)
    else:
        sys.stdout.write(report)
    return exit_status(result)
