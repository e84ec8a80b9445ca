"""``vaultshift apply`` and ``vaultshift rollback``: thin adapters over migrator.apply.

:func:`check_plan_key` and :func:`make_executor` build an apply exactly as the CLI does; the
Ansible collection's actions use them too, with the files of a managed host instead of this
machine's (``files=``).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import gc
import sys
from typing import TYPE_CHECKING, Any

from migrator.cli.common import EXIT_CLEAN, EXIT_FINDINGS, make_keyed

if TYPE_CHECKING:
    from migrator.apply.executor import Executor
    from migrator.config import Config
    from migrator.fingerprint import Fingerprinter
    from migrator.plan.digest import FileDigester
    from migrator.plan.models import Plan
    from migrator.rewrite.base import AgentOptions
    from migrator.state.journal import Journal

DEFAULT_STATE_DIR = ".vaultshift"
DEFAULT_CONCURRENCY = 8


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return number


def add_parser(sub: argparse._SubParsersAction) -> None:
    apply = sub.add_parser(
        "apply", help="store each planned secret, read it back, rewrite every place that held it",
        description="Carry out a plan: per secret store -> read back and compare; per file rewrite the "
                    "spans to runtime references -> check it parses -> write atomically; journal every step. "
                    "Re-running after success changes nothing; after a crash it finishes the job.",
        epilog="exit status: 0 everything done, 1 some items not done (each named on stderr), 2 error")
    apply.add_argument("plan", help="the plan file (vaultshift plan -o FILE)")
    apply.add_argument("--agent-check", choices=("auto", "always", "never"), default="auto",
                       help="render each agent template with a real `bao agent` (or `vault agent`) before the file "
                            "is replaced (default auto: when the binary and $VAULT_TOKEN are there)")
    apply.add_argument("--concurrency", type=_positive, default=DEFAULT_CONCURRENCY, metavar="N",
                       help=f"store N secrets at a time, each on its own connection (default {DEFAULT_CONCURRENCY}; "
                            "1: one after another)")
    apply.add_argument("--check", action="store_true",
                       help="change nothing: read and check the files, look each secret up, rewrite and verify in "
                            "memory, and say what a run would store and rewrite")
    apply.add_argument("--diff", action="store_true",
                       help="print each file's rewrite as a unified diff, every secret shown as its redacted hint")
    _add_common(apply)
    apply.set_defaults(handler=run_apply)

    back = sub.add_parser(
        "rollback", help="restore the files an apply run rewrote, rendered from the vault",
        description="Restore every file an apply run rewrote to its original bytes, rebuilt from the values in "
                    "the vault (no plaintext copy is ever kept), and remove the files it generated.",
        epilog="exit status: 0 restored, 1 some files not restored (each named on stderr), 2 error")
    back.add_argument("run", nargs="?", help="the apply run to roll back (default: the last one)")
    back.add_argument("--concurrency", type=_positive, default=DEFAULT_CONCURRENCY, metavar="N",
                      help=f"read the run's secrets N at a time before restoring (default {DEFAULT_CONCURRENCY}; "
                           "1: each file reads its own)")
    _add_common(back)
    back.set_defaults(handler=run_rollback)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="backends and routes (default ./vaultshift.yml, else "
                                                         "Vault at $VAULT_ADDR with $VAULT_TOKEN, KV v2 mount secret)")
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR, metavar="DIR",
                        help=f"where the journal lives (default {DEFAULT_STATE_DIR}/ here)")
    parser.add_argument("--fingerprint-key-file", metavar="FILE",
                        help="HMAC key for fingerprints (default: $VAULTSHIFT_FINGERPRINT_KEY or the user key)")


def agent_options(config: Config) -> AgentOptions:
    """The ``agent:`` section of the configuration (address, binary, auth, render interval, ...).
    .env files get ``env_template`` + ``exec`` when ``command`` is given, else a rendered .env."""
    import os

    from migrator.config import ConfigError
    from migrator.rewrite.base import AgentOptions, AutoAuth

    raw: Any = config.extra.get("agent") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{config.source}: 'agent' must be a mapping")
    section = dict(raw)  # a copy: the options are taken out of it, and a config may be used twice
    vault = next((s for s in config.backends.values() if s.get("type", "vault") == "vault"), {})
    auth_section = section.pop("auth", None) or {}
    try:
        auth = AutoAuth(**auth_section)
        address = section.pop("address", None) or vault.get("addr") or os.environ.get("VAULT_ADDR") or \
            AgentOptions().address
        if "command" in section:
            section["command"] = tuple(section["command"])
        elif "env_mode" not in section:
            section["env_mode"] = "file"  # no application command to exec: the agent renders the .env
        return AgentOptions(address=address, auth=auth, **section)
    except TypeError as exc:
        raise ConfigError(f"{config.source}: agent: {exc}") from None


def check_plan_key(plan: Plan, fingerprinter: Fingerprinter, source: str) -> None:
    """UsageError (one line) when the plan was made with another fingerprint key."""
    from migrator.cli.common import UsageError

    if plan.fingerprint_key_id and plan.fingerprint_key_id != fingerprinter.key_id:
        raise UsageError(f"{source}: the plan was made with another fingerprint key "
                         f"(key id {plan.fingerprint_key_id}, yours is {fingerprinter.key_id})")


def make_executor(plan: Plan, config: Config, journal: Journal, fingerprinter: Fingerprinter, digest: FileDigester,
                  agent_check: str = "auto", concurrency: int = DEFAULT_CONCURRENCY, **options: Any) -> Executor:
    """The executor ``vaultshift apply`` runs: the configuration's backends, mounts, agent options
    and default backend, the agent render check ``agent_check`` asks for. ``options`` go to the
    Executor as they are (``files``, ``check``, ``preview``)."""
    from migrator.apply.executor import Executor
    from migrator.backends import backends_from_config
    from migrator.rewrite.base import kv_mounts

    return Executor(plan, backends_from_config(config), journal, fingerprinter, digest, kv_mounts(config.backends),
                    agent_options(config), config.default_backend, render_check=_render_check(agent_check, config),
                    concurrency=concurrency, **options)


def run_apply(args: argparse.Namespace) -> int:
    from migrator.config import load_config
    from migrator.plan import planfile
    from migrator.state.journal import Journal

    plan = planfile.load(args.plan)
    fingerprinter, digest = make_keyed(args)
    check_plan_key(plan, fingerprinter, args.plan)  # a UsageError: one line, exit status 2
    config = load_config(args.config)
    # The plan lives as long as the run: the collector need not walk it again and again (a large
    # plan's objects made the collector a few per cent of a run).
    gc.freeze()
    with Journal(args.state_dir) as journal:
        executor = make_executor(plan, config, journal, fingerprinter, digest, args.agent_check, args.concurrency,
                                 check=args.check, preview=args.diff)
        result = executor.apply()
    if not result.check:
        from migrator.report.record import record_progress

        # A data point only: no backends (its ages stay unknown rather than every secret being read
        # again, a third of a large apply) and no per-secret states; `vaultshift status PLAN` does both.
        record_progress(config, args.state_dir, plan, "apply", states=False)
    for backend in executor.backends.values():
        with contextlib.suppress(Exception):  # best effort: revoke what the run logged in for
            backend.close()
    for preview in result.previews:
        sys.stdout.writelines(difflib.unified_diff(preview.before.splitlines(keepends=True),
                                                   preview.after.splitlines(keepends=True),
                                                   f"{preview.path} (secrets as hints)", preview.path))
    for problem in result.problems:
        print(f"vaultshift: {problem}", file=sys.stderr)
    if result.check:
        print(f"check: {len(result.stored)} secrets would be stored ({result.secrets_already_stored} already there), "
              f"{len(result.rewritten)} files would be rewritten ({result.files_already_done} already done), "
              f"{len(result.problems)} problems; nothing was changed", file=sys.stderr)
    else:
        print(f"run {result.run_id}: {result.secrets_stored} secrets stored ({result.secrets_already_stored} already "
              f"there), {result.files_rewritten} files rewritten ({result.files_already_done} already done), "
              f"{len(result.problems)} problems ({result.seconds:.2f}s)", file=sys.stderr)
    return EXIT_CLEAN if result.ok else EXIT_FINDINGS


def _render_check(mode: str, config: Config) -> tuple[str, str] | None:
    """(address, token) for rendering agent templates, or None when the check is off."""
    import os
    import shutil

    from migrator.cli.common import UsageError
    from migrator.rewrite.verify import agent_binary

    if mode == "never":
        return None
    vault = next((s for s in config.backends.values() if s.get("type", "vault") == "vault"), {})
    address = str(vault.get("addr") or os.environ.get("VAULT_ADDR") or "")
    auth = vault.get("auth") or {}
    token = os.environ.get(str(auth.get("token_env") or "VAULT_TOKEN"), "")
    binary = agent_binary()
    found = os.path.isfile(binary) or shutil.which(binary) is not None
    if found and address and token:
        return address, token
    if mode == "always":
        raise UsageError("--agent-check always: needs the bao (or vault) binary, the server address and a token")
    return None


def run_rollback(args: argparse.Namespace) -> int:
    from migrator.apply.rollback import rollback
    from migrator.backends import backends_from_config
    from migrator.config import load_config
    from migrator.state.journal import Journal

    config = load_config(args.config)
    fingerprinter, digest = make_keyed(args)
    with Journal(args.state_dir) as journal:
        result = rollback(journal, backends_from_config(config), fingerprinter, digest, args.run,
                          concurrency=args.concurrency)
    for problem in result.problems:
        print(f"vaultshift: {problem}", file=sys.stderr)
    print(f"run {result.run_id}: rolled back {result.of_run}: {result.files_restored} files restored "
          f"({result.files_already_original} already original), {len(result.problems)} problems "
          f"({result.seconds:.2f}s)", file=sys.stderr)
    return EXIT_CLEAN if not result.problems else EXIT_FINDINGS
