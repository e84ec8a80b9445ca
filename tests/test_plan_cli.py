"""``vaultshift plan`` run for real: plan.json, the summary, exit codes, config and inventory errors,
baselines, determinism across runs, and no value anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from assertions import one_line_error

from migrator.plan.models import Plan


@pytest.fixture
def fleet(tmp_path, token):
    """Two hosts' trees and a repository, one value shared by three files, and the values."""
    values = {"shared": token(24), "stripe": token(24, prefix="sk_live_"), "tf": token(20), "smtp": token(22)}
    root = tmp_path / "fleet"
    files = {
        "web1/etc/shop/config.yml": f"database:\n  password: \"{values['shared']}\"\n"
                                    f"smtp:\n  password: \"{values['smtp']}\"\n",
        "web1/srv/shop/.env": f"DB_PASSWORD={values['shared']}\nSTRIPE_KEY={values['stripe']}\n",
        "db1/etc/shop/pg.ini": f"[auth]\npassword = {values['shared']}\n",
        "infra/prod.tfvars": f"db_password = \"{values['tf']}\"\n",
        "README.md": "nothing\n",
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root, values


def read_plan(path: Path) -> Plan:
    return Plan.from_dict(json.loads(path.read_text()))


def assert_no_value(values: dict[str, str], *texts: str) -> None:
    for text in texts:
        for value in values.values():
            assert value not in text
            assert not any(value[i:i + 8] in text for i in range(len(value) - 7)), "a piece of a value leaked"


def test_plan_writes_plan_json_and_prints_the_summary(cli, fleet, tmp_path):
    root, values = fleet
    proc = cli("plan", str(root), "-o", "plan.json")
    assert proc.returncode == 0, proc.stderr
    plan = read_plan(tmp_path / "plan.json")
    assert len(plan.secrets) == 4
    shared = next(s for s in plan.secrets if len(s.occurrences) == 3)
    assert [o.path for o in shared.occurrences] == ["db1/etc/shop/pg.ini", "web1/etc/shop/config.yml",
                                                    "web1/srv/shop/.env"]
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["VAULT", "REF", "BACKEND", "KIND", "HINT", "OCC", "FILES"]
    row = next(line for line in lines if line.startswith(str(shared.ref)))
    assert row.split()[1:3] == ["vault", "password"] and " 3  db1/etc/shop/pg.ini, web1/etc/shop" in row
    assert ("4 secrets, 6 occurrences in 4 files; 5 files scanned; backends: vault 4; styles: agent-env 2, "
            "agent-template 3, terraform 1; 1 path renamed to stay unique") in proc.stdout
    assert ("note: renamed apps/shop/password-2#password (value first at web1/etc/shop/config.yml:4): "
            "apps/shop/password#password already names the value first at db1/etc/shop/pg.ini:2") in proc.stdout
    assert lines[-1] == "plan written to plan.json"
    assert proc.stderr == ""
    assert_no_value(values, proc.stdout, proc.stderr, (tmp_path / "plan.json").read_text())


def test_output_dash_prints_the_plan_and_the_summary_goes_to_stderr(cli, fleet, tmp_path):
    root, values = fleet
    proc = cli("plan", str(root), "-o", "-")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["secrets"]) == 4
    assert "4 secrets" in proc.stderr and "VAULT REF" in proc.stderr
    assert not (tmp_path / "plan.json").exists()
    assert_no_value(values, proc.stdout, proc.stderr)


def test_same_input_gives_a_byte_identical_plan_across_runs_and_path_orders(cli, fleet, tmp_path):
    root, _ = fleet
    paths = [str(root / "web1"), str(root / "db1"), str(root / "infra")]
    first = cli("plan", *paths, "-o", "a.json")
    second = cli("plan", *reversed(paths), "-o", "b.json")
    third = cli("plan", paths[1], paths[2], paths[0], "-o", "c.json")
    assert first.returncode == second.returncode == third.returncode == 0, first.stderr
    data = (tmp_path / "a.json").read_bytes()
    assert data == (tmp_path / "b.json").read_bytes() == (tmp_path / "c.json").read_bytes()
    assert first.stdout.replace("a.json", "X") == second.stdout.replace("b.json", "X")


def test_hosts_inventory_routing_and_a_changed_inventory(cli, fleet, tmp_path):
    root, values = fleet
    config = tmp_path / "vaultshift.yml"
    config.write_text("backends:\n  vault: {type: vault}\n  aws: {type: aws}\n"
                      "routes:\n  - {match: {host_group: aws_apps}, backend: aws}\n"
                      "  - {match: {path: '*.tfvars'}, backend: aws}\n"
                      "default_backend: vault\nnaming: 'apps/{group}/{host}/{key}'\n")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  children:\n    web:\n      hosts:\n        web1:\n"
                         "    db:\n      hosts:\n        db1:\n    aws_apps:\n      hosts:\n        db1:\n")
    proc = cli("plan", str(root), "--config", str(config), "--inventory", str(inventory))
    assert proc.returncode == 0, proc.stderr
    plan = read_plan(tmp_path / "plan.json")
    routed = {str(s.ref): s.ref.backend for s in plan.secrets}
    assert routed == {"apps/db/db1/password#password": "aws", "apps/web/web1/password#password": "vault",
                      "apps/web/web1/stripe_key#stripe_key": "vault", "apps/db_password#db_password": "aws"}
    shared = next(s for s in plan.secrets if len(s.occurrences) == 3)
    assert [(o.host, o.path) for o in shared.occurrences] == [
        ("db1", "etc/shop/pg.ini"), ("web1", "etc/shop/config.yml"), ("web1", "srv/shop/.env")]
    assert "routing conflict for apps/db/db1/password#password: stored in aws (route 1" in proc.stdout
    assert "web1:etc/shop/config.yml:2 matches default_backend (vault)" in proc.stdout
    assert "1 routing conflict" in proc.stdout
    assert_no_value(values, proc.stdout, proc.stderr, (tmp_path / "plan.json").read_text())

    # db1 leaves aws_apps: the same files now plan into vault, with no conflict
    inventory.write_text("all:\n  children:\n    web:\n      hosts:\n        web1:\n"
                         "    db:\n      hosts:\n        db1:\n    aws_apps:\n      hosts: {}\n")
    again = cli("plan", str(root), "--config", str(config), "--inventory", str(inventory))
    assert again.returncode == 0, again.stderr
    replanned = read_plan(tmp_path / "plan.json")
    assert {str(s.ref): s.ref.backend for s in replanned.secrets}["apps/db/db1/password#password"] == "vault"
    assert "routing conflict" not in again.stdout


def test_host_equals_path_sources(cli, fleet, tmp_path):
    root, _ = fleet
    proc = cli("plan", f"web1={root / 'web1'}", f"db1={root / 'db1'}", "-o", "-")
    assert proc.returncode == 0, proc.stderr
    hosts = {(o["host"], o["path"]) for s in json.loads(proc.stdout)["secrets"] for o in s["occurrences"]}
    assert hosts == {("db1", "etc/shop/pg.ini"), ("web1", "etc/shop/config.yml"), ("web1", "srv/shop/.env")}
    assert "db1:etc/shop/pg.ini" in proc.stderr


def test_nothing_to_migrate_exits_1_and_still_writes_an_empty_plan(cli, tree, tmp_path):
    root = tree({"README.md": "hello\n", "c.yml": "db:\n  password: ${DB_PASSWORD}\n"})
    proc = cli("plan", str(root))
    assert proc.returncode == 1, proc.stderr
    assert read_plan(tmp_path / "plan.json").secrets == ()
    assert "nothing to migrate: no plaintext secret found; 2 files scanned" in proc.stdout


def test_unscanned_content_exits_2_with_the_plan_written_and_the_errors_in_it(cli, fleet, tmp_path):
    root, _ = fleet
    (root / "web1" / "big.env").write_text("A=" + "x" * 3000 + "\n")
    proc = cli("plan", str(root), str(tmp_path / "missing"), "--max-file-size", "2K")
    assert proc.returncode == 2, proc.stderr
    plan = read_plan(tmp_path / "plan.json")
    assert len(plan.secrets) == 4  # the rest was planned
    assert {(e["path"], e["severity"]) for e in plan.errors} == {
        (f"{root}/web1/big.env", "error"), (str(tmp_path / "missing"), "error")}
    assert f"error: {tmp_path / 'missing'}: no such file or directory" in proc.stdout
    assert "2 errors" in proc.stdout and "Traceback" not in proc.stderr


def test_baseline_accepted_findings_are_left_out(cli, fleet, tmp_path):
    root, _ = fleet
    created = cli("baseline", "create", "-o", "baseline.json", str(root / "infra"))
    assert created.returncode == 0, created.stderr
    proc = cli("plan", str(root / "infra"), "--baseline", "baseline.json")
    assert proc.returncode == 1, proc.stderr
    assert read_plan(tmp_path / "plan.json").secrets == ()


def test_the_default_config_file_in_the_working_directory_is_used(cli, fleet, tmp_path):
    root, _ = fleet
    (tmp_path / "vaultshift.yml").write_text("naming: 'team/{app}/{file}'\n")
    proc = cli("plan", str(root / "infra"), "-o", "-")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["secrets"][0]["ref"] == {"backend": "vault", "path": "team/infra/prod",
                                                           "field": "db_password"}


@pytest.mark.parametrize("config, needles", [
    ("naming: 'apps/{application}'\n", ["cfg.yml: naming", "unknown placeholder {application}"]),
    ("routes:\n  - {match: {path: x}, backend: aws}\n", ["cfg.yml: route 1", "'aws' is not configured"]),
    ("routes:\n  - {match: {paht: x}, backend: vault}\n", ["cfg.yml: route 1", "unknown match key 'paht'"]),
    ("styles:\n  - {match: {path: x}, style: sidecar}\n", ["cfg.yml: styles entry 1", "'sidecar'"]),
    ("backends: [\n", ["cfg.yml: not valid YAML"]),
])
def test_a_bad_config_is_a_one_line_error(cli, fleet, tmp_path, config, needles):
    root, _ = fleet
    (tmp_path / "cfg.yml").write_text(config)
    proc = cli("plan", str(root), "--config", "cfg.yml")
    one_line_error(proc, *needles)
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.parametrize("args, needles", [
    (["--inventory", "hosts.yml"], ["hosts.yml: group 'all'"]),
    (["--inventory", "nope.ini"], ["nope.ini: cannot read inventory"]),
    (["web9={root}", "--inventory", "good.ini"], ["host 'web9' is not in the inventory good.ini"]),
    (["{root}", "{root}/web1"], ["is inside"]),
    (["-o", "no/such/dir/plan.json"], ["cannot write plan: no such directory"]),
    (["--exclude", "!"], ["--exclude '!'"]),
])
def test_usage_errors_are_one_line(cli, fleet, tmp_path, args, needles):
    root, _ = fleet
    (tmp_path / "hosts.yml").write_text("all: [web1]\n")
    (tmp_path / "good.ini").write_text("[web]\nweb1\n")
    args = [a.format(root=root) for a in args]
    if not any(a.startswith(str(root)) or "=" in a for a in args):
        args.append(str(root))
    proc = cli("plan", *args)
    one_line_error(proc, *needles)


def test_plan_help_documents_the_exit_status(cli):
    proc = cli("plan", "--help")
    assert proc.returncode == 0
    assert "HOST=PATH" in proc.stdout and "exit status: 0 plan written, 1 plan written but nothing" in \
        " ".join(proc.stdout.split())


def test_bare_uuids_are_planned_only_when_asked_for(cli, tree):
    import uuid

    root = tree({"app.yml": f"consul:\n  acl: \"{uuid.uuid4()}\"\n"})
    assert cli("scan", str(root)).returncode == 1  # scan reports it, at low confidence
    assert cli("plan", str(root)).returncode == 1  # nothing to migrate by default
    proc = cli("plan", str(root), "--min-confidence", "low", "-o", "-")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["secrets"]) == 1


def test_terraform_state_is_reported_and_never_planned_for_a_rewrite(cli, tree, tmp_path, token):
    value = token(24)
    state = json.dumps({"version": 4, "resources": [{"type": "aws_db_instance", "name": "db", "instances": [
        {"attributes": {"username": "app", "password": value}}]}]}, indent=2)
    root = tree({"infra/terraform.tfstate": state, "infra/terraform.tfstate.backup": state,
                 "app/app.conf": f"[database]\nhost = db\npassword = {value}\n"})
    done = cli("plan", str(root), "-o", "plan.json")
    assert done.returncode == 0, done.stderr
    plan = Plan.from_dict(json.loads((tmp_path / "plan.json").read_text()))
    (secret,) = plan.secrets
    assert [o.path for o in secret.occurrences] == ["app/app.conf"]  # the state files are left alone
    notes = [n for n in plan.notes if "Terraform state holds 1 secret value(s)" in n]
    assert [n.split(":")[0].split("/", 1)[1] for n in notes] == ["infra/terraform.tfstate",
                                                                  "infra/terraform.tfstate.backup"]
    assert value not in done.stdout + done.stderr + (tmp_path / "plan.json").read_text()

    only_state = tmp_path / "only-state"
    only_state.mkdir()
    (only_state / "terraform.tfstate").write_text(state)
    done = cli("plan", str(only_state), "-o", "state-only.json")
    assert done.returncode == 1 and "nothing to migrate: only in Terraform state" in done.stdout
