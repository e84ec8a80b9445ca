"""``vaultshift rotate``: phase 3 over a migration plan, in waves (a thin adapter over migrator.rotate).

    vaultshift rotate plan PLAN [-o rotation.json]      what each secret is, its mode and wave
    vaultshift rotate enable PLAN --wave canary|NAME|all
    vaultshift rotate dynamic PLAN --wave canary|NAME|all
    vaultshift rotate rollback PLAN --wave NAME|all
    vaultshift rotate status PLAN                       where each secret stands, and its age

:func:`load_items` classifies a plan's secrets from this machine's files as the CLI does; the
Ansible collection's action classifies on each host instead and merges on the controller.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from migrator.cli.common import EXIT_CLEAN, EXIT_FINDINGS

if TYPE_CHECKING:
    from migrator.config import Config
    from migrator.plan.models import Plan
    from migrator.rotate.inventory import RotationItem
    from migrator.rotate.settings import RotationSettings
    from migrator.rotate.waves import WaveResult

DEFAULT_STATE_DIR = ".vaultshift"


def add_parser(sub: argparse._SubParsersAction) -> None:
    rotate = sub.add_parser(
        "rotate", help="phase 3: database passwords under the vault's rotation, then dynamic users, in waves",
        description="Classify each migrated secret, put database users under static roles of the vault's database "
                    "engine (the references switch to the rotating password), then to dynamic roles (a user per "
                    "consumer, gone with its lease), one wave of hosts at a time, each verified before the next; "
                    "a failed wave rolls back its own secrets and stops.",
        epilog="exit status: 0 done, 1 a wave failed (and was rolled back), 2 error")
    actions = rotate.add_subparsers(dest="action", metavar="ACTION")
    plan = actions.add_parser("plan", help="what each secret is, how it would rotate, in which wave (changes nothing)")
    plan.add_argument("-o", "--output", metavar="FILE", help="also write the rotation plan as JSON (no values)")
    _common(plan)
    plan.set_defaults(handler=run_plan)
    for name, text in (("enable", "static rotation: a static role takes over each database user; references "
                                  "switch to static-creds (Secrets Manager: staged rotation)"),
                       ("dynamic", "dynamic credentials: a role with the static user's grants; references switch "
                                   "to creds/ROLE"),
                       ("rollback", "undo the last step of each secret of the wave (dynamic -> static -> KV)")):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("--wave", required=True, metavar="canary|NAME|all",
                            help="the wave to run (all: every wave in order, stopping at the first that fails)")
        action.add_argument("--step", choices=("vault", "references", "finish"),
                            help="run one step only (default: all three). With dual-credential databases: "
                                 "vault, then references, then restart the agents, then finish (retires the old "
                                 "password), so no request fails during the switch")
        _common(action)
        action.set_defaults(handler=run_wave, rotation=name)
    status = actions.add_parser("status", help="where each secret stands (kv, static, dynamic, aws-staged, track)")
    _common(status)
    status.set_defaults(handler=run_status)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", help="the migration plan (vaultshift plan -o FILE) that apply carried out")
    parser.add_argument("--config", metavar="FILE", help="backends and the rotation section (default ./vaultshift.yml)")
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR, metavar="DIR",
                        help=f"where the journal lives (default {DEFAULT_STATE_DIR}/ here)")


def load_items(plan: Plan, config: Config) -> tuple[RotationSettings, list[RotationItem]]:
    """The rotation settings and every secret of ``plan`` classified, from the files on this machine."""
    from migrator.rewrite.atomic import read_exact
    from migrator.rotate.inventory import rotation_items
    from migrator.rotate.settings import rotation_settings

    settings = rotation_settings(config)
    return settings, rotation_items(plan, settings, config, read_exact)


def run_plan(args: argparse.Namespace) -> int:
    from migrator.config import load_config
    from migrator.plan import planfile

    plan = planfile.load(args.plan)
    config = load_config(args.config)
    settings, items = load_items(plan, config)
    hosts = sorted({h for i in items for h in i.hosts})
    for item in items:
        how = item.mode if not item.blocked else f"track ({item.blocked})"
        print(f"{item.wave:<10} {item.category:<9} {item.secret.ref!s:<40} {how}")
    counts = {mode: sum(i.mode == mode for i in items) for mode in ("static", "aws-staged", "track")}
    print(f"{len(items)} secrets: {counts['static']} to static rotation, {counts['aws-staged']} to staged rotation, "
          f"{counts['track']} tracked; waves {', '.join(settings.wave_names(hosts))}", file=sys.stderr)
    if args.output:
        from migrator.rewrite.atomic import write_atomic

        body = {"version": 1, "waves": settings.wave_names(hosts), "secrets": [i.to_dict() for i in items]}
        write_atomic(args.output, (json.dumps(body, indent=2) + "\n").encode("utf-8"))
    return EXIT_CLEAN


def run_wave(args: argparse.Namespace) -> int:
    from migrator.backends import backends_from_config
    from migrator.cli.common import UsageError
    from migrator.config import load_config
    from migrator.plan import planfile
    from migrator.rewrite.base import kv_mounts
    from migrator.rotate.inventory import in_wave
    from migrator.rotate.waves import STEPS, Rotator
    from migrator.state.journal import Journal

    plan = planfile.load(args.plan)
    config = load_config(args.config)
    settings, items = load_items(plan, config)
    order = settings.wave_names(sorted({h for i in items for h in i.hosts}))
    if args.wave != "all" and args.wave not in order:
        raise UsageError(f"--wave {args.wave}: no such wave (the waves: {', '.join(order)}, or all)")
    waves = order if args.wave == "all" else [args.wave]
    if args.rotation == "rollback":
        waves = list(reversed(waves))
    backends = backends_from_config(config)
    failed = False
    with Journal(args.state_dir) as journal:
        rotator = Rotator(settings, backends, journal, kv_mounts(config.backends), config.default_backend)
        for wave in waves:
            steps = (args.step,) if args.step else STEPS
            result = rotator.run(args.rotation, in_wave(items, wave, order), wave, steps=steps)
            report(result)
            if result.failed:
                failed = True
                break
    from migrator.report.record import record_progress

    record_progress(config, args.state_dir, plan, "rotate", states=False)  # ages and states: status PLAN
    for backend in backends.values():
        backend.close()
    return EXIT_FINDINGS if failed else EXIT_CLEAN


def report(result: WaveResult) -> None:
    for outcome in result.outcomes:
        detail = outcome.detail.removeprefix(f"{outcome.ref}: ")  # an error that names the secret already
        line = f"{result.wave}: {outcome.ref}: {outcome.action}" + (f": {detail}" if detail else "")
        print(line, file=sys.stderr if outcome.action == "failed" else sys.stdout)
    if result.rolled_back:
        print(f"{result.wave}: rolled back {len(result.rolled_back)} secret(s) switched by this wave: "
              f"{', '.join(result.rolled_back)}", file=sys.stderr)
    if result.agent_units:
        print(f"{result.wave}: restart the agents whose templates changed, so they render the switched references: "
              f"{' '.join(sorted(result.agent_units))}", file=sys.stderr)
    done = sum(o.action not in ("skipped", "failed") for o in result.outcomes)
    skipped = sum(o.action == "skipped" for o in result.outcomes)
    print(f"wave {result.wave} ({result.action}): {'FAILED, stopped' if result.failed else 'done'}; {done} switched, "
          f"{skipped} skipped ({result.seconds:.2f}s, run {result.run_id})", file=sys.stderr)


def run_status(args: argparse.Namespace) -> int:
    """Each secret's wave, mode and age; then the counts a migration lead tracks: how many are
    under rotation, how many are tracked only, how many are older than 90 days."""
    from migrator.backends import backends_from_config
    from migrator.config import load_config
    from migrator.plan import planfile
    from migrator.rotate.age import MAX_AGE_DAYS, secret_age
    from migrator.rotate.database import rotation_engine
    from migrator.state.journal import read_rotations

    plan = planfile.load(args.plan)
    config = load_config(args.config)
    _, items = load_items(plan, config)
    states = read_rotations(args.state_dir)
    backends = backends_from_config(config)
    engine = rotation_engine(config, backends)
    rows = []
    for item in items:
        state = states.get(item.secret.fingerprint)
        mode = state.mode if state else ("kv" if item.mode != "track" else "track")
        age = secret_age(item, state, backends, engine)
        shown = "?" if age.days is None else f"{age.days:.0f}d" + (" OLD" if age.too_old else "")
        rows.append((item, mode, age))
        print(f"{item.wave:<10} {item.secret.ref!s:<40} {mode:<10} {shown:<8} {item.category}"
              + (f"  ({age.note})" if age.note else ""))
    rotating = sum(mode in ("static", "dynamic", "aws-staged") for _, mode, _ in rows)
    old = sum(age.too_old for _, _, age in rows)
    unknown = sum(age.days is None for _, _, age in rows)
    print(f"{len(rows)} secrets: {rotating} rotating ({100 * rotating / max(len(rows), 1):.0f}%), "
          f"{sum(m == 'dynamic' for _, m, _ in rows)} dynamic, {sum(m == 'track' for _, m, _ in rows)} tracked only; "
          f"{old} older than {MAX_AGE_DAYS} days, {unknown} of unknown age", file=sys.stderr)
    for backend in backends.values():
        backend.close()
    return EXIT_CLEAN
