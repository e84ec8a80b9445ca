"""``vaultshift copy``: every secret from one configured backend to another (Vault <-> AWS)."""

from __future__ import annotations

import argparse
import sys

from migrator.cli.common import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "copy", help="copy every secret between two configured backends",
        description="Copy every secret (all fields and their metadata) under PREFIX from one configured "
                    "backend to another, so no team is locked in to one store. Secrets the destination "
                    "already holds are left alone, so a re-run changes nothing. Values are never printed.",
        epilog="exit status: 0 every secret copied or already there, 1 some secrets failed (one line each "
               "on stderr; the others were copied), 2 usage or configuration error, the source could not "
               "be listed, or a store-wide failure (authentication, sealed, unreachable) stopped the copy")
    parser.add_argument("--from", dest="source", required=True, metavar="NAME", help="backend to copy from")
    parser.add_argument("--to", dest="destination", required=True, metavar="NAME", help="backend to copy to")
    parser.add_argument("--prefix", default="", metavar="P", help="only paths that start with P (default: all)")
    parser.add_argument("--config", metavar="FILE",
                        help="configuration file (default: ./vaultshift.yml, else one vault backend from "
                             "VAULT_ADDR / VAULT_TOKEN)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be copied; write nothing")
    parser.set_defaults(handler=run_copy)


def run_copy(args: argparse.Namespace) -> int:
    from migrator.backends import BackendError, backends_from_config
    from migrator.backends.copy import Action, CopyOutcome, copy_secrets
    from migrator.config import ConfigError, load_config

    try:
        config = load_config(args.config)
        backends = backends_from_config(config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    for option, name in (("--from", args.source), ("--to", args.destination)):
        if name not in backends:
            raise UsageError(f"{option} {name!r}: no such backend in {config.source} "
                             f"(configured: {', '.join(sorted(backends))})")
    if args.source == args.destination:
        raise UsageError("--from and --to name the same backend")

    def show(outcome: CopyOutcome) -> None:
        if outcome.action is Action.FAILED:
            print(f"vaultshift: {outcome.describe()}", file=sys.stderr, flush=True)
        else:
            print(outcome.describe(), flush=True)

    try:
        report = copy_secrets(backends[args.source], backends[args.destination], args.prefix,
                              dry_run=args.dry_run, on_outcome=show)
    except BackendError as exc:
        raise UsageError(str(exc)) from None
    print(report.summary(args.dry_run))
    if report.stopped:
        print("vaultshift: error: the copy stopped: the other secrets were not attempted", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_FINDINGS if report.failed else EXIT_CLEAN
