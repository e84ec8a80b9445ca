"""``python -m migrator.session --socket PATH --run-pid PID --run-started TICKS``: a run's session
server (started by the lookup plugin; see :mod:`migrator.session.server`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from migrator.session.server import DEFAULT_IDLE, serve
from migrator.session.wire import Run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m migrator.session", description=__doc__)
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--run-pid", type=int, required=True)
    parser.add_argument("--run-started", required=True)
    parser.add_argument("--idle", type=float, default=DEFAULT_IDLE, help="seconds without a request before exiting")
    args = parser.parse_args(argv)
    try:
        serve(args.socket, Run(args.run_pid, args.run_started), idle=args.idle)
    except OSError as exc:
        print(f"vaultshift session: {args.socket}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
