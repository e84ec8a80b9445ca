"""``vaultshift status`` through the real CLI, over the inventory the other commands fill: a tree
scanned, a repository guarded and its history scanned, the plan applied, each adding a data point
or a record; the phase gates then say what blocks each phase (--json), and the HTML report holds
no value. Run twice: the inventory in the state directory (SQLite), and in a real PostgreSQL named
by ``tracking: url`` (a team's shared store)."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from migration import run
from servers import BaoServer, PostgresServer, make_value


@pytest.fixture(params=["sqlite", "postgresql"])
def tracking(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    pg: PostgresServer = request.getfixturevalue("postgres")
    name = f"status_{uuid.uuid4().hex[:8]}"
    with pg.connect() as admin:
        admin.autocommit = True
        admin.execute(f"CREATE DATABASE {name}")
    return {"url": pg.url(database=name), "migration": "payments"}


def test_each_command_adds_to_the_inventory_and_status_names_what_blocks_each_phase(
        tmp_path: Path, bao: BaoServer, cli, git_cli_env: dict[str, str], tracking: dict[str, str]) -> None:
    vault_env = {**git_cli_env, "VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.token}
    password, token = make_value(), make_value()
    tree = tmp_path / "srv"
    (tree / "shop").mkdir(parents=True)
    (tree / "shop" / "config.yml").write_text(f"database:\n  password: {password}\n")
    (tree / "shop" / ".env").write_text(f"API_TOKEN=ghp_{token}{token[:12]}\n")
    config = {"backends": {"vault": {"type": "vault", "addr": bao.addr, "prefix": uuid.uuid4().hex[:8]}},
              "agent": {"address": bao.addr}}
    if tracking:
        config["tracking"] = tracking
    (tmp_path / "vaultshift.yml").write_text(yaml.safe_dump(config))
    tracked = ["--state-dir", "state", "--config", "vaultshift.yml"]
    repo = tmp_path / "app"
    for args in (["init", "-q", str(repo)], ["-C", str(repo), "commit", "-q", "--allow-empty", "-m", "start"]):
        subprocess.run(["git", *args], check=True, env=vault_env, capture_output=True)

    scanned = run(cli, vault_env, tmp_path, "scan", str(tree), *tracked)
    assert scanned.returncode == 1  # findings
    history = run(cli, vault_env, tmp_path, "scan", "--git", str(repo), *tracked)
    assert history.returncode == 0, history.stderr
    before = json.loads(run(cli, vault_env, tmp_path, "status", *tracked, "--json").stdout)
    phase1 = before["phases"][0]
    assert not phase1["done"]
    assert any("without a guard" in c["blocker"] for c in phase1["criteria"])

    assert run(cli, vault_env, tmp_path, "guard", "install", str(repo), *tracked).returncode == 0
    assert run(cli, vault_env, tmp_path, "scan", "--git", str(repo), *tracked).returncode == 0
    assert run(cli, vault_env, tmp_path, "plan", str(tree), "-o", "plan.json", "--config", "vaultshift.yml",
               "--no-progress").returncode == 0
    applied = run(cli, vault_env, tmp_path, "apply", "plan.json", "--agent-check", "never", *tracked)
    assert applied.returncode == 0, applied.stderr
    done = run(cli, vault_env, tmp_path, "status", "plan.json", *tracked, "--json", "--html", "report.html")
    assert done.returncode == 1, done.stderr  # phase 3 is not done: nothing rotates
    status = json.loads(done.stdout)
    assert [p["done"] for p in status["phases"]] == [True, True, False]
    assert status["current_phase"] == 3
    sources = [p["source"] for p in status["points"]]
    assert sources == ["scan", "apply", "status"], sources
    assert status["points"][0]["hardcoded"] == 2 and status["points"][-1]["hardcoded"] == 0
    assert status["points"][0]["hardcoded_by_repo"] == {str(tree): 2}  # the scanned tree, by repository
    assert status["points"][-1]["hardcoded_by_repo"].get(str(tree), 0) == 0
    rotate = status["phases"][2]
    assert any("not under rotation" in c["blocker"] for c in rotate["criteria"])
    page = (tmp_path / "report.html").read_text()
    everything = page + done.stdout + done.stderr + scanned.stdout + applied.stderr
    assert password not in everything and token not in everything
    if not tracking:
        assert (tmp_path / "state" / "inventory.sqlite").exists()
