"""``vaultshift status``: where the migration stands, phase by phase, and what blocks each phase
(a thin adapter over migrator.report.record, gates and status).

    vaultshift status [PLAN] [--state-dir DIR] [--json] [--html FILE]

With PLAN the KPIs are measured now (ages from the backends) and recorded as a data point first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from migrator.cli.common import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS

DEFAULT_STATE_DIR = ".vaultshift"


def add_parser(sub: argparse._SubParsersAction) -> None:
    status = sub.add_parser(
        "status", help="the migration's KPIs over time, each phase's gate and what blocks it",
        description="Read the migration's inventory (the state directory's, or tracking: url in the configuration) "
                    "and show the three phase gates with their criteria, the KPIs now and how they moved. With a "
                    "plan, measure the KPIs now (ages from the backends) and record them first.",
        epilog="exit status: 0 every phase done, 1 a phase is not done yet, 2 error")
    status.add_argument("plan", nargs="?", help="the migration plan: measure and record the KPIs now")
    status.add_argument("--state-dir", default=DEFAULT_STATE_DIR, metavar="DIR",
                        help=f"where the journal and the inventory live (default {DEFAULT_STATE_DIR}/ here)")
    status.add_argument("--config", metavar="FILE", help="backends and the tracking section (default ./vaultshift.yml)")
    status.add_argument("-i", "--inventory", metavar="FILE", help="Ansible inventory: hosts counted by their group")
    status.add_argument("--json", action="store_true", help="print the status as JSON for other tools")
    status.add_argument("--html", metavar="FILE", help="also write the self-contained HTML report with charts")
    status.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from migrator.backends import backends_from_config
    from migrator.config import load_config
    from migrator.plan import planfile
    from migrator.plan.inventory import load_inventory
    from migrator.report import status as render
    from migrator.report.record import record_progress, status
    from migrator.state.tracking import TrackingError

    config = load_config(args.config)
    if args.plan:
        plan = planfile.load(args.plan)
        inventory = load_inventory(args.inventory) if args.inventory else None
        groups = {host: inventory.group(host) or "ungrouped" for host in inventory.hosts} if inventory else None
        backends = backends_from_config(config)
        try:
            record_progress(config, args.state_dir, plan, "status", backends, groups)
        finally:
            for backend in backends.values():
                backend.close()
    try:
        phases, points = status(config, args.state_dir)
    except (TrackingError, ValueError) as exc:
        print(f"vaultshift: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.html:
        Path(args.html).write_text(render.html(phases, points), encoding="utf-8")
        print(f"vaultshift: report written to {args.html}", file=sys.stderr)
    if args.json:
        print(json.dumps(render.as_json(phases, points), indent=2, sort_keys=True))
    else:
        sys.stdout.write(render.terminal(phases, points))
    return EXIT_CLEAN if all(phase.done for phase in phases) else EXIT_FINDINGS
