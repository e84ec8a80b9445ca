"""``vaultshift put PATH KEY``: a developer adds or replaces one secret through a write-only policy,
then pastes the printed reference into config (a thin adapter over migrator.access.selfservice).

    vaultshift put PATH KEY [--backend NAME] [--config FILE] [--style STYLE] [--replace]

The value comes from a hidden prompt, asked twice, when stdin is a terminal, else from stdin (one
trailing newline removed, at most 64 KiB). No option takes it as an argument: arguments land in
shell history and process lists. Stdout gets only the references; the summary goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING

from migrator.cli.common import EXIT_CLEAN, EXIT_ERROR, UsageError

if TYPE_CHECKING:
    from migrator.access.selfservice import PutResult
    from migrator.plan.models import SecretRef

STYLES = ("lookup", "agent", "env", "terraform", "all")
TITLES = {"lookup": "Ansible (vars, inventories, templates)", "agent": "Vault/OpenBao agent template (.ctmpl)",
          "env": "Vault/OpenBao agent, a .env variable (env_template block)", "terraform": "Terraform"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "put", help="write one secret through your (write-only) policy, print the reference to paste",
        description="Store a secret's value as KEY of the secret at PATH, through your own token or "
                    "credentials (a team's write-only policy is enough: nothing is read back), then print the "
                    "references that read it. The value is asked for twice at a hidden prompt when stdin is a "
                    "terminal, else read from stdin (one trailing newline removed, at most 64 KiB): "
                    "printf '%s' \"$VALUE\" | vaultshift put apps/shop/api token. There is no option to give "
                    "the value as an argument: arguments end up in shell history and process lists.",
        epilog="Vault/OpenBao: KEY is merged into the secret's other keys on the server. Secrets Manager: a new "
               "secret is created; an existing one is refused (merging needs reading it) unless --replace. "
               "exit status: 0 written; 2 error (nothing written)")
    parser.add_argument("path", metavar="PATH", help="the secret's path (below the backend's mount and prefix)")
    parser.add_argument("key", metavar="KEY", help="the key inside the secret")
    parser.add_argument("--backend", metavar="NAME", help="a backend of the configuration (default: its default)")
    parser.add_argument("--config", metavar="FILE",
                        help="configuration file (default: ./vaultshift.yml, else a vault backend from "
                             "VAULT_ADDR / VAULT_TOKEN)")
    parser.add_argument("--style", choices=STYLES, default="all",
                        help="which reference to print (default all; one style prints it bare, for scripts)")
    parser.add_argument("--replace", action="store_true",
                        help="make KEY the secret's only key (needed to write to an existing Secrets Manager secret)")
    parser.set_defaults(handler=run_put)


def read_value(ref: SecretRef) -> str:
    """The value: from a hidden prompt asked twice (stdin a terminal), else all of stdin."""
    from migrator.access.selfservice import MAX_VALUE_BYTES

    if sys.stdin.isatty():
        import getpass

        try:
            first = getpass.getpass(f"Value for {ref} (not shown): ")
            second = getpass.getpass("Again, to confirm: ")
        except EOFError:
            raise UsageError(f"{ref}: no value entered; nothing written") from None
        if first != second:
            raise UsageError(f"{ref}: the two entries differ; nothing written")
        return first
    data = sys.stdin.buffer.read(MAX_VALUE_BYTES + 3)
    data = data[:-2] if data.endswith(b"\r\n") else data[:-1] if data.endswith(b"\n") else data
    if len(data) > MAX_VALUE_BYTES:
        raise UsageError(f"{ref}: the value on stdin is longer than {MAX_VALUE_BYTES // 1024} KiB; nothing written")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{ref}: the value on stdin is not UTF-8 text; nothing written") from None


def run_put(args: argparse.Namespace) -> int:
    from migrator.access.selfservice import PutError, check_target, kv_mount, paste_references, put_secret
    from migrator.backends.base import BackendError
    from migrator.config import load_config
    from migrator.session.options import choose_backend

    config = load_config(args.config)
    choice = choose_backend({"config": args.config, "backend": args.backend})
    backend = choice.build()
    try:
        ref = check_target(backend.name, args.path, args.key)
        mount = kv_mount(backend)
        if args.style in ("agent", "env") and mount is None:
            raise UsageError(f"--style {args.style}: the agent reads Vault/OpenBao only; backend {backend.name!r} is "
                             f"{backend.type}")
        references = paste_references(ref, config.default_backend, mount)
        if args.style == "env" and "env" not in references:
            raise UsageError(f"--style env: {ref.field!r} does not make an environment variable name")
        value = read_value(ref)
        result = put_secret(backend, args.path, args.key, value, replace=args.replace)
    except (PutError, BackendError) as exc:
        print(f"vaultshift: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        with contextlib.suppress(BackendError):  # nothing to report: the put's own outcome is what counts
            backend.close()
    _report(result, references, args.style)
    return EXIT_CLEAN


def _report(result: PutResult, references: dict[str, str], style: str) -> None:
    if style != "all":
        print(references[style])
    else:
        print("\n\n".join(f"# {TITLES[name]}:\n{text}" for name, text in references.items()))
    print(f"{result.action} {result.ref} in {result.ref.backend}: version {result.version}", file=sys.stderr)
    if result.note:
        print(f"vaultshift: note: {result.note}", file=sys.stderr)
