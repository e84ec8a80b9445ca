"""What an operator gets wrong before phase 3, through ``vaultshift rotate enable``: an unreachable
database, wrong admin credentials, an admin without the privilege over the app's user, a user
already managed by another static role. Each is one line naming the secret and the reason, with
no password in it; no reference changes and every app keeps logging in with its stored password
(references change only after the vault side works)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from servers import BaoServer, PostgresServer, free_port
from test_rotate_waves import Setup, run

from migrator.backends import make_backend
from migrator.rotate.classify import POSTGRESQL, DatabaseTarget
from migrator.rotate.database import DatabaseEngine


@pytest.fixture
def setup(tmp_path, postgres: PostgresServer, bao: BaoServer) -> Setup:
    return Setup(tmp_path, postgres, bao)


def unreachable(s: Setup) -> str:
    port = free_port()
    text = s.config.read_text().replace("admin: admin/pg}", f"admin: admin/pg, address: '127.0.0.1:{port}'}}")
    s.config.write_text(text)
    return f"127.0.0.1:{port}"


def wrong_admin_password(s: Setup) -> str:
    s.bao.client().secrets.kv.v2.create_or_update_secret(
        path=f"{s.prefix}/admin/pg", secret={"username": s.pg.superuser, "password": "not-the-admin-password"})
    return "the server refused the admin's login"


def admin_without_the_privilege(s: Setup) -> str:
    admin, password = f"weak_{s.tag}", f"weak-{uuid.uuid4().hex}"
    with s.pg.connect() as conn:
        conn.execute(f"CREATE ROLE {admin} LOGIN CREATEROLE PASSWORD '{password}'")
    s.bao.client().secrets.kv.v2.create_or_update_secret(
        path=f"{s.prefix}/admin/pg", secret={"username": admin, "password": password})
    return "admin"


def managed_by_another_role(s: Setup) -> str:
    engine = DatabaseEngine(make_backend("vault", s.bao.settings()), s.mount)
    engine.enable()
    engine.register(f"pg-{s.tag}", DatabaseTarget(POSTGRESQL, "127.0.0.1", s.pg.port, None, "postgres", "t"),
                    s.pg.superuser, s.pg.password)
    user, _ = s.users["shop"]
    engine.take_over("someone-elses", f"pg-{s.tag}", user)
    # The engine just changed shop's password; the migration's copy is stale, as it would be.
    return "already managed by static role someone-elses"


@pytest.mark.parametrize("mistake", [unreachable, wrong_admin_password, admin_without_the_privilege,
                                     managed_by_another_role])
def test_a_mistake_stops_before_any_reference_changes(cli, vault_env, setup: Setup, monkeypatch,
                                                      mistake: Callable[[Setup], str]) -> None:
    s = setup
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", s.bao.token)
    config = ["--config", str(s.config)]
    run(cli, vault_env, s.tmp, "plan", str(s.root), "-o", "plan.json", *config)
    run(cli, vault_env, s.tmp, "apply", "plan.json", "--state-dir", "state", "--agent-check", "never", *config)
    files = {p: p.read_bytes() for p in s.root.rglob("*") if p.is_file()}
    expected = mistake(s)
    out = run(cli, vault_env, s.tmp, "rotate", "enable", "plan.json", "--wave", "all", "--state-dir", "state",
              *config, expect=1)
    failed = [line for line in out.splitlines() if ": failed: " in line]
    assert len(failed) == 1 and expected in failed[0], out
    assert "#" in failed[0].split(": failed: ")[0]  # the line names the secret (path#field)
    assert {p: p.read_bytes() for p in s.root.rglob("*") if p.is_file()} == files
    # Every app logs in with what the vault holds for it at its KV path (the stored password, or
    # for a secret the wave had switched before the failure, its rolled-back current one).
    run(cli, vault_env, s.tmp, "rotate", "plan", "plan.json", "-o", "rotation.json", *config)
    kv = s.bao.client().secrets.kv.v2
    for entry in json.loads((s.tmp / "rotation.json").read_text())["secrets"]:
        ref, user = entry["ref"], entry["database"]["user"]
        stored = kv.read_secret_version(path=f"{s.prefix}/{ref['path']}", raise_on_deleted_version=False)
        value = stored["data"]["data"][ref["field"]]
        if mistake is managed_by_another_role and user == s.users["shop"][0]:
            continue
        assert s.pg.logs_in(user, value), user
        if mistake is not managed_by_another_role:
            assert value == next(p for u, p in s.users.values() if u == user), "nothing was rotated"
    for _, password in s.users.values():
        assert password not in out
    assert s.pg.password not in out
