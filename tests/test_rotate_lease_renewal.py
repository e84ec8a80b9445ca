"""A dynamic credential outlives its lease's TTL while an agent renders it: a real, long-running
``bao agent`` renders the switched template (``creds/ROLE``) and renews the lease, so the user it
rendered still exists and logs in three TTLs (4 s each) later; once the agent stops, the lease runs
out within a TTL and the vault drops the user (the control); ``rotate rollback`` then finds
nothing left behind."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from servers import BaoServer, PostgresServer
from test_rotate_waves import Setup, login_in, run

from migrator.rewrite.agent_config import TemplateBlock, agent_hcl
from migrator.rewrite.base import AgentOptions, AutoAuth
from migrator.rewrite.verify import agent_binary, private_directory

TTL = 4


@pytest.fixture
def setup(tmp_path: Path, postgres: PostgresServer, bao: BaoServer) -> Setup:
    s = Setup(tmp_path, postgres, bao)
    s.config.write_text(s.config.read_text().replace("dynamic: {default_ttl: 600, max_ttl: 1200}",
                                                     f"dynamic: {{default_ttl: {TTL}, max_ttl: 120}}"))
    return s


def test_the_agent_keeps_a_dynamic_user_alive_past_its_ttl(cli, vault_env, setup: Setup) -> None:
    s, pg, tmp = setup, setup.pg, setup.tmp
    config = ["--config", str(s.config)]
    for args in (("plan", str(s.root), "-o", "plan.json"),
                 ("apply", "plan.json", "--state-dir", "state", "--agent-check", "never"),
                 ("rotate", "enable", "plan.json", "--wave", "all", "--state-dir", "state"),
                 ("rotate", "dynamic", "plan.json", "--wave", "all", "--state-dir", "state")):
        run(cli, vault_env, tmp, *args, *config)
    with private_directory() as directory:
        token_file = directory / "token"
        token_file.write_text(s.bao.token)
        token_file.chmod(0o600)
        rendered = directory / "app.ini"
        options = AgentOptions(address=s.bao.addr, auth=AutoAuth.token(str(token_file)), render_interval="1m")
        (directory / "agent.hcl").write_bytes(agent_hcl(options, ["test: a long-running agent"], templates=[
            TemplateBlock(str(s.template("etc/shop/app.ini")), str(rendered), 0o600)]))
        agent = subprocess.Popen([agent_binary(), "agent", f"-config={directory / 'agent.hcl'}"], cwd=directory,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                 env={"PATH": "/usr/bin:/bin", "HOME": str(directory)})
        try:
            deadline = time.monotonic() + 20
            while not rendered.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            first = login_in(rendered.read_text())
            assert first[0].startswith("v-") and pg.logs_in(*first)
            time.sleep(3 * TTL)  # three TTLs: without renewal the user would be revoked by now
            now = login_in(rendered.read_text())
            assert pg.logs_in(*now), "the rendered credential still works"
            assert pg.role_exists(first[0]) or now != first, "renewed, or replaced by the agent in time"
        finally:
            agent.terminate()
            agent.wait(timeout=10)
    # The control: with no agent renewing it, the lease runs out within a TTL and the vault drops
    # the user (so it was the agent's renewals that kept it).
    deadline = time.monotonic() + 3 * TTL
    while pg.role_exists(now[0]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not pg.role_exists(now[0]) and not pg.logs_in(*now)
    run(cli, vault_env, tmp, "rotate", "rollback", "plan.json", "--wave", "all", "--state-dir", "state", *config)
    assert not pg.role_exists(first[0])
