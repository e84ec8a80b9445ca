"""``vaultshift access``: the access model of a migration (a thin adapter over migrator.access).

    vaultshift access plan PLAN [--inventory FILE] [--diff] [--output-dir DIR]
    vaultshift access apply PLAN [--inventory FILE]

``plan`` reads the server and says what ``apply`` would create or update (``--diff``: how;
``--output-dir``: every policy written as a file, for review); ``apply`` makes the changes,
all of them or none. Applying twice changes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrator.cli.common import EXIT_CLEAN, EXIT_FINDINGS

if TYPE_CHECKING:
    from migrator.access.model import AccessModel
    from migrator.backends.vault import VaultBackend
    from migrator.config import Config


def add_parser(sub: argparse._SubParsersAction) -> None:
    access = sub.add_parser(
        "access", help="least-privilege policies: apps read their own secrets, developers write only",
        description="From the migration plan: a policy per app reading exactly the paths its files reference, a "
                    "write-only policy per team of developers (create and update, never read), an operators' "
                    "policy, written to the Vault/OpenBao server all at once or not at all.",
        epilog="exit status: plan: 0 nothing to change, 1 changes pending; apply: 0 applied; 2 error")
    actions = access.add_subparsers(dest="action", metavar="ACTION")
    plan = actions.add_parser("plan", help="what apply would change (reads the server, changes nothing)")
    plan.add_argument("--diff", action="store_true", help="show each change as a unified diff")
    plan.add_argument("--output-dir", metavar="DIR",
                      help="also write every policy to DIR/vault/NAME.hcl and DIR/aws/NAME.json")
    _common(plan)
    plan.set_defaults(handler=run_plan)
    apply = actions.add_parser("apply", help="create and update the policies, all or none")
    _common(apply)
    apply.set_defaults(handler=run_apply)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", help="the migration plan (vaultshift plan -o FILE)")
    parser.add_argument("--config", metavar="FILE", help="backends and the access section (default ./vaultshift.yml)")
    parser.add_argument("-i", "--inventory", metavar="FILE", help="Ansible inventory, for host_group matches")
    parser.add_argument("--state-dir", default=".vaultshift", metavar="DIR",
                        help="the journal (default .vaultshift/ here): secrets phase 3 rotates are read from the "
                             "database engine, and their apps may read those credentials")


@contextlib.contextmanager
def _session(args: argparse.Namespace) -> Iterator[tuple[Config, AccessModel, VaultBackend | None, Any]]:
    """The configuration, the access model of the plan, the Vault backend (None without one) and
    an IAM client (None without AWS places); the backends are closed after. A backend's failure
    becomes an AccessError: one line, exit 2."""
    from migrator.access.engine import iam_client, load_model, vault_backend
    from migrator.access.model import AccessError
    from migrator.backends import backends_from_config
    from migrator.backends.base import BackendError
    from migrator.config import load_config
    from migrator.plan import planfile
    from migrator.plan.inventory import load_inventory

    config = load_config(args.config)
    inventory = load_inventory(args.inventory) if args.inventory else None
    model = load_model(planfile.load(args.plan), config, inventory, args.state_dir)
    backends = backends_from_config(config)
    try:
        yield config, model, vault_backend(model.settings, backends), iam_client(model, config)
    except BackendError as exc:
        raise AccessError(str(exc)) from None
    finally:
        for store in backends.values():
            store.close()


def run_plan(args: argparse.Namespace) -> int:
    from migrator.access.aws_policies import aws_policies, policy_text
    from migrator.access.engine import plan_access, policies_of

    with _session(args) as (config, model, backend, iam):
        if args.output_dir:
            for kind, suffix, documents in (
                    ("vault", "hcl", policies_of(model, config) if backend is not None else {}),
                    ("aws", "json", {n: policy_text(d) for n, d in aws_policies(model, config).items()})):
                if documents:
                    folder = Path(args.output_dir) / kind
                    folder.mkdir(parents=True, exist_ok=True)
                    for name, text in documents.items():
                        (folder / f"{name}.{suffix}").write_text(text, encoding="utf-8")
        result = plan_access(model, config, backend, iam)
    for change in result.changes:
        print(f"{change.action:<10} {change.label}")
        if args.diff and change.action != "unchanged":
            print(change.diff(), end="")
    pending = len(result.pending)
    print(f"{len(model.apps)} app(s), {len(model.teams)} team(s): {pending} change(s) pending", file=sys.stderr)
    return EXIT_FINDINGS if pending else EXIT_CLEAN


def run_apply(args: argparse.Namespace) -> int:
    from migrator.access.engine import apply_access

    with _session(args) as (config, model, backend, iam):
        result = apply_access(model, config, backend, iam)
    for change in result.applied:
        print(f"{'created' if change.action == 'create' else 'updated':<10} {change.label}")
    print(f"{len(result.applied)} change(s) applied, {len(result.changes) - len(result.applied)} unchanged",
          file=sys.stderr)
    return EXIT_CLEAN
