"""``vaultshift plan`` -> ``apply`` -> ``rollback`` end to end, against a real OpenBao dev server."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest


@pytest.fixture
def fleet(tmp_path, token):
    """A small fleet: an Ansible vars file, an agent-rendered config, an .env; and its canaries."""
    canaries = {"vars": token(24), "config": token(28), "env": token(20)}
    root = tmp_path / "fleet"
    files = {
        "ansible/group_vars/all/main.yml": f"# shared\napp_name: shop\ndb_password: {canaries['vars']}\nport: 5432\n",
        "web01/etc/shop/config.ini": f"[db]\nhost = db1\npassword = {canaries['config']}\n; {{{{ keep }}}}\n",
        "web01/srv/shop/.env": f"export HOST=db1\nAPI_TOKEN={canaries['env']}\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root, {name: (root / name).read_bytes() for name in files}, canaries


@pytest.fixture
def env(cli_env, bao, tmp_path):
    return dict(cli_env, VAULT_ADDR=bao.addr, VAULT_TOKEN=bao.token)


def run(cli, env, cwd, *args):
    result = cli(*args, env=env, cwd=cwd)
    assert "Traceback" not in result.stderr
    return result


def everything_written(tmp_path: Path) -> str:
    """Every byte under tmp_path (plans, journals, companions, rewritten files), as text."""
    chunks = []
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file():
            chunks.append(path.read_bytes().decode("latin-1"))
    db = tmp_path / "state" / "journal.sqlite"
    if db.exists():
        connection = sqlite3.connect(db)
        for table in ("runs", "secrets", "files", "events"):
            chunks.append(json.dumps(connection.execute(f"SELECT * FROM {table}").fetchall()))
        connection.close()
    return "\n".join(chunks)


def test_plan_apply_rerun_and_rollback(cli, env, tmp_path, fleet, bao):
    root, originals, canaries = fleet
    planned = run(cli, env, tmp_path, "plan", str(root), "-o", "plan.json")
    assert planned.returncode == 0, planned.stderr
    # --agent-check always: the agent template is rendered by a real `bao agent` before the file is replaced.
    applied = run(cli, env, tmp_path, "apply", "plan.json", "--state-dir", "state", "--agent-check", "always")
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
    again = run(cli, env, tmp_path, "apply", "plan.json", "--state-dir", "state")
    assert again.returncode == 0, again.stderr
    assert "0 secrets stored" in again.stderr and "0 files rewritten (3 already done)" in again.stderr
    assert {name: (root / name).read_bytes() for name in originals} == before

    # Rollback puts back the original bytes, rendered from the vault, and removes what apply generated.
    back = run(cli, env, tmp_path, "rollback", "--state-dir", "state")
    assert back.returncode == 0, back.stderr
    assert "3 files restored" in back.stderr
    assert {name: (root / name).read_bytes() for name in originals} == originals
    assert not any(p.is_file() for p in (root / "web01/etc/shop/.vaultshift").rglob("*"))

    outputs = planned.stdout + planned.stderr + applied.stderr + again.stderr + back.stderr
    assert not any(c in outputs for c in canaries.values())
    written = everything_written(tmp_path)
    for name, canary in canaries.items():  # only the restored files themselves hold them again
        assert written.count(canary) == 1, name


def test_a_file_changed_after_the_plan_is_refused_and_the_rest_goes_on(cli, env, tmp_path, fleet):
    root, _, canaries = fleet
    assert run(cli, env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    changed = root / "web01/srv/shop/.env"
    changed.write_text(changed.read_text() + "DEBUG=1\n")
    applied = run(cli, env, tmp_path, "apply", "plan.json", "--state-dir", "state")
    assert applied.returncode == 1
    assert f"{changed}: changed since the plan was made" in applied.stderr
    assert canaries["env"] in changed.read_text()  # untouched
    assert canaries["vars"] not in (root / "ansible/group_vars/all/main.yml").read_text()  # the rest went on


def test_a_wrong_token_stores_nothing_and_rewrites_nothing(cli, env, tmp_path, fleet):
    root, originals, _ = fleet
    assert run(cli, env, tmp_path, "plan", str(root), "-o", "plan.json").returncode == 0
    applied = run(cli, dict(env, VAULT_TOKEN=str(uuid.uuid4())), tmp_path, "apply", "plan.json", "--state-dir", "state")
    assert applied.returncode in (1, 2)
    assert {name: (root / name).read_bytes() for name in originals} == originals
