"""``vaultshift baseline``: accept reviewed findings so that scans and hooks report only new ones.

``create`` writes one, ``update`` re-scans and keeps it current, ``audit`` says where each
accepted secret is now (or that it is gone), ``import`` converts a detect-secrets baseline or a
gitleaks report. The engine is in migrator.discover.baseline and baseline_import.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from migrator.cli.common import (
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    UsageError,
    add_source_options,
    make_fingerprinter,
    run_scanner,
)
from migrator.discover.baseline import DEFAULT_FILE

if TYPE_CHECKING:
    from migrator.discover.baseline import BaselineEntry
    from migrator.discover.models import Finding, ScanResult

_MISSING_SHOWN = 10  # import: how many not-found entries to name


def add_parser(sub: argparse._SubParsersAction) -> None:
    baseline = sub.add_parser(
        "baseline", help="accept reviewed findings so that scans and hooks report only new ones",
        description="A baseline holds each accepted secret's fingerprint, file and key path (never a line "
                    "number, never a value) and the id of the fingerprint key that made it.")
    actions = baseline.add_subparsers(dest="action", metavar="ACTION")

    create = actions.add_parser(
        "create", help="write a baseline of every current finding",
        description="Scan PATHs and write every finding's fingerprint, path, key path and rule to a "
                    "sorted JSON baseline; `vaultshift scan --baseline FILE` then reports only new ones.")
    add_source_options(create)
    create.add_argument("-o", "--output", default=DEFAULT_FILE, metavar="FILE",
                        help=f"baseline file to write (default {DEFAULT_FILE})")
    create.set_defaults(handler=run_create)

    update = actions.add_parser(
        "update", help="re-scan: keep entries still found, add new findings, drop the stale",
        description="Scan PATHs (the same ones the baseline was made from): keep the entries that still "
                    "match a finding (and their reasons), add every finding no entry accepts, and drop the "
                    "entries that match nothing. The file is rewritten only when it changes.",
        epilog="exit status: 0 done, 2 usage error or content left unscanned (entries in files not "
               "scanned are kept)")
    add_source_options(update)
    update.add_argument("-b", "--baseline", default=DEFAULT_FILE, metavar="FILE",
                        help=f"baseline file to update, created when missing (default {DEFAULT_FILE})")
    update.add_argument("--keep-stale", action="store_true", help="keep entries that no longer match anything")
    update.set_defaults(handler=run_update)

    audit = actions.add_parser(
        "audit", help="show where each accepted secret is now, and which entries are stale",
        description="Scan PATHs and list each baseline entry: present (at path:line, with its kind and a "
                    "redacted hint) or stale (nothing matches it any more).",
        epilog="exit status: 0 no stale entries (or --prune removed them), 1 stale entries, "
               "2 usage error or content left unscanned")
    add_source_options(audit)
    audit.add_argument("-b", "--baseline", default=DEFAULT_FILE, metavar="FILE",
                       help=f"baseline file to audit (default {DEFAULT_FILE})")
    audit.add_argument("-f", "--format", choices=("table", "json"), default="table",
                       help="output format (default table)")
    audit.add_argument("--prune", action="store_true", help="rewrite the baseline without its stale entries")
    audit.add_argument("--reason", nargs=2, action="append", default=[], metavar=("ENTRY", "TEXT"),
                       help="record why an entry is accepted; ENTRY is a path, path:key_path or fingerprint "
                            "(repeatable; the text must not contain the secret)")
    audit.set_defaults(handler=run_audit)

    imports = actions.add_parser(
        "import", help="convert a detect-secrets baseline or a gitleaks report",
        description="Scan PATHs and accept the findings the other tool's file points at: detect-secrets "
                    "entries by the SHA-1 of the value in the same file, gitleaks findings by value in the "
                    "same file (a redacted report: by file and line). Run it where the other tool ran.")
    imports.add_argument("--from", dest="source", required=True, metavar="{detect-secrets,gitleaks}",
                         help="the tool that wrote SOURCE_FILE")
    imports.add_argument("source_file", metavar="SOURCE_FILE",
                         help="detect-secrets baseline (.secrets.baseline) or gitleaks JSON report")
    add_source_options(imports)
    imports.add_argument("-o", "--output", default=DEFAULT_FILE, metavar="FILE",
                         help=f"baseline file to write (default {DEFAULT_FILE})")
    imports.set_defaults(handler=run_import)


# -- shared ------------------------------------------------------------------------------------------


def _check_writable(path: str) -> None:
    parent = Path(path).parent
    if not parent.is_dir():
        raise UsageError(f"{path}: cannot write baseline: no such directory {str(parent)!r}")


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _report_errors(result: ScanResult) -> int:
    """Print the scan's errors; EXIT_ERROR when content was left unscanned."""
    for error in result.errors:
        print(f"{error.severity}: {error.path}: {error.reason}", file=sys.stderr)
    return EXIT_ERROR if any(error.fatal for error in result.errors) else EXIT_CLEAN


def _unscanned(result: ScanResult) -> frozenset[str]:
    return frozenset(error.path for error in result.errors if error.fatal)


def _entry_label(entry: BaselineEntry) -> str:
    return f"{entry.path} {entry.key_path or '*'} ({entry.rule or 'no rule'})"


def _finding_label(finding: Finding) -> str:
    return f"{finding.path}:{finding.span.line} {finding.key_path or '-'} {finding.kind} {finding.hint}"


# -- create --------------------------------------------------------------------------------------


def run_create(args: argparse.Namespace) -> int:
    from migrator.discover import baseline as baseline_file
    from migrator.report import table

    _check_writable(args.output)
    fingerprinter = make_fingerprinter(args)
    result = run_scanner(args, fingerprinter=fingerprinter)
    accepted = baseline_file.Baseline.from_findings(result.findings, fingerprinter.key_id)
    baseline_file.save(args.output, accepted)
    status = _report_errors(result)
    print(f"{_plural(len(accepted), 'accepted finding')} written to {args.output} ({table.summary(result)})",
          file=sys.stderr)
    return status


# -- update --------------------------------------------------------------------------------------


def run_update(args: argparse.Namespace) -> int:
    from migrator.discover import baseline as baseline_file

    fingerprinter = make_fingerprinter(args)
    missing = not os.path.lexists(args.baseline)  # a first update creates the baseline
    current = baseline_file.EMPTY if missing else baseline_file.load(args.baseline, key_id=fingerprinter.key_id)
    result = run_scanner(args, fingerprinter=fingerprinter)
    status = _report_errors(result)
    done = baseline_file.update(current, result.findings, fingerprinter.key_id, args.keep_stale, _unscanned(result))
    written = baseline_file.save(args.baseline, done.baseline)

    added = {entry.identity for entry in done.added}
    for finding in result.findings:
        if (finding.fingerprint, finding.path, finding.key_path) in added:
            print(f"  added    {_finding_label(finding)}", file=sys.stderr)
    for entry in done.removed:
        print(f"  removed  {_entry_label(entry)}", file=sys.stderr)
    for entry in done.unverified:
        print(f"  kept, not scanned  {_entry_label(entry)}", file=sys.stderr)
    stale_kept = f", {len(done.stale)} stale kept" if args.keep_stale and done.stale else ""
    unverified = f", {len(done.unverified)} kept unverified (file not scanned)" if done.unverified else ""
    outcome = f"written to {args.baseline}" if written else f"{args.baseline} unchanged"
    print(f"{len(done.added)} added, {len(done.kept)} kept, {len(done.removed)} removed{stale_kept}{unverified}; "
          f"{outcome}", file=sys.stderr)
    return status


# -- audit ---------------------------------------------------------------------------------------


def _select(entries: tuple[BaselineEntry, ...], selector: str) -> list[BaselineEntry]:
    return [e for e in entries if selector in (e.fingerprint, e.path, f"{e.path}:{e.key_path}")]


def run_audit(args: argparse.Namespace) -> int:
    from migrator.discover import baseline as baseline_file
    from migrator.report import audit as audit_report

    fingerprinter = make_fingerprinter(args)
    current = baseline_file.load(args.baseline, key_id=fingerprinter.key_id)
    reasons = [(selector, baseline_file.check_reason(text)) for selector, text in args.reason]
    for selector, _ in reasons:
        if not _select(current.entries, selector):
            raise UsageError(f"--reason {selector!r}: no entry of {args.baseline} has that path, "
                             "path:key_path or fingerprint")
    leaked: set[str] = set()

    def no_secret_in_reasons(finding: Finding, value: str) -> None:
        if len(value) >= 4:
            leaked.update(selector for selector, text in reasons if value in text)

    result = run_scanner(args, fingerprinter=fingerprinter, value_observer=no_secret_in_reasons if reasons else None)
    if leaked:
        raise UsageError(f"--reason {sorted(leaked)[0]!r}: the text contains a secret value; "
                         "say why it is accepted, never the value (the baseline is unchanged)")
    status = _report_errors(result)

    entries = list(current.entries)
    for selector, text in reasons:
        chosen = set(_select(current.entries, selector))
        entries = [entry.with_reason(text) if entry in chosen else entry for entry in entries]
    baseline = current.replace(entries)
    items = baseline_file.audit(baseline, result.findings, _unscanned(result))
    new_findings = sum(1 for f in result.findings if not baseline.accepts_finding(f))
    stale = [item.entry for item in items if item.status == baseline_file.STALE]
    if args.prune and stale:
        baseline = baseline.replace(item.entry for item in items if item.status != baseline_file.STALE)
    if reasons or (args.prune and stale):
        baseline_file.save(args.baseline, baseline if baseline.key_id else
                           baseline_file.Baseline(baseline.entries, fingerprinter.key_id))

    pruned = len(stale) if args.prune else 0
    if args.format == "json":
        sys.stdout.write(audit_report.render_json(items, new_findings, pruned))
    else:
        sys.stdout.write(audit_report.render_table(items, new_findings))
        if pruned:
            print(f"{_plural(pruned, 'stale entry', 'stale entries')} removed from {args.baseline}")
        elif stale:
            print("Remove stale entries with `vaultshift baseline audit --prune` (or `baseline update`).")
    if status != EXIT_CLEAN:
        return status
    return EXIT_FINDINGS if stale and not args.prune else EXIT_CLEAN


# -- import --------------------------------------------------------------------------------------


def run_import(args: argparse.Namespace) -> int:
    from migrator.discover import baseline as baseline_file
    from migrator.discover import baseline_import

    if args.source not in baseline_import.SOURCES:
        raise UsageError(f"--from {args.source!r}: cannot import from it; use {' or '.join(baseline_import.SOURCES)}")
    _check_writable(args.output)
    records = baseline_import.read(args.source, args.source_file)
    fingerprinter = make_fingerprinter(args)
    matcher = baseline_import.Matcher(records, args.paths)
    result = run_scanner(args, fingerprinter=fingerprinter, value_observer=matcher)
    status = _report_errors(result)
    imported = matcher.result(result.findings, fingerprinter.key_id)
    baseline_file.save(args.output, imported.baseline)

    line = f"{len(imported.matched)} imported"
    if imported.missing:
        shown = ", ".join(record.location for record in imported.missing[:_MISSING_SHOWN])
        more = len(imported.missing) - _MISSING_SHOWN
        line += (f", {len(imported.missing)} not found in the current tree: {shown}"
                 + (f" (and {more} more)" if more > 0 else ""))
    print(line, file=sys.stderr)
    print(f"{_plural(len(imported.baseline), 'baseline entry', 'baseline entries')} written to {args.output}",
          file=sys.stderr)
    if imported.uncovered:
        print(f"{_plural(imported.uncovered, 'current finding')} not in the imported baseline: review "
              f"{'it' if imported.uncovered == 1 else 'them'} with `vaultshift scan --baseline {args.output}`",
              file=sys.stderr)
    return status
