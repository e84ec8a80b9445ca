"""``vaultshift plan`` -> ``apply`` -> ``rollback`` end to end, against a real OpenBao dev server."""

from __future__ import annotations

import json
import uuid

from migration import everything_written, run


def test_plan_apply_rerun_and_rollback(cli, vault_env, tmp_path, fleet, bao):
    root, originals, canaries = fleet
    planned = run(cli, vault_env, tmp_path, "plan", str(root), "-o", "plan.json")
    assert planned.returncode == 0, planned.stderr
    # --agent-check always: the agent template is rendered by a real `bao agent` before the file is replaced.
    applied = run(cli, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state", "--agent-check", "always")
    assert applied.returncode == 0, applied.stderr
    assert "3 secrets stored" in applied.stderr and "3 files rewritten" in applied.stderr

    # Every value is in the vault; no file holds one any more.
    client = bao.client()
    stored = set()
    for secret in json.loads((tmp_path / "plan.json").read_text())["secrets"]:
        data = client.secrets.kv.v2.read_secret_version(path=secret["ref"]["path"], mount_point="secret",
                                                        raise_on_deleted_version=True)["data"]["data"]
        stored.add(data[secret["ref"]["field"]])
    assert stored == set(canaries.values())
    for name in originals:
        text = (root / name).read_text()
        assert not any(c in text for c in canaries.values()), name
    assert "lookup('vaultshift.secrets.secret'" in (root / "ansible/group_vars/all/main.yml").read_text()
    assert (root / "web01/etc/shop/.vaultshift").is_dir()  # the agent template, configuration and unit

    # A second apply changes nothing.
    before = {name: (root / name).read_bytes() for name in originals}
    again = run(cli, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state")
    assert again.returncode == 0, again.stderr
    assert "0 secrets stored" in again.stderr and "0 files rewritten (3 already done)" in again.stderr
    assert {name: (root / name).read_bytes() for name in originals} == before

    # Rollback puts back the original bytes, rendered from the vault, and removes what apply generated.
    back = run(cli, vault_env, tmp_path, "rollback", "--state-dir", "state")
    assert back.returncode == 0, back.stderr
    assert "3 files restored" in back.stderr
    assert {name: (root / name).read_bytes() for name in originals} == originals
    assert not any(p.is_file() for p in (root / "web01/etc/shop/.vaultshift").rglob("*"))

    outputs = planned.stdout + planned.stderr + applied.stderr + again.stderr + back.stderr
    assert not any(c in outputs for c in canaries.values())
    written = everything_written(tmp_path)
    for name, canary in canaries.items():  # only the restored files themselves hold them again
        assert written.count(canary) == 1, name


def test_a_file_changed_after_the_plan_is_refused_and_the_rest_goes_on(cli, vault_env, tmp_path, fleet):
    root, _, canaries = fleet
    assert run(cli, vault_env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    changed = root / "web01/srv/shop/.env"
    changed.write_text(changed.read_text() + "DEBUG=1\n")
    applied = run(cli, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state")
    assert applied.returncode == 1
    assert f"{changed}: changed since the plan was made" in applied.stderr
    assert canaries["env"] in changed.read_text()  # untouched
    assert canaries["vars"] not in (root / "ansible/group_vars/all/main.yml").read_text()  # the rest went on


def test_a_wrong_token_stores_nothing_and_rewrites_nothing(cli, vault_env, tmp_path, fleet):
    root, originals, _ = fleet
    assert run(cli, vault_env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    wrong = dict(vault_env, VAULT_TOKEN=str(uuid.uuid4()))
    applied = run(cli, wrong, tmp_path, "apply", "plan.json", "--state-dir", "state")
    assert applied.returncode in (1, 2)
    assert {name: (root / name).read_bytes() for name in originals} == originals


def test_env_file_with_exec_is_verified_by_a_real_agent(cli, vault_env, tmp_path, token):
    root = tmp_path / "app"
    root.mkdir()
    value = token(22)
    env_file = root / ".env"
    env_file.write_text(f"HOST=db1\nDATABASE_URL=postgres://app:{value}@db1/shop\n")
    original = env_file.read_bytes()
    (tmp_path / "vaultshift.yml").write_text("agent:\n  command: [/usr/bin/env]\n")
    assert run(cli, vault_env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    applied = run(cli, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state", "--agent-check", "always")
    assert applied.returncode == 0, applied.stderr
    hcl = next((root / ".vaultshift").glob("*.agent.hcl")).read_text()
    assert "env_template" in hcl and "exec" in hcl and value not in hcl
    assert value not in env_file.read_text()
    assert run(cli, vault_env, tmp_path, "rollback", "--state-dir", "state").returncode == 0
    assert env_file.read_bytes() == original


def test_hybrid_routing_sends_ansible_vars_to_secrets_manager(cli, vault_env, tmp_path, fleet, moto):
    """One migration, two stores: the Ansible vars go to AWS Secrets Manager (moto), the rest to
    OpenBao; the lookup names its backend, and rollback reads each value back from its own store."""
    from servers import apply_aws_test_env

    root, originals, canaries = fleet
    env = apply_aws_test_env(dict(vault_env))
    (tmp_path / "vaultshift.yml").write_text(
        "backends:\n"
        "  vault: {type: vault}\n"
        f"  aws: {{type: aws, region: us-east-1, endpoint_url: '{moto.endpoint}',"
        f" prefix: hybrid-{uuid.uuid4().hex[:8]}/}}\n"
        "routes:\n"
        "  - {match: {path: 'ansible/**'}, backend: aws}\n"
        "default_backend: vault\n")
    assert run(cli, env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    applied = run(cli, env, tmp_path, "apply", "plan.json", "--state-dir", "state", "--agent-check", "never")
    assert applied.returncode == 0, applied.stderr
    text = (root / "ansible/group_vars/all/main.yml").read_text()
    assert "backend='aws'" in text and canaries["vars"] not in text
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert sorted(s["ref"]["backend"] for s in plan["secrets"]) == ["aws", "vault", "vault"]
    back = run(cli, env, tmp_path, "rollback", "--state-dir", "state")
    assert back.returncode == 0, back.stderr
    assert {name: (root / name).read_bytes() for name in originals} == originals


def test_check_and_diff_change_nothing_and_show_no_value(cli, vault_env, tmp_path, fleet):
    root, originals, canaries = fleet
    assert run(cli, vault_env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    checked = run(cli, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state", "--check", "--diff")
    assert checked.returncode == 0, checked.stderr
    assert "check: 3 secrets would be stored (0 already there), 3 files would be rewritten" in checked.stderr
    assert "nothing was changed" in checked.stderr
    assert {name: (root / name).read_bytes() for name in originals} == originals
    assert not (root / "web01/etc/shop/.vaultshift").exists()
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert "+++ " in checked.stdout and "lookup('vaultshift.secrets.secret'" in checked.stdout
    assert any(secret["hint"] in checked.stdout for secret in plan["secrets"])
    assert not any(c in checked.stdout + checked.stderr for c in canaries.values())
    applied = run(cli, vault_env, tmp_path, "apply", "plan.json", "--state-dir", "state")
    assert "3 secrets stored (0 already there)" in applied.stderr  # the check stored nothing
