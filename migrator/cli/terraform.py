"""``vaultshift terraform install-provider``: the ``vaultshift`` Terraform provider into a local
filesystem mirror, and a CLI configuration that points Terraform at it (a thin adapter over
:mod:`migrator.terraform.install`). Nothing is downloaded: the provider is this installation's
Python running ``migrator.terraform.provider``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from migrator.cli.common import EXIT_CLEAN

DEFAULT_MIRROR = "~/.terraform.d/vaultshift-mirror"
DEFAULT_CLI_CONFIG = "~/.terraform.d/vaultshift.tfrc"


def add_parser(sub: argparse._SubParsersAction) -> None:
    terraform = sub.add_parser("terraform", help="the vaultshift Terraform provider",
                               description="Terraform support: install the vaultshift provider offline.")
    actions = terraform.add_subparsers(dest="action", metavar="ACTION")
    install = actions.add_parser(
        "install-provider", help="put the vaultshift provider in a local filesystem mirror",
        description="Write the provider executable into a filesystem mirror "
                    "(registry.terraform.io/vaultshift/vaultshift/VERSION/PLATFORM/) and a Terraform CLI "
                    "configuration that installs vaultshift/* from it and everything else as usual; then "
                    "export TF_CLI_CONFIG_FILE=<that file> and run terraform init.")
    install.add_argument("--mirror", default=DEFAULT_MIRROR, metavar="DIR",
                         help=f"the filesystem mirror (default {DEFAULT_MIRROR})")
    install.add_argument("--cli-config", default=DEFAULT_CLI_CONFIG, metavar="FILE",
                         help=f"the Terraform CLI configuration to write (default {DEFAULT_CLI_CONFIG})")
    install.set_defaults(handler=run_install)


def run_install(args: argparse.Namespace) -> int:
    from migrator.terraform.install import install_provider, write_cli_config

    mirror = Path(args.mirror).expanduser()
    executable = install_provider(mirror)
    config = Path(args.cli_config).expanduser()
    config.parent.mkdir(parents=True, exist_ok=True)
    write_cli_config(config, mirror)
    print(f"installed {executable}", file=sys.stderr)
    print(f"export TF_CLI_CONFIG_FILE={config}")
    return EXIT_CLEAN
