"""``vaultshift demo``: the three phases on a small fleet against a real OpenBao and PostgreSQL
started for the run (a thin adapter over migrator.demo)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from migrator.cli.common import EXIT_CLEAN, EXIT_ERROR


def add_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo", help="the three phases on a small fleet, against an OpenBao and a PostgreSQL started for the run",
        description="Start an OpenBao dev server and a PostgreSQL on loopback ports, lay out a small fleet and a git "
                    "repository with plaintext secrets, then run the three phases with the real commands: guard "
                    "(history scan, hooks that refuse a commit and a push), centralize (plan, apply with agent "
                    "renders checked, access policies), rotate (static rotation, then dynamic users). The KPIs are "
                    "shown after each phase. Everything is removed afterwards; no value is printed. Needs the demo "
                    "extra: pip install 'vaultshift[demo]'.",
        epilog="exit status: 0 done, 2 a step did not do what it should (named)")
    demo.add_argument("--report", metavar="FILE", default="vaultshift-demo-report.html",
                      help="where the HTML report goes (default ./vaultshift-demo-report.html)")
    demo.add_argument("--keep", metavar="DIR", help="copy the run's files (fleet, plan, journal) to DIR before "
                                                    "cleaning up")
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from migrator.demo.components import ComponentError
    from migrator.demo.run import DemoError, run_demo

    try:
        run_demo(keep=Path(args.keep) if args.keep else None, report_path=Path(args.report).resolve())
    except (DemoError, ComponentError) as exc:
        print(f"vaultshift demo: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_CLEAN
