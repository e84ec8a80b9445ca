"""``vaultshift plan``: what will be stored where, and what each occurrence becomes => plan.json.

The engine is ``migrator.plan``; this module turns arguments into a Planner and writes the plan
and its summary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from migrator.cli.common import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, UsageError, add_source_options

DEFAULT_OUTPUT = "plan.json"


def add_parser(sub: argparse._SubParsersAction) -> None:
    plan = sub.add_parser(
        "plan", help="plan the move into the vault: group identical values, name, route, pick reference styles",
        description="Scan PATHs and write a plan (JSON, no values in it): each distinct secret once, with its "
                    "vault path and field, its backend, and every occurrence (file, byte span, file digest, "
                    "reference style). A summary table is printed for review.",
        epilog="exit status: 0 plan written, 1 plan written but nothing to migrate, 2 usage, configuration or "
               "inventory error, or content left unscanned (the plan is still written and names each such "
               "file in its errors)")
    add_source_options(plan)
    for action in plan._actions:
        if action.dest == "paths":
            action.metavar = "PATH|HOST=PATH"
            action.help = ("files or directories (default: .); HOST=PATH says the tree at PATH is the files of "
                           "inventory host HOST")
        elif action.dest == "min_confidence":
            # Moving a value into the vault rewrites its files: bare UUIDs (low) only when asked for.
            action.default = "medium"
            action.help = "plan only findings at least this sure (default medium: bare UUIDs are left out)"
    plan.add_argument("-c", "--config", metavar="FILE",
                      help="configuration: backends, routes, naming, styles (default: ./vaultshift.yml when "
                           "present, else one Vault backend from the environment)")
    plan.add_argument("-i", "--inventory", metavar="FILE",
                      help="Ansible inventory (YAML or INI): hosts and their groups, for host_group routes and "
                           "for directories named after hosts")
    plan.add_argument("-o", "--output", default=DEFAULT_OUTPUT, metavar="FILE",
                      help=f"plan file to write (default {DEFAULT_OUTPUT}); '-' prints the plan JSON on standard "
                           "output and the summary on standard error")
    plan.add_argument("--baseline", metavar="FILE",
                      help="leave out findings this baseline accepts (see `vaultshift baseline`)")
    plan.set_defaults(handler=run_plan)


def run_plan(args: argparse.Namespace) -> int:
    from migrator.cli.common import make_keyed, make_scanner
    from migrator.config import ConfigError, load_config
    from migrator.discover import baseline as baseline_file
    from migrator.plan import planfile, summary
    from migrator.plan.inventory import InventoryError, load_inventory
    from migrator.plan.planner import Planner, SourceError, parse_source
    from migrator.report.progress import ProgressBar

    if args.output != "-" and not Path(args.output).parent.is_dir():
        raise UsageError(f"{args.output}: cannot write plan: no such directory {str(Path(args.output).parent)!r}")
    try:
        config = load_config(args.config)
        inventory = load_inventory(args.inventory) if args.inventory else None
        sources = [parse_source(path) for path in args.paths]
        fingerprinter, digester = make_keyed(args)
        accepted = baseline_file.load(args.baseline, key_id=fingerprinter.key_id) if args.baseline else None
        planner = Planner(make_scanner(args, accepted, fingerprinter), digester, config,
                          fingerprinter.key_id, inventory, args.inventory)
        progress = ProgressBar() if not args.no_progress and sys.stderr.isatty() else None
        try:
            outcome = planner.plan(sources, progress)
        finally:
            if progress is not None:
                progress.close()
    except (ConfigError, InventoryError, SourceError) as exc:
        raise UsageError(str(exc)) from None

    report = summary.render(outcome.plan, outcome.stats)
    if args.output == "-":
        sys.stdout.write(planfile.dumps(outcome.plan))
        sys.stderr.write(report)
    else:
        try:
            planfile.save(args.output, outcome.plan)
        except planfile.PlanFileError as exc:
            raise UsageError(str(exc)) from None
        sys.stdout.write(report + f"plan written to {args.output}\n")
    if outcome.incomplete:
        return EXIT_ERROR
    return EXIT_CLEAN if outcome.plan.secrets else EXIT_FINDINGS
