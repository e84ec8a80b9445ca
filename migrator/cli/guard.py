"""``vaultshift guard``: the commit and push hooks, and their installer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from migrator.cli.common import EXIT_CLEAN, EXIT_FINDINGS, parse_size
from migrator.discover.walker import DEFAULT_MAX_FILE_SIZE

if TYPE_CHECKING:
    from migrator.discover.scanner import Scanner

BASELINE_NAME = ".vaultshift-baseline.json"
DEFAULT_BUDGET = 5.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    guard = sub.add_parser("guard", help="git hooks that block commits and pushes carrying secrets",
                           description="Block commits (pre-commit) and pushes (pre-receive) that add secrets.")
    hooks = guard.add_subparsers(dest="hook", metavar="HOOK")
    commit = hooks.add_parser(
        "pre-commit", help="scan the staged changes; exit 1 blocks the commit",
        description="Scan what the index adds to HEAD (staged lines only) and block the commit when it "
                    "adds a secret. Run from a work tree, as git runs pre-commit hooks.",
        epilog="exit status: 0 commit may proceed, 1 secrets found (commit blocked), 2 error")
    _add_hook_options(commit)
    commit.set_defaults(handler=run_pre_commit)

    receive = hooks.add_parser(
        "pre-receive", help="server hook: scan what a push adds; exit 1 rejects the push",
        description="Read 'OLD NEW REF' lines on stdin (as git runs pre-receive hooks in the server "
                    "repository), scan the commits the push adds and reject it when they add a secret.",
        epilog="exit status: 0 push accepted, 1 rejected (secrets, or the time budget ran out under "
               "--on-timeout reject), 2 error")
    _add_hook_options(receive)
    receive.add_argument("--time-budget", type=float, default=DEFAULT_BUDGET, metavar="SECONDS",
                         help=f"stop scanning after this long (default {DEFAULT_BUDGET:g}; 0: no limit)")
    receive.add_argument("--on-timeout", choices=("reject", "allow"), default="reject",
                         help="what to do when the budget runs out (default reject)")
    receive.set_defaults(handler=run_pre_receive)

    inst = hooks.add_parser(
        "install", help="write the hook into a repository",
        description="Write a pre-commit hook (repository with a work tree) or a pre-receive hook (bare "
                    "repository) that runs this vaultshift. Honours core.hooksPath.")
    inst.add_argument("repo", nargs="?", default=".", help="repository (default .)")
    inst.add_argument("--hook", choices=("pre-commit", "pre-receive"),
                      help="which hook (default: pre-receive in a bare repository, else pre-commit)")
    inst.add_argument("--force", action="store_true",
                      help="replace a hook vaultshift did not write (kept as HOOK.pre-vaultshift)")
    inst.add_argument("--check", action="store_true", help="say what would change; write nothing")
    inst.add_argument("--state-dir", metavar="DIR",
                      help="also record the guard in the migration's inventory there (phase 1's gate)")
    inst.add_argument("--config", metavar="FILE", help="with --state-dir: the configuration (its tracking: section)")
    inst.set_defaults(handler=run_install)


def _add_hook_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", metavar="FILE",
                        help=f"accepted findings (default: {BASELINE_NAME} at the top of the work tree for "
                             "pre-commit, in each pushed commit's tree for pre-receive, when present)")
    parser.add_argument("--min-confidence", default="medium", choices=("low", "medium", "high"),
                        help="block only findings at least this sure (default medium: bare UUIDs do not block)")
    parser.add_argument("-e", "--exclude", action="append", default=[], metavar="PATTERN",
                        help="gitignore-style pattern of paths not to scan (repeatable; "
                             ".vaultshiftignore in the repository is honoured too)")
    parser.add_argument("--max-file-size", type=parse_size, default=DEFAULT_MAX_FILE_SIZE, metavar="SIZE",
                        help="skip (with a warning) blobs larger than this (default 20M)")
    parser.add_argument("--fingerprint-key-file", metavar="FILE",
                        help="HMAC key for fingerprints (default: $VAULTSHIFT_FINGERPRINT_KEY or the user key)")


def _scanner(args: argparse.Namespace, baseline: Path | tuple[str, bytes] | None) -> Scanner:
    """A scanner for the hook options; ``baseline`` is a file, or ``(name, text)`` read from git."""
    from migrator.cli.common import make_fingerprinter
    from migrator.discover import baseline as baseline_file
    from migrator.discover.models import Confidence
    from migrator.discover.scanner import Scanner, ScanOptions

    fingerprinter = make_fingerprinter(args)
    options = ScanOptions(min_confidence=Confidence.parse(args.min_confidence))
    if isinstance(baseline, Path):
        options.baseline = baseline_file.load(baseline, key_id=fingerprinter.key_id)
    elif baseline is not None:
        name, data = baseline
        options.baseline = baseline_file.loads(data.decode("utf-8", "replace"), name, key_id=fingerprinter.key_id)
    return Scanner(fingerprinter, options)


def _say(lines: list[str]) -> None:
    sys.stderr.write("".join(f"{line}\n" for line in lines))


def run_pre_commit(args: argparse.Namespace) -> int:
    from migrator.git.repo import Git
    from migrator.guard.messages import HOW_TO_FIX, finding_line
    from migrator.guard.precommit import scan_staged

    git = Git(".")
    git.check()
    baseline = Path(args.baseline) if args.baseline else None
    if baseline is None and not git.is_bare():
        candidate = git.top_level() / BASELINE_NAME
        baseline = candidate if candidate.is_file() else None
    result = scan_staged(git, _scanner(args, baseline), args.max_file_size, tuple(args.exclude))
    lines = [f"vaultshift: warning: {error}" for error in result.errors]
    if result.findings:
        count = len(result.findings)
        lines.append(f"vaultshift: commit blocked: {count} secret{'s' if count != 1 else ''} in staged changes")
        lines += [f"  {finding_line(f)}" for f in result.findings]
        lines += [*HOW_TO_FIX, "  (to bypass this once, which you should not: git commit --no-verify)"]
    _say(lines)
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN


def run_pre_receive(args: argparse.Namespace) -> int:
    from migrator.git.repo import Git
    from migrator.guard.messages import HOW_TO_FIX, finding_line
    from migrator.guard.prereceive import RefUpdate, parse_updates, scan_push

    git = Git(".")
    git.check()
    updates = parse_updates(sys.stdin.read())
    fixed = _scanner(args, Path(args.baseline)) if args.baseline else None
    plain: list[Scanner] = []

    def scanner_for(update: RefUpdate) -> Scanner:
        """--baseline FILE for every ref, else the baseline committed in the pushed tree."""
        if fixed is not None:
            return fixed
        spec = f"{update.new}:{BASELINE_NAME}"
        data = git.read_file(spec)
        if data is not None:
            return _scanner(args, (f"{update.ref}:{BASELINE_NAME}", data))
        if not plain:
            plain.append(_scanner(args, None))
        return plain[0]

    budget = args.time_budget if args.time_budget > 0 else None
    push = scan_push(git, updates, scanner_for, args.max_file_size, budget, tuple(args.exclude))
    lines = [f"vaultshift: warning: {error}" for error in push.errors]
    status = EXIT_CLEAN
    if push.findings:
        count = len(push.findings)
        lines.append(f"vaultshift: push rejected: {count} secret{'s' if count != 1 else ''} in the pushed commits")
        lines += [f"  {finding_line(p.finding, p.commit)} ({p.ref})" for p in push.findings]
        lines += [*HOW_TO_FIX, "  a secret in an earlier commit stays in history: rewrite those commits "
                               "(git rebase -i, or git commit --amend for the last one) before pushing again."]
        status = EXIT_FINDINGS
    if push.timed_out:
        scanned = f"{push.commits_scanned} of {push.commits_total} commits scanned"
        if args.on_timeout == "reject":
            lines.append(f"vaultshift: push rejected: the {args.time_budget:g} s time budget ran out ({scanned}); "
                         "policy on timeout is reject: push fewer commits at a time, or ask an admin")
            status = EXIT_FINDINGS
        else:
            lines.append(f"vaultshift: warning: the {args.time_budget:g} s time budget ran out ({scanned}); "
                         "policy on timeout is allow: the rest of this push was NOT scanned")
    _say(lines)
    return status


def run_install(args: argparse.Namespace) -> int:
    from migrator.git.repo import Git
    from migrator.guard.install import install

    path, name, changed = install(Git(args.repo), args.hook, args.force, check=args.check)
    if not changed:
        print(f"vaultshift: {name} hook already in place at {path}", file=sys.stderr)
    elif args.check:
        print(f"vaultshift: {name} hook would be written to {path}", file=sys.stderr)
    else:
        print(f"vaultshift: {name} hook written to {path}", file=sys.stderr)
    if args.state_dir and not args.check:
        from migrator.config import load_config
        from migrator.report.record import record_guard

        record_guard(load_config(args.config), args.state_dir, args.repo, name)
    return EXIT_CLEAN
