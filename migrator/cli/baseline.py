"""``vaultshift baseline``: accept reviewed findings so that scans and hooks report only new ones."""

from __future__ import annotations

import argparse
import sys

from migrator.cli.common import EXIT_CLEAN, EXIT_ERROR, add_source_options, check_output, run_scanner


def add_parser(sub: argparse._SubParsersAction) -> None:
    baseline = sub.add_parser("baseline", help="accept the current findings as reviewed",
                              description="Baselines hold fingerprints and logical locations, never values.")
    actions = baseline.add_subparsers(dest="action", metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="write a baseline of every current finding",
        description="Scan PATHs and write every finding's fingerprint, path, key path and rule to a "
                    "sorted JSON baseline; `vaultshift scan --baseline FILE` then reports only new ones.",
    )
    add_source_options(create)
    create.add_argument("-o", "--output", default=".vaultshift-baseline.json",
                        help="baseline file to write (default .vaultshift-baseline.json)")
    create.set_defaults(handler=run_baseline_create)


def run_baseline_create(args: argparse.Namespace) -> int:
    from migrator.discover import baseline as baseline_file
    from migrator.report import table

    check_output(args.output)
    result = run_scanner(args)
    entries = baseline_file.entries_from_findings(result.findings)
    baseline_file.save(args.output, entries)
    for error in result.errors:
        print(f"{error.severity}: {error.path}: {error.reason}", file=sys.stderr)
    print(f"{len(entries)} accepted finding{'s' if len(entries) != 1 else ''} written to {args.output} "
          f"({table.summary(result)})", file=sys.stderr)
    return EXIT_ERROR if any(error.fatal for error in result.errors) else EXIT_CLEAN
