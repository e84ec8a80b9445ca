"""Dual-credential rotation (``rotation.databases[].dual: true``) against a real PostgreSQL, a real
OpenBao and a real agent, one step at a time (``vaultshift rotate enable --step``, as a fleet
runs it): after the vault step a twin login role of the app's user holds the static role and BOTH
logins work; after the references step the agent renders the twin's name and password (which log
in) while the old login still works, so no request fails whichever credentials an app holds; the
finish step retires the old password (refused). Then dynamic credentials from the twin's
templates, and rollbacks back to KV byte for byte, the twin dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import BaoServer, PostgresServer
from test_rotate_waves import Setup, run


@pytest.fixture
def setup(tmp_path: Path, postgres: PostgresServer, bao: BaoServer) -> Setup:
    s = Setup(tmp_path, postgres, bao)
    s.config.write_text(s.config.read_text().replace("admin: admin/pg}", "admin: admin/pg, dual: true}"))
    return s


def test_both_logins_work_until_the_old_one_is_retired(cli, vault_env, setup: Setup) -> None:
    s, pg, tmp = setup, setup.pg, setup.tmp
    config = ["--config", str(s.config)]
    run(cli, vault_env, tmp, "plan", str(s.root), "-o", "plan.json", *config)
    run(cli, vault_env, tmp, "apply", "plan.json", "--state-dir", "state", "--agent-check", "never", *config)
    migrated = {name: s.template(name).read_bytes() for name in ("etc/shop/app.ini", "srv/crm/.env")}
    lookup_file = s.file("group_vars/all.yml").read_bytes()

    run(cli, vault_env, tmp, "rotate", "plan", "plan.json", "-o", "rotation.json", *config)
    rotation = json.loads((tmp / "rotation.json").read_text())["secrets"]
    duals = {entry["database"]["user"]: entry["dual"] for entry in rotation}
    assert duals == {s.users["shop"][0]: True, s.users["crm"][0]: True, s.users["ops"][0]: False}

    def step(name: str) -> None:
        run(cli, vault_env, tmp, "rotate", "enable", "plan.json", "--wave", "all", "--step", name,
            "--state-dir", "state", *config)

    # vault: the twin holds the static role; the app's old login still works.
    step("vault")
    for name in ("shop", "crm"):
        user, password = s.users[name]
        assert pg.logs_in(user, password), f"{name}: the old login keeps working during the switch"
        assert pg.role_exists(f"{user}_rot")
    assert not pg.logs_in(*s.users["ops"]), "a lookup-rendered secret stays single-credential"
    # references: the agents render the twin's login; the old one still works.
    step("references")
    for name, path in (("shop", "etc/shop/app.ini"), ("crm", "srv/crm/.env")):
        user, password = s.login(path)
        assert user == f"{s.users[name][0]}_rot" and pg.logs_in(user, password)
        assert pg.logs_in(*s.users[name])
    # The twin acts as the app's user: what it creates belongs to the user.
    with pg.connect() as admin:
        admin.execute(f"GRANT CREATE ON SCHEMA public TO {s.users['shop'][0]}")
    twin, twin_password = s.login("etc/shop/app.ini")
    with pg.connect(twin, twin_password) as conn:
        conn.execute(f"SELECT * FROM orders_{s.tag}")
        conn.execute(f"CREATE TABLE made_by_twin_{s.tag} (id int)")
    with pg.connect() as admin:
        owner = admin.execute("SELECT tableowner FROM pg_tables WHERE tablename = %s",
                              (f"made_by_twin_{s.tag}",)).fetchone()
    assert owner == (s.users["shop"][0],)
    # finish: the old (leaked) passwords retired.
    step("finish")
    for name, path in (("shop", "etc/shop/app.ini"), ("crm", "srv/crm/.env")):
        assert not pg.logs_in(*s.users[name])
        assert pg.logs_in(*s.login(path))

    # dynamic from the twin's templates, then back, then back to KV.
    run(cli, vault_env, tmp, "rotate", "dynamic", "plan.json", "--wave", "all", "--state-dir", "state", *config)
    dynamic_user, dynamic_password = s.login("etc/shop/app.ini")
    assert dynamic_user.startswith("v-") and pg.logs_in(dynamic_user, dynamic_password)
    run(cli, vault_env, tmp, "rotate", "rollback", "plan.json", "--wave", "all", "--state-dir", "state", *config)
    assert not pg.role_exists(dynamic_user)
    assert s.login("etc/shop/app.ini")[0] == f"{s.users['shop'][0]}_rot"
    run(cli, vault_env, tmp, "rotate", "rollback", "plan.json", "--wave", "all", "--state-dir", "state", *config)
    assert {name: s.template(name).read_bytes() for name in migrated} == migrated
    assert s.file("group_vars/all.yml").read_bytes() == lookup_file
    for name, path in (("shop", "etc/shop/app.ini"), ("crm", "srv/crm/.env")):
        user, password = s.login(path)
        assert user == s.users[name][0] and pg.logs_in(user, password)
        assert password != s.users[name][1], "the leaked password stays dead"
        assert not pg.role_exists(f"{user}_rot")
