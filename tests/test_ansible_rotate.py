"""The action ``vaultshift.secrets.rotate`` through the real ansible-playbook, against the session's
real PostgreSQL and OpenBao, on a two-host local fleet migrated by the real CLI
(``vaultshift plan web1=ROOT web2=ROOT`` + ``apply``): web1 and web2 share one database user (an
agent-rendered INI file) and each has its own (a connection URL in an agent-rendered .env, beside
an API token). Two hosts keep the runs short; the waves still differ (web1 is the canary, the
shared user waits for web2's wave).

One play runs each step the way the fleet playbook does, and a few it must refuse: the hosts'
classification (users, hosts and ports; never a value), every step in check mode (nothing
changes: not a file, not a password, not the journal), a step without the hosts' classification,
an unknown wave, a wave whose shared secret is on a host that did not classify. The fleet itself
(:class:`RotationFleet`) is also playbooks/phase3_rotate.yml's test fleet."""

from __future__ import annotations

import ast
import json
import os
import secrets
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from ansible_run import BIN, PLUGINS, ansible, plugin, run_playbook
from assertions import assert_no_canary
from servers import BaoServer, PostgresServer, make_value

from migrator.rewrite.verify import render_with_agent

HOSTS = ("web1", "web2")
CLI = BIN / "vaultshift"
INI, ENV = "etc/app/app.ini", "srv/app/.env"


@dataclass
class RotationFleet:
    """The hosts' migrated files, their database users, the configuration and the plan; every
    name unique to the fleet (the servers are the session's)."""

    base: Path  # the controller's working directory: plan, configuration, journals, HOME
    pg: PostgresServer
    bao: BaoServer
    tag: str
    users: dict[str, tuple[str, str]]  # shared, web1, web2 -> (user, its password before phase 3)
    values: dict[str, str]  # every planted value by name (canaries)
    env: dict[str, str]
    prefix: str
    mount: str
    runs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)

    def root(self, host: str) -> Path:
        return self.base / "fleet" / host

    def template(self, host: str, name: str) -> Path:
        path = self.root(host) / name
        return path.parent / ".vaultshift" / f"{path.name}.ctmpl"

    def render(self, host: str, name: str) -> str:
        return render_with_agent(self.template(host, name).read_bytes(), address=self.bao.addr,
                                 token=self.bao.token).decode()

    def files(self) -> dict[Path, bytes]:
        """Every file of the fleet (the migrated ones and their companions)."""
        return {p: p.read_bytes() for p in sorted((self.base / "fleet").rglob("*")) if p.is_file()}

    def plan(self) -> dict[str, Any]:
        return json.loads((self.base / "plan.json").read_text())

    def inventory(self, **extra: Any) -> str:
        hosts = {host: {"ansible_connection": "local"} for host in HOSTS}
        return json.dumps({"all": {"hosts": hosts, "vars": {
            "vaultshift_config": str(self.base / "vaultshift.yml"),
            "vaultshift_plan_file": str(self.base / "plan.json"), **extra}}})

    def play(self, name: str, playbook: str, *args: str, **inventory: Any) -> subprocess.CompletedProcess[str]:
        """``playbook`` run from the fleet's working directory (its journals there)."""
        proc = run_playbook(self.base, playbook, self.inventory(**inventory), *args, env=self.env)
        (self.base / f"{name}.log").write_text(proc.stdout + proc.stderr)
        self.runs.append(proc)
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc

    def role_exists(self, user: str) -> bool:
        with self.pg.connect() as admin:
            return admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone() is not None

    def logs_in(self, user: str, password: str) -> bool:
        try:
            self.pg.connect(user, password).close()
        except psycopg.OperationalError:
            return False
        return True


def plant(base: Path, pg: PostgresServer, bao: BaoServer) -> RotationFleet:
    """The fleet's users and files, planned and migrated by the CLI (agent templates everywhere)."""
    tag = uuid.uuid4().hex[:8]
    users = {name: (f"{name}_{tag}", make_value()) for name in ("shared", *HOSTS)}
    values = {f"{name}_password": password for name, (_, password) in users.items()}
    values |= {f"{host}_api": make_value(32) for host in HOSTS}
    values["admin_password"] = pg.password
    with pg.connect() as admin:
        admin.execute(f"CREATE TABLE orders_{tag} (id int)")
        for user, password in users.values():
            admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
            admin.execute(f"GRANT SELECT ON orders_{tag} TO {user}")
    prefix, mount = f"rot-{tag}", f"db-{tag}"
    bao.client().secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/admin/pg", secret={"username": pg.superuser, "password": pg.password})
    shared_user, shared_password = users["shared"]
    for host in HOSTS:
        own_user, own_password = users[host]
        texts = {INI: f"[database]\nhost = 127.0.0.1\nport = {pg.port}\nuser = {shared_user}\n"
                      f"password = {shared_password}\nname = postgres\n",
                 ENV: f"API_TOKEN={values[host + '_api']}\n"
                      f"DATABASE_URL=postgresql://{own_user}:{own_password}@127.0.0.1:{pg.port}/postgres\n"}
        for name, text in texts.items():
            path = base / "fleet" / host / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    (base / "vaultshift.yml").write_text(
        f"backends:\n  vault: {{type: vault, prefix: {prefix}}}\n  database: {{type: vault-database, mount: {mount}}}\n"
        "rotation:\n  rotation_period: 3600\n  dynamic: {default_ttl: 600, max_ttl: 1200}\n"
        f"  databases:\n    - {{name: pg-{tag}, match: {{host: 127.0.0.1, port: {pg.port}}}, admin: admin/pg}}\n")
    env = {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.token, "VAULTSHIFT_FINGERPRINT_KEY": secrets.token_hex(32)}
    fleet = RotationFleet(base, pg, bao, tag, users, values, env, prefix, mount)
    cli_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(base / "cli-home"), **env}
    for args in (["plan", *(f"{h}={fleet.root(h)}" for h in HOSTS), "-o", "plan.json", "--no-progress"],
                 ["apply", "plan.json", "--state-dir", "apply-state", "--agent-check", "never"]):
        done = subprocess.run([str(CLI), *args, "--config", "vaultshift.yml"], cwd=base, env=cli_env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        fleet.runs.append(done)
    return fleet


@pytest.fixture
def fleet(tmp_path: Path, postgres: PostgresServer, bao: BaoServer) -> RotationFleet:
    return plant(tmp_path, postgres, bao)


# -- each step as a task: classify, check mode, refusals --------------------------------------------

STEPS_PLAY = """- hosts: all
  gather_facts: false
  module_defaults:
    vaultshift.secrets.rotate:
      plan: "{{ vaultshift_plan_file }}"
      config: "{{ vaultshift_config }}"
  tasks:
    - name: classify
      vaultshift.secrets.rotate:
        step: classify
      register: classify

    - name: gather
      ansible.builtin.set_fact:
        classified: "{{ ansible_play_hosts | map('extract', hostvars, 'classify') | map(attribute='classified')
                        | flatten }}"
      run_once: true

    - name: vault, in check mode
      vaultshift.secrets.rotate: {step: vault, action: enable, wave: all, classified: "{{ classified }}"}
      check_mode: true
      run_once: true
      delegate_to: localhost
      register: vault_check

    - name: references, in check mode
      vaultshift.secrets.rotate: {step: references, action: enable, wave: all, classified: "{{ classified }}"}
      check_mode: true
      when: inventory_hostname in vault_check.hosts
      register: references_check

    - name: finish, in check mode
      vaultshift.secrets.rotate: {step: finish, action: enable, wave: all, classified: "{{ classified }}"}
      check_mode: true
      run_once: true
      delegate_to: localhost
      register: finish_check

    - name: vault without the classification
      vaultshift.secrets.rotate: {step: vault, action: enable, wave: all}
      run_once: true
      delegate_to: localhost
      register: unclassified
      ignore_errors: true

    - name: an unknown wave
      vaultshift.secrets.rotate: {step: vault, action: enable, wave: web, classified: "{{ classified }}"}
      run_once: true
      delegate_to: localhost
      register: unknown_wave
      ignore_errors: true

    - name: web2 left out of the classification
      vaultshift.secrets.rotate:
        step: vault
        action: enable
        wave: rest
        classified: "{{ classified | selectattr('host', 'equalto', 'web1') | list }}"
      run_once: true
      delegate_to: localhost
      register: web2_left_out
      ignore_errors: true

    - name: keep the results
      ansible.builtin.copy:
        content: "{{ dict(classify=classify, vault_check=vault_check, references_check=references_check,
                          finish_check=finish_check, unclassified=unclassified, unknown_wave=unknown_wave,
                          web2_left_out=web2_left_out) | to_nice_json }}"
        dest: "{{ playbook_dir }}/results-{{ inventory_hostname }}.json"
        mode: "0600"
      delegate_to: localhost
      check_mode: false
"""


@dataclass
class Steps:
    fleet: RotationFleet
    migrated: dict[Path, bytes]
    proc: subprocess.CompletedProcess[str]
    results: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer, bao: BaoServer) -> Steps:
    fleet = plant(tmp_path_factory.mktemp("rotate-steps"), postgres, bao)
    migrated = fleet.files()
    proc = fleet.play("steps", STEPS_PLAY)
    assert proc.returncode == 0, proc.stdout[-3000:]
    results = {host: json.loads((fleet.base / f"results-{host}.json").read_text()) for host in HOSTS}
    return Steps(fleet, migrated, proc, results)


def test_classify_says_what_each_secret_is_and_never_a_value(steps: Steps):
    fleet = steps.fleet
    plan = {s["fingerprint"]: s for s in fleet.plan()["secrets"]}
    for host in HOSTS:
        result = steps.results[host]["classify"]
        assert result["changed"] is False and not result.get("failed") and result["unreadable"] == []
        found = {entry["fingerprint"]: entry for entry in result["classified"]}
        mine = {fp for fp, s in plan.items() if any(o["host"] == host for o in s["occurrences"])}
        assert set(found) == mine and len(mine) == 3  # the shared user's, its own, its API token
        assert {entry["host"] for entry in found.values()} == {host}
        databases = {entry["database"]["user"]: entry for entry in found.values() if entry["category"] == "database"}
        assert set(databases) == {fleet.users["shared"][0], fleet.users[host][0]}
        for entry in databases.values():
            assert entry["database"]["host"] == "127.0.0.1" and entry["database"]["port"] == fleet.pg.port
            assert entry["database"]["database"] == "postgres"
        assert [entry["category"] for entry in found.values() if entry["category"] != "database"] == ["api-key"]
        assert result["msg"] == f"{host}: 3 secrets, 2 database credentials"
        assert_no_canary(json.dumps(result), fleet.values, f"{host}'s classification")


def test_check_mode_says_what_each_step_would_take_and_changes_nothing(steps: Steps):
    fleet = steps.fleet
    vault = steps.results["web1"]["vault_check"]
    assert vault["changed"] is False and not vault.get("failed"), vault
    assert vault["hosts"] == list(HOSTS) and vault["waves"] == ["canary", "rest"] and vault["moved"] == []
    rotations = {s["ref"]: (s["rotation"], s["mode"], s["wave"]) for s in vault["planned"]}
    assert sorted(rotations.values()) == sorted([("static", "kv", "canary"), ("static", "kv", "rest"),
                                                 ("static", "kv", "rest"), ("track", "kv", "canary"),
                                                 ("track", "kv", "rest")])
    assert vault["msg"] == ("wave all: check mode: enable (vault step) would take 5 secret(s); nothing changed "
                            "(a rotation cannot be simulated)")
    for host in HOSTS:
        references = steps.results[host]["references_check"]
        assert references["changed"] is False and len(references["planned"]) == 3, references
        assert references["msg"].startswith(f"{host}: check mode: enable (references step) would take 3 secret(s)")
    assert steps.results["web1"]["finish_check"]["changed"] is False
    assert fleet.files() == steps.migrated
    assert not (fleet.base / ".vaultshift").exists(), "no journal, not even an empty one"
    for name in ("shared", *HOSTS):
        assert fleet.logs_in(*fleet.users[name]), name
    assert_no_canary(steps.proc.stdout + steps.proc.stderr, fleet.values, "the play's output")


def test_a_step_without_its_inputs_or_with_an_unknown_wave_is_refused(steps: Steps):
    results = steps.results["web1"]
    assert results["unclassified"]["failed"] is True
    assert results["unclassified"]["msg"] == ("step vault needs classified (classified: the classify step's results "
                                              "of every host, merged)")
    assert results["unknown_wave"]["msg"] == "wave web: no such wave (the waves: canary, rest, or all)"


def test_a_wave_is_refused_when_a_host_holding_its_secret_did_not_classify(steps: Steps):
    result = steps.results["web1"]["web2_left_out"]
    assert result["failed"] is True
    assert result["msg"].endswith(": also on web2, which did not classify its files in this run; every host "
                                  "holding a secret of the wave must take part (its references move with the "
                                  "password)"), result["msg"]
    assert steps.fleet.files() == steps.migrated


# -- the collection's files -----------------------------------------------------------------------


def test_the_documentation_module_holds_only_documentation():
    tree = ast.parse((PLUGINS / "modules" / "rotate.py").read_text())
    assigned = {target.id for node in tree.body if isinstance(node, ast.Assign) for target in node.targets
                if isinstance(target, ast.Name)}
    assert assigned == {"DOCUMENTATION", "EXAMPLES", "RETURN"}


def test_documented_options_are_the_actions_options():
    spec = plugin("action.rotate").ARGUMENT_SPEC
    documented = yaml.safe_load(plugin("modules.rotate").DOCUMENTATION)["options"]
    assert set(documented) == set(spec)
    for option, settings in spec.items():
        for key in ("type", "default", "choices", "elements"):
            assert documented[option].get(key) == settings.get(key), (option, key)
        assert bool(documented[option].get("required")) == bool(settings.get("required")), option


def test_ansible_doc_renders_the_action(tmp_path: Path):
    shown = ansible("ansible-doc", "vaultshift.secrets.rotate", home=tmp_path / "home")
    assert shown.returncode == 0, shown.stderr
    assert "[WARNING]" not in shown.stderr and "ERROR" not in shown.stderr, shown.stderr
    for word in ("classify", "references", "classified", "moved", "units", "EXAMPLES", "RETURN VALUES"):
        assert word in shown.stdout, word
