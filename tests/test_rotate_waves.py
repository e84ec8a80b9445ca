"""Phase 3 end to end through the CLI, against a real PostgreSQL, a real OpenBao and a real agent:
files migrated by ``vaultshift apply`` (an agent-rendered config, an agent-rendered .env with a
connection URL, Ansible variables read by the lookup), then ``vaultshift rotate enable``: each
user's password taken over by a static role (the old one refused), the references switched to
``static-creds`` and rendering a password that logs in; ``rotate dynamic``: a user per lease
with the static user's grants, rendered by the agent, gone after ``rotate rollback``; a second
rollback puts the references back on KV byte for byte, holding the current password."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import psycopg
import pytest
from ansible_run import run_playbook
from migration import everything_written
from servers import BaoServer, PostgresServer, make_value

from migrator.rewrite.verify import render_with_agent
from migrator.session.options import choose_backend


def login_in(text: str) -> tuple[str, str]:
    """The user and password in a rendered app.ini (``user = ``, ``password = ``) or .env
    (a ``postgresql://USER:PASSWORD@`` URL)."""
    found = re.search(r"postgresql://([^:]+):([^@]+)@", text)
    if found is not None:
        return found.group(1), found.group(2)
    user = re.search(r"^user = (.+)$", text, re.M)
    password = re.search(r"^password = (.+)$", text, re.M)
    assert user is not None and password is not None
    return user.group(1), password.group(1)


class Setup:
    """Three app users, their files, the configuration; everything named uniquely."""

    def __init__(self, tmp_path: Path, pg: PostgresServer, bao: BaoServer) -> None:
        tag = uuid.uuid4().hex[:6]
        self.tag, self.pg, self.bao, self.tmp = tag, pg, bao, tmp_path
        self.users = {name: (f"{name}_{tag}", make_value()) for name in ("shop", "crm", "ops")}
        with pg.connect() as admin:
            admin.execute(f"CREATE TABLE orders_{tag} (id int)")
            admin.execute(f"CREATE TABLE salaries_{tag} (id int)")
            for user, password in self.users.values():
                admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
                admin.execute(f"GRANT SELECT ON orders_{tag} TO {user}")
        self.mount = f"db-{tag}"
        self.prefix = f"rot-{tag}"
        bao.client().secrets.kv.v2.create_or_update_secret(
            path=f"{self.prefix}/admin/pg", secret={"username": pg.superuser, "password": pg.password})
        self.root = tmp_path / "fleet"
        shop, crm, ops = self.users["shop"], self.users["crm"], self.users["ops"]
        files = {
            "etc/shop/app.ini": f"[database]\nhost = 127.0.0.1\nport = {pg.port}\nuser = {shop[0]}\n"
                                f"password = {shop[1]}\nname = postgres\n",
            "srv/crm/.env": f"PORT=8080\nDATABASE_URL=postgresql://{crm[0]}:{crm[1]}@127.0.0.1:{pg.port}/postgres\n",
            "group_vars/all.yml": f"db_host: 127.0.0.1\ndb_port: {pg.port}\ndb_user: {ops[0]}\n"
                                  f"db_password: {ops[1]}\n",
        }
        for name, text in files.items():
            (self.root / name).parent.mkdir(parents=True, exist_ok=True)
            (self.root / name).write_text(text)
        self.config = tmp_path / "vaultshift.yml"
        self.config.write_text(
            f"backends:\n  vault: {{type: vault, prefix: {self.prefix}}}\n"
            f"  database: {{type: vault-database, mount: {self.mount}}}\n"
            "rotation:\n  rotation_period: 3600\n  dynamic: {default_ttl: 600, max_ttl: 1200}\n"
            f"  databases:\n    - {{name: pg-{tag}, match: {{host: 127.0.0.1, port: {pg.port}}}, admin: admin/pg}}\n")

    def file(self, name: str) -> Path:
        return self.root / name

    def template(self, name: str) -> Path:
        path = self.file(name)
        return path.parent / ".vaultshift" / f"{path.name}.ctmpl"

    def login(self, name: str) -> tuple[str, str]:
        """The user and password the agent renders into ``name`` now."""
        return login_in(self.render(name))

    def render(self, name: str) -> str:
        return render_with_agent(self.template(name).read_bytes(), address=self.bao.addr,
                                 token=self.bao.token).decode()


def run(cli, env, cwd, *args: str, expect: int = 0) -> str:
    done = cli(*args, env=env, cwd=cwd)
    assert done.returncode == expect, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture
def setup(tmp_path: Path, postgres: PostgresServer, bao: BaoServer) -> Setup:
    return Setup(tmp_path, postgres, bao)


def test_static_then_dynamic_then_back_to_kv(cli, vault_env, setup: Setup) -> None:
    s, pg = setup, setup.pg
    tmp = s.tmp
    config = ["--config", str(s.config)]
    outputs = [run(cli, vault_env, tmp, "plan", str(s.root), "-o", "plan.json", *config),
               run(cli, vault_env, tmp, "apply", "plan.json", "--state-dir", "state", "--agent-check", "never",
                   *config)]
    migrated = {name: s.file(name).read_bytes() for name in ("group_vars/all.yml",)}
    migrated_templates = {name: s.template(name).read_bytes() for name in ("etc/shop/app.ini", "srv/crm/.env")}
    for user, password in s.users.values():
        assert pg.logs_in(user, password)

    outputs.append(run(cli, vault_env, tmp, "rotate", "plan", "plan.json", "-o", "rotation.json", *config))
    rotation = json.loads((tmp / "rotation.json").read_text())
    modes = {entry["database"]["user"]: (entry["mode"], entry["dynamic_blocked"]) for entry in rotation["secrets"]}
    assert {user: mode for user, (mode, _) in modes.items()} == {u: "static" for u, _ in s.users.values()}
    assert modes[s.users["ops"][0]][1], "a lookup-referenced credential cannot go dynamic"

    # -- static rotation: the old passwords refused, the references render the new ones --------------
    # An application's pooled connection, opened with the old password, keeps serving across the
    # switch (PostgreSQL checks a password at login only): its requests do not fail.
    pooled = pg.connect(*s.users["shop"])
    outputs.append(run(cli, vault_env, tmp, "rotate", "enable", "plan.json", "--wave", "all", "--state-dir", "state",
                       *config))
    assert pooled.execute(f"SELECT count(*) FROM orders_{s.tag}").fetchone() == (0,)
    pooled.close()
    restart = next(line for line in outputs[-1].splitlines() if "restart the agents" in line)
    assert restart.count("vaultshift-agent-") == 2  # app.ini's and the .env's; the lookup needs a deploy
    for user, password in s.users.values():
        assert not pg.logs_in(user, password), user
    shop_user, _ = s.users["shop"]
    rendered = s.render("etc/shop/app.ini")
    assert f"user = {shop_user}\n" in rendered
    static_password = re.search(r"^password = (.+)$", rendered, re.M).group(1)
    assert pg.logs_in(shop_user, static_password)
    crm_user, _ = s.users["crm"]
    url = re.search(r"DATABASE_URL=postgresql://([^:]+):([^@]+)@", s.render("srv/crm/.env"))
    assert url.group(1) == crm_user and pg.logs_in(crm_user, url.group(2))
    lookup = s.file("group_vars/all.yml").read_text()
    assert "backend='database'" in lookup and "static-creds/" in lookup
    term = re.search(r"'(static-creds/[^'#]+)#password'", lookup).group(1)
    ops_user, _ = s.users["ops"]
    backend = choose_backend({"config": str(s.config), "backend": "database", "url": s.bao.addr,
                              "token": s.bao.token}).build()
    assert pg.logs_in(ops_user, backend.read_secret(term).fields["password"])
    # The next deploy: the real ansible-playbook reads the switched group_vars through the lookup.
    deployed = tmp / "deployed.txt"
    book = ("- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy:\n"
            f"        dest: {deployed}\n"
            "        content: \"{{ db_user }} {{ db_password }}\"\n      no_log: true\n")
    done = run_playbook(s.root, book, "web01 ansible_connection=local\n",
                        env={"VAULT_ADDR": s.bao.addr, "VAULT_TOKEN": s.bao.token, "VAULTSHIFT_CONFIG": str(s.config)})
    assert done.returncode == 0, done.stdout + done.stderr
    user, password = deployed.read_text().split(" ")
    assert user == ops_user and pg.logs_in(user, password) and password not in done.stdout + done.stderr
    deployed.unlink()
    # A second enable changes nothing.
    again = run(cli, vault_env, tmp, "rotate", "enable", "plan.json", "--wave", "all", "--state-dir", "state", *config)
    assert "already static" in again
    status = run(cli, vault_env, tmp, "rotate", "status", "plan.json", "--state-dir", "state", *config)
    assert status.count(" static ") == 3 and status.count(" 0d ") == 3, status
    assert "3 rotating (100%)" in status and "0 older than 90 days" in status

    # -- dynamic: a user per lease, with the static user's grants -----------------------------------------
    outputs.append(run(cli, vault_env, tmp, "rotate", "dynamic", "plan.json", "--wave", "all", "--state-dir", "state",
                       *config))
    assert "creds/" in s.template("etc/shop/app.ini").read_text()
    rendered = s.render("etc/shop/app.ini")
    dynamic_user = re.search(r"^user = (.+)$", rendered, re.M).group(1)
    dynamic_password = re.search(r"^password = (.+)$", rendered, re.M).group(1)
    assert dynamic_user != shop_user and pg.role_exists(dynamic_user)
    with psycopg.connect(host="127.0.0.1", port=pg.port, user=dynamic_user, password=dynamic_password,
                         dbname="postgres", connect_timeout=5) as conn:
        conn.execute(f"SELECT * FROM orders_{s.tag}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT * FROM salaries_{s.tag}")
    url = re.search(r"DATABASE_URL=postgresql://([^:]+):([^@]+)@", s.render("srv/crm/.env"))
    assert url.group(1) != crm_user and pg.logs_in(url.group(1), url.group(2))
    assert "static-creds/" in s.file("group_vars/all.yml").read_text(), "the lookup stays on static rotation"

    # -- rollback: dynamic -> static (leases revoked: the users are gone) ------------------------------------
    outputs.append(run(cli, vault_env, tmp, "rotate", "rollback", "plan.json", "--wave", "all", "--state-dir", "state",
                       *config))
    assert not pg.role_exists(dynamic_user) and not pg.role_exists(url.group(1))
    rendered = s.render("etc/shop/app.ini")
    assert f"user = {shop_user}\n" in rendered and "creds/" not in s.template("etc/shop/app.ini").read_text() \
        .replace("static-creds/", "")

    # -- rollback: static -> KV (the current password stored; the references as apply left them) ---------
    outputs.append(run(cli, vault_env, tmp, "rotate", "rollback", "plan.json", "--wave", "all", "--state-dir", "state",
                       *config))
    assert {name: s.template(name).read_bytes() for name in migrated_templates} == migrated_templates
    assert {name: s.file(name).read_bytes() for name in migrated} == migrated
    rendered = s.render("etc/shop/app.ini")
    assert pg.logs_in(shop_user, re.search(r"^password = (.+)$", rendered, re.M).group(1))
    status = run(cli, vault_env, tmp, "rotate", "status", "plan.json", "--state-dir", "state", *config)
    assert status.count(" kv ") == 3

    # No password in any output, the rotation plan, the journal (its tables included), a companion
    # or any other file the runs left.
    everything = "\n".join(outputs) + everything_written(tmp)
    for _, password in s.users.values():
        assert password not in everything
    assert static_password not in everything and dynamic_password not in everything
    assert pg.password not in everything  # the admin's


def test_a_failing_secret_rolls_its_wave_back_and_stops(cli, vault_env, setup: Setup) -> None:
    s, pg = setup, setup.pg
    tmp = s.tmp
    config = ["--config", str(s.config)]
    run(cli, vault_env, tmp, "plan", str(s.root), "-o", "plan.json", *config)
    run(cli, vault_env, tmp, "apply", "plan.json", "--state-dir", "state", "--agent-check", "never", *config)
    before = {name: s.template(name).read_bytes() for name in ("etc/shop/app.ini", "srv/crm/.env")}
    lookup_before = s.file("group_vars/all.yml").read_bytes()
    # The last secret's stored password no longer logs in (changed behind the migration's back):
    # the two before it are switched first, then rolled back.
    run(cli, vault_env, tmp, "rotate", "plan", "plan.json", "-o", "rotation.json", *config)
    order = [entry["database"]["user"] for entry in json.loads((tmp / "rotation.json").read_text())["secrets"]]
    broken = next(name for name, (user, _) in s.users.items() if user == order[-1])
    broken_user, broken_password = s.users[broken]
    with pg.connect() as admin:
        admin.execute(f"ALTER ROLE {broken_user} PASSWORD 'changed-elsewhere-{s.tag}'")
    out = run(cli, vault_env, tmp, "rotate", "enable", "plan.json", "--wave", "all", "--state-dir", "state", *config,
              expect=1)
    assert "FAILED, stopped" in out and "does not log in" in out
    assert "rolled back 2 secret(s)" in out
    # Every file as apply left it; the users switched first are back on KV, which holds their
    # current password (the leaked one stays refused); nothing is managed by the engine.
    assert {name: s.template(name).read_bytes() for name in before} == before
    assert s.file("group_vars/all.yml").read_bytes() == lookup_before
    kv = s.bao.client().secrets.kv.v2
    for entry in json.loads((tmp / "rotation.json").read_text())["secrets"]:
        user, ref = entry["database"]["user"], entry["ref"]
        stored = kv.read_secret_version(path=f"{s.prefix}/{ref['path']}", raise_on_deleted_version=False)
        if user != broken_user:
            assert pg.logs_in(user, stored["data"]["data"][ref["field"]]), user
        leaked = next(password for u, password in s.users.values() if u == user)
        assert not pg.logs_in(user, leaked), user
    roles = s.bao.client().list(f"{s.mount}/static-roles") or {}
    assert not (roles.get("data") or {}).get("keys")
    assert broken_password not in out
