"""Installing the ``vaultshift`` provider where Terraform finds it without a registry: an
executable in a filesystem mirror (unpacked layout), and a CLI configuration file naming that
mirror for ``registry.terraform.io/vaultshift/*`` only (other providers keep their usual source).

    mirror = Path("~/.terraform.d/vaultshift-mirror").expanduser()
    executable = install_provider(mirror)                 # .../vaultshift/vaultshift/0.1.0/linux_amd64/...
    write_cli_config(Path("vaultshift.tfrc"), mirror)     # then: export TF_CLI_CONFIG_FILE=vaultshift.tfrc

The executable is a small shell script running this Python (``python -m
migrator.terraform.provider``), so the provider uses the installed vaultshift and its
dependencies; it holds no setting and no credential. Terraform records its checksum in
``.terraform.lock.hcl``: after installing for another Python, run ``terraform init -upgrade``.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from pathlib import Path

from migrator.terraform import PROVIDER_NAMESPACE, PROVIDER_TYPE, REGISTRY_HOST, provider_version

_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def target_platform() -> str:
    """Terraform's name for this machine's platform (``linux_amd64``, ``darwin_arm64``, ...)."""
    machine = platform.machine().lower()
    return f"{platform.system().lower()}_{_ARCHITECTURES.get(machine, machine)}"


def provider_directory(mirror: Path, version: str | None = None) -> Path:
    """Where the provider's executable goes in ``mirror`` (the unpacked layout)."""
    return (mirror / REGISTRY_HOST / PROVIDER_NAMESPACE / PROVIDER_TYPE / (version or provider_version())
            / target_platform())


def launcher_script(python: str) -> str:
    """The provider executable: run ``python -m migrator.terraform.provider`` with Terraform's arguments."""
    return (f"#!/bin/sh\n# The vaultshift Terraform provider (written by vaultshift; runs {python}).\n"
            f"exec {shlex.quote(python)} -m migrator.terraform.provider \"$@\"\n")


def install_provider(mirror: Path, python: str | None = None, version: str | None = None) -> Path:
    """Write the provider executable into ``mirror`` for this platform; return its path.
    Installing again replaces it (atomically); ``python`` defaults to the running interpreter."""
    version = version or provider_version()
    directory = provider_directory(mirror, version)
    directory.mkdir(parents=True, exist_ok=True)
    executable = directory / f"terraform-provider-{PROVIDER_TYPE}_v{version}"
    partial = executable.with_name(executable.name + ".partial")
    partial.write_text(launcher_script(python or sys.executable), encoding="utf-8")
    partial.chmod(0o755)
    os.replace(partial, executable)
    return executable


def cli_config(mirror: Path) -> str:
    """A Terraform CLI configuration installing vaultshift's providers from ``mirror`` only."""
    pattern = f"{REGISTRY_HOST}/{PROVIDER_NAMESPACE}/*"
    return ("provider_installation {\n"
            f"  filesystem_mirror {{\n    path    = {_hcl_string(str(mirror.resolve()))}\n"
            f"    include = [\"{pattern}\"]\n  }}\n"
            f"  direct {{\n    exclude = [\"{pattern}\"]\n  }}\n}}\n")


def write_cli_config(path: Path, mirror: Path) -> Path:
    """Write :func:`cli_config` for ``mirror`` to ``path`` (point ``TF_CLI_CONFIG_FILE`` at it)."""
    path.write_text(cli_config(mirror), encoding="utf-8")
    return path


def _hcl_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "$${").replace("%{", "%%{")
    return f'"{escaped}"'
