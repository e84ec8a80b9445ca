"""The ``vaultshift`` command: a thin adapter that turns arguments into engine calls.

Each sub-command lives in its own module (``scan``, ``baseline``, ``guard``); this one builds the
parser and maps the engine's user-facing errors to one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from migrator import __version__
from migrator.cli import access, apply, baseline, copy, demo, guard, plan, put, rotate, scan, status, terraform
from migrator.cli.common import EXIT_ERROR, UsageError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaultshift",
        description="Get plaintext credentials out of code and configs, into a vault, and keep them out.",
    )
    parser.add_argument("--version", action="version", version=f"vaultshift {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    scan.add_parser(sub)
    baseline.add_parser(sub)
    guard.add_parser(sub)
    copy.add_parser(sub)
    plan.add_parser(sub)
    apply.add_parser(sub)
    rotate.add_parser(sub)
    terraform.add_parser(sub)
    access.add_parser(sub)
    put.add_parser(sub)
    status.add_parser(sub)
    demo.add_parser(sub)
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        # ``vaultshift guard`` without a hook: the help of the deepest command given.
        chosen = parser
        for name in (args.command, getattr(args, "hook", None) or getattr(args, "action", None)):
            choices = _subcommands(chosen)
            if name and name in choices:
                chosen = choices[name]
        chosen.print_help(sys.stderr)
        return EXIT_ERROR
    from migrator.access.model import AccessError
    from migrator.config import ConfigError
    from migrator.discover.baseline import BaselineError
    from migrator.fingerprint import FingerprintKeyError
    from migrator.git.repo import GitError
    from migrator.guard.prereceive import PushInputError
    from migrator.plan.planfile import PlanFileError
    from migrator.rotate.errors import RotationError
    from migrator.state.journal import JournalError

    one_line_errors = (UsageError, BaselineError, FingerprintKeyError, GitError, PushInputError, ConfigError,
                       PlanFileError, JournalError, RotationError, AccessError)
    try:
        return int(args.handler(args))
    except one_line_errors as exc:
        print(f"vaultshift: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("vaultshift: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
