"""The fleet migration ``vaultshift.secrets.migrate`` / ``vaultshift.secrets.rollback`` and the host
module ``vaultshift.secrets.files``, through the real ansible-playbook against the session's real
OpenBao dev server.

A fleet of three hosts on this machine (``ansible_connection=local``, each with its own root
directory; db1's modules run on the system Python, which has no vaultshift and no Ansible) holds
YAML, INI, .env and Ansible group_vars files with fake secrets made at run time; one password
is shared by two hosts. It is planned with the real CLI (``vaultshift plan web1=ROOT ...``),
migrated at ``-vvvv --diff``, migrated again, and rolled back. Other fleets are migrated in
check mode, with a file changed after the plan, and with an unreachable vault. No planted value
may appear in any output, result, journal, temporary directory or file other than its own.
In-process tests drive the module's protocol and the engine over it directly.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import secrets
import socket
import stat
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac.exceptions
import pytest
import yaml
from ansible_run import BIN, PLUGINS, ansible, plugin, run_playbook
from assertions import assert_no_canary
from servers import BaoServer
from test_rewrite_support import make_token  # conftest's, under a name that is not ambiguous

from migrator.apply.executor import Executor
from migrator.apply.files import FileWrite
from migrator.fingerprint import Fingerprinter
from migrator.plan import planfile
from migrator.plan.digest import FileDigester
from migrator.rewrite.atomic import TEMP_SUFFIX
from migrator.rewrite.base import COMPANION_DIR
from migrator.state.journal import Journal

HOSTS = ("web1", "web2", "db1")
CLI = BIN / "vaultshift"
SYSTEM_PYTHON = "/usr/bin/python3"
FILES = ("etc/app/config.yml", "etc/app/mail.ini", "srv/app/.env", "etc/ansible/group_vars/all/main.yml")




# -- canaries -------------------------------------------------------------------------------------






# -- a fleet --------------------------------------------------------------------------------------


@dataclass
class Fleet:
    base: Path  # the controller's working directory: plan, configuration, inventory, HOME, journals
    values: dict[str, str]
    originals: dict[Path, bytes]
    env: dict[str, str]
    prefix: str
    runs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)

    def root(self, host: str) -> Path:
        return self.base / "fleet" / host

    def now(self) -> dict[Path, bytes]:
        return {path: path.read_bytes() for path in self.originals}

    def plan(self) -> dict[str, Any]:
        return json.loads((self.base / "plan.json").read_text())


def plant(base: Path, bao: BaoServer, addr: str | None = None) -> Fleet:
    """Three hosts' files with fake secrets (web1 and web2 share the database password), a
    configuration with a prefix of the fleet's own, and the CLI's plan of them."""
    base.mkdir(parents=True, exist_ok=True)
    values = {"shared_db": make_token(24), "db1_db": make_token(24)}
    for host in HOSTS:
        values[f"{host}_smtp"] = make_token(20)
        values[f"{host}_api"] = make_token(32)
        values[f"{host}_vars"] = make_token(28)
    originals = {}
    for host in HOSTS:
        root = base / "fleet" / host
        db = values["db1_db"] if host == "db1" else values["shared_db"]
        texts = {
            "etc/app/config.yml": f"# {host}\ndatabase:\n  host: db.internal\n  password: \"{db}\"\n",
            "etc/app/mail.ini": f"[mail]\nhost = smtp.internal\nsmtp_password = {values[host + '_smtp']}\n",
            "srv/app/.env": f"APP_ENV=production\nAPI_TOKEN={values[host + '_api']}\n",
            "etc/ansible/group_vars/all/main.yml": f"app_name: shop\nvault_password: {values[host + '_vars']}\n",
        }
        for name, text in texts.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            originals[path] = path.read_bytes()
        (root / "etc/app/mail.ini").chmod(0o640)
    prefix = f"mig-{uuid.uuid4().hex[:10]}"
    vault = f"{{type: vault, prefix: {prefix}" + (f", addr: '{addr}', timeout: 1, retries: 0" if addr else "") + "}"
    (base / "vaultshift.yml").write_text(f"backends:\n  vault: {vault}\n")
    env = {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.token, "VAULTSHIFT_FINGERPRINT_KEY": secrets.token_hex(32)}
    fleet = Fleet(base, values, originals, env, prefix)
    sources = [f"{host}={fleet.root(host)}" for host in HOSTS]
    cli_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(base / "cli-home"), **env}
    planned = subprocess.run([str(CLI), "plan", *sources, "-o", "plan.json", "--no-progress"], cwd=base, env=cli_env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert planned.returncode == 0, planned.stderr
    fleet.runs.append(planned)
    return fleet


def inventory() -> str:
    hosts = "".join(f"{host}\n" for host in HOSTS)
    system = f" ansible_python_interpreter={SYSTEM_PYTHON}" if os.access(SYSTEM_PYTHON, os.X_OK) else ""
    return f"[fleet]\n{hosts}\n[fleet:vars]\nansible_connection=local\n".replace("db1\n", f"db1{system}\n", 1)


def book(module: str, options: str = "", extra: str = "") -> str:
    """A play running ``module`` on the fleet; each host's result kept in results/<name>/<host>.json."""
    return f"""- hosts: fleet
  gather_facts: false
  tasks:
    - name: {module}
      vaultshift.secrets.{module}:
        {options or '{}'}
      register: out
      ignore_errors: true
{extra}
    - name: keep the result
      ansible.builtin.copy:
        content: "{{{{ out | to_nice_json }}}}"
        dest: "{{{{ results }}}}/{{{{ inventory_hostname }}}}.json"
        mode: "0600"
      delegate_to: localhost
      changed_when: false
      check_mode: false
"""


def play(fleet: Fleet, name: str, playbook: str, *args: str, env: dict[str, str] | None = None,
         ) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]]:
    results = fleet.base / "results" / name
    results.mkdir(parents=True)
    proc = run_playbook(fleet.base, playbook, inventory(), "-e", f"results={results}", *args,
                        env={**fleet.env, **(env or {})})
    fleet.runs.append(proc)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc, {host: json.loads((results / f"{host}.json").read_text()) for host in HOSTS
                  if (results / f"{host}.json").exists()}


def stored(bao: BaoServer, fleet: Fleet) -> dict[str, str]:
    """path#field -> value, of every secret of the plan found in the vault."""
    client = bao.client()
    out = {}
    for secret in fleet.plan()["secrets"]:
        ref = secret["ref"]
        try:
            data = client.secrets.kv.v2.read_secret_version(path=f"{fleet.prefix}/{ref['path']}", mount_point="secret",
                                                            raise_on_deleted_version=True)["data"]["data"]
        except hvac.exceptions.InvalidPath:  # not there
            continue
        if ref["field"] in data:
            out[f"{ref['path']}#{ref['field']}"] = data[ref["field"]]
    return out


def everything_under(directory: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path, path.read_bytes().decode("latin-1")


# -- the whole migration, at -vvvv --------------------------------------------------------------


@dataclass
class Migration:
    fleet: Fleet
    first: subprocess.CompletedProcess[str]
    migrated: dict[str, dict[str, Any]]
    after: dict[Path, bytes]
    companions: list[str]  # after the migration, below the fleet
    in_vault: dict[str, str]
    again: dict[str, dict[str, Any]]
    again_proc: subprocess.CompletedProcess[str]
    after_again: dict[Path, bytes]
    refused: dict[str, dict[str, Any]]
    after_refused: dict[Path, bytes]
    back_proc: subprocess.CompletedProcess[str]
    back: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def migration(tmp_path_factory: pytest.TempPathFactory, bao: BaoServer) -> Migration:
    fleet = plant(tmp_path_factory.mktemp("migrate"), bao)
    first, migrated = play(fleet, "migrate", book("migrate", "plan: plan.json"), "-vvvv", "--diff")
    after = fleet.now()
    companions = sorted(str(p.relative_to(fleet.base / "fleet")) for p in (fleet.base / "fleet").rglob("*")
                        if p.is_file() and COMPANION_DIR in p.parts)
    in_vault = stored(bao, fleet)
    again_proc, again = play(fleet, "again", book("migrate", "plan: plan.json"))
    after_again = fleet.now()
    # With ANSIBLE_KEEP_REMOTE_FILES Ansible would leave the module's arguments (the originals,
    # values included) in a file on the host: the rollback fails before writing anything.
    _, refused = play(fleet, "refused", book("rollback"), env={"ANSIBLE_KEEP_REMOTE_FILES": "1"})
    after_refused = fleet.now()
    back_proc, back = play(fleet, "rollback", book("rollback"), "-vvvv", "--diff")
    return Migration(fleet, first, migrated, after, companions, in_vault, again, again_proc, after_again, refused,
                     after_refused, back_proc, back)


def test_every_file_is_rewritten_and_every_secret_is_in_the_vault(migration: Migration):
    fleet = migration.fleet
    plan = fleet.plan()
    assert {o["host"] for s in plan["secrets"] for o in s["occurrences"]} == set(HOSTS)
    for host in HOSTS:
        result = migration.migrated[host]
        assert result["changed"] is True and not result.get("failed"), result
        assert result["problems"] == []
        assert result["files_rewritten"] == 4 and result["files_already_done"] == 0
        assert result["rewritten"] == sorted(str(fleet.root(host) / name) for name in FILES)
        assert result["run_id"] and result["state_dir"] == f".vaultshift/hosts/{host}"
        assert (fleet.base / ".vaultshift" / "hosts" / host / "journal.sqlite").is_file()
    # 11 distinct values; the shared password is stored by one of web1 and web2, found by the other
    assert sum(migration.migrated[h]["secrets_stored"] for h in HOSTS) == 11
    assert sum(migration.migrated[h]["secrets_already_stored"] for h in HOSTS) == 1
    assert len(plan["secrets"]) == 11
    assert set(migration.in_vault.values()) == set(fleet.values.values())
    for path, data in migration.after.items():
        assert data != fleet.originals[path], path
        assert_no_canary(data.decode("latin-1"), fleet.values, str(path))
    web1 = fleet.root("web1")
    assert b"__VAULTSHIFT_AGENT__" in migration.after[web1 / "etc/app/config.yml"]
    assert b"lookup('vaultshift.secrets.secret'" in migration.after[web1 / "etc/ansible/group_vars/all/main.yml"]
    for host in HOSTS:  # an agent template, its agent configuration and unit for each agent-rendered file
        mine = [name for name in migration.companions if name.startswith(f"{host}/")]
        assert len(mine) == 9, mine
        assert {f"{host}/etc/app/.vaultshift/config.yml.ctmpl", f"{host}/etc/app/.vaultshift/mail.ini.ctmpl",
                f"{host}/srv/app/.vaultshift/.env.ctmpl"} <= set(mine)
    assert stat.S_IMODE((web1 / "etc/app/mail.ini").stat().st_mode) == 0o640  # kept
    assert not [p for p in fleet.base.rglob(f"*{TEMP_SUFFIX}")]


def test_a_second_run_changes_nothing(migration: Migration):
    for host in HOSTS:
        result = migration.again[host]
        assert result["changed"] is False and not result.get("failed"), result
        assert (result["secrets_stored"], result["files_rewritten"], result["files_already_done"]) == (0, 0, 4)
    recap = migration.again_proc.stdout[migration.again_proc.stdout.rindex("PLAY RECAP"):]
    assert recap.count("changed=0") == len(HOSTS) and "changed=1" not in recap
    assert migration.after_again == migration.after


def test_diff_mode_shows_hints_and_references_never_a_value(migration: Migration):
    fleet, out = migration.fleet, migration.first.stdout
    hints = {s["hint"] for s in fleet.plan()["secrets"]}
    assert all(hint in out for hint in hints), "each file's before shows its secrets' hints"
    assert "+  password: \"__VAULTSHIFT_AGENT__\"" in out
    assert "lookup('vaultshift.secrets.secret'" in out
    for host in HOSTS:
        diffs = migration.migrated[host]["diff"]
        assert sorted(d["before_header"] for d in diffs) == sorted(str(fleet.root(host) / n) for n in FILES)
        config = next(d for d in diffs if d["before_header"].endswith("config.yml"))
        assert config["after"] == migration.after[fleet.root(host) / "etc/app/config.yml"].decode()
        assert config["before"].startswith(f"# {host}\ndatabase:\n  host: db.internal\n  password: \"")
    back = migration.back["web1"]["diff"]
    config = next(d for d in back if d["before_header"].endswith("config.yml"))
    hint = next(s["hint"] for s in fleet.plan()["secrets"] if s["ref"]["field"] == "password"
                and any(o["host"] == "web1" for o in s["occurrences"]))
    assert config["after"] == f"# web1\ndatabase:\n  host: db.internal\n  password: \"{hint}\"\n"


def test_rollback_refuses_to_send_originals_through_a_temporary_file(migration: Migration):
    for host in HOSTS:
        result = migration.refused[host]
        assert result["failed"] is True and result["msg"].startswith("vaultshift.secrets.rollback sends file "
                                                                     "contents that hold secrets"), result
        assert "needs pipelining" in result["msg"]
    assert migration.after_refused == migration.after
    kept = list((migration.fleet.base / "home" / "ansible-remote").rglob("AnsiballZ_files.py"))
    assert kept, "Ansible kept its remote files (checked for canaries with everything else)"


def test_rollback_restores_every_byte(migration: Migration):
    fleet = migration.fleet
    for host in HOSTS:
        result = migration.back[host]
        assert result["changed"] is True and not result.get("failed"), result
        assert result["files_restored"] == 4 and result["problems"] == []
        # the last run that rewrote files still in place: the re-run took the files over
        assert result["rolled_back"] == migration.again[host]["run_id"] != migration.migrated[host]["run_id"]
        assert not [p for p in (fleet.root(host) / "etc/app" / COMPANION_DIR).iterdir()]
    assert fleet.now() == fleet.originals
    assert stat.S_IMODE((fleet.root("web2") / "etc/app/mail.ini").stat().st_mode) == 0o640


def test_no_planted_value_leaks_anywhere(migration: Migration):
    fleet = migration.fleet
    assert "ESTABLISH LOCAL CONNECTION" in migration.first.stdout  # the run was at -vvv or more
    for number, proc in enumerate(fleet.runs):
        assert_no_canary(proc.stdout, fleet.values, f"stdout of run {number}")
        assert_no_canary(proc.stderr, fleet.values, f"stderr of run {number}")
    checked = 0
    for path, text in everything_under(fleet.base):  # HOME, Ansible's temp dirs, journals, results, plan
        if fleet.base / "fleet" in path.parents:
            continue
        assert_no_canary(text, fleet.values, str(path))
        checked += 1
    assert checked >= 10
    journals = list((fleet.base / ".vaultshift" / "hosts").rglob("journal.sqlite*"))
    assert len(journals) >= len(HOSTS)
    # In the fleet, each value is back in its own files only (the shared one in two), nothing else.
    fleet_text = "\n".join(text for _, text in everything_under(fleet.base / "fleet"))
    for name, value in fleet.values.items():
        assert fleet_text.count(value) == (2 if name == "shared_db" else 1), name


# -- check mode, faults --------------------------------------------------------------------------


def test_check_mode_changes_nothing_and_says_what_would(tmp_path: Path, bao: BaoServer):
    fleet = plant(tmp_path, bao)
    proc, results = play(fleet, "check", book("migrate", "plan: plan.json"), "--check", "--diff")
    assert fleet.now() == fleet.originals
    assert stored(bao, fleet) == {}
    assert not (tmp_path / ".vaultshift").exists()
    assert not [p for p in tmp_path.rglob(COMPANION_DIR) if p.is_dir()]
    refs = {f"{s['ref']['path']}#{s['ref']['field']}": s for s in fleet.plan()["secrets"]}
    for host in HOSTS:
        result = results[host]
        assert result["changed"] is True and not result.get("failed") and result["run_id"] is None, result
        assert result["files_rewritten"] == 4 and len(result["rewritten"]) == 4
        assert result["msg"] == (f"{host}: would store {result['secrets_stored']} secrets (0 already there) and "
                                 "rewrite 4 files (0 already done), 0 problems")
        mine = {ref for ref, s in refs.items() if any(o["host"] == host for o in s["occurrences"])}
        assert set(result["stored"]) == mine  # nothing is there yet: every secret would be stored
        assert len(result["diff"]) == 4
    assert "changed=1" in proc.stdout
    for run in fleet.runs:
        assert_no_canary(run.stdout + run.stderr, fleet.values, "the check run's output")


def test_a_file_changed_after_the_plan_is_named_and_left_and_the_rest_goes_on(tmp_path: Path, bao: BaoServer):
    fleet = plant(tmp_path, bao)
    changed = fleet.root("web2") / "srv/app/.env"
    changed.write_text(changed.read_text() + "DEBUG=1\n")
    before = changed.read_bytes()
    _, results = play(fleet, "migrate", book("migrate", "plan: plan.json"))
    web2 = results["web2"]
    assert web2["failed"] is True
    assert web2["problems"] == [f"{changed}: changed since the plan was made; make the plan again"]
    assert web2["msg"] == f"web2: {changed}: changed since the plan was made; make the plan again"
    assert web2["files_rewritten"] == 3
    assert changed.read_bytes() == before
    for path, data in fleet.now().items():
        if path != changed:
            assert data != fleet.originals[path], path
    for host in ("web1", "db1"):
        assert not results[host].get("failed") and results[host]["files_rewritten"] == 4


def test_an_unreachable_vault_fails_the_task_in_one_line_and_rewrites_nothing(tmp_path: Path, bao: BaoServer):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    fleet = plant(tmp_path, bao, addr=dead)
    proc, results = play(fleet, "migrate", book("migrate", "plan: plan.json\n        agent_check: never"))
    assert fleet.now() == fleet.originals
    for host in HOSTS:
        result = results[host]
        assert result["failed"] is True and result["files_rewritten"] == 0, result
        assert "\n" not in result["msg"]
        assert "cannot connect" in result["msg"] and dead.split("//")[1] in result["msg"], result["msg"]
        assert result["msg"].endswith("more: see problems)")
    assert_no_canary(proc.stdout + proc.stderr, fleet.values, "the output")


# -- the collection's files -----------------------------------------------------------------------


def test_the_host_module_agrees_with_the_engine_on_names():
    module = plugin("modules.files")
    assert module.TEMP_SUFFIX == TEMP_SUFFIX and module.COMPANION_DIR == COMPANION_DIR


def test_the_documentation_modules_hold_only_documentation():
    for name in ("migrate", "rollback"):
        tree = ast.parse((PLUGINS / "modules" / f"{name}.py").read_text())
        assigned = {target.id for node in tree.body if isinstance(node, ast.Assign) for target in node.targets
                    if isinstance(target, ast.Name)}
        assert assigned == {"DOCUMENTATION", "EXAMPLES", "RETURN"}, name


@pytest.mark.parametrize("name", ["migrate", "rollback", "files"])
def test_documented_options_are_the_plugins_options(name: str):
    spec = (plugin(f"action.{name}") if name != "files" else plugin("modules.files")).ARGUMENT_SPEC
    documented = yaml.safe_load(plugin(f"modules.{name}").DOCUMENTATION)["options"]
    assert set(documented) == set(spec)
    for option, settings in spec.items():
        assert documented[option].get("type", "str") == settings.get("type", "str"), option
        assert documented[option].get("default") == settings.get("default"), option
        assert bool(documented[option].get("required")) == bool(settings.get("required")), option


def test_ansible_doc_renders_the_actions_and_the_module(tmp_path: Path):
    for name, words in {"migrate": ("plan", "state_dir", "agent_check", "problems", "rewritten"),
                        "rollback": ("run", "state_dir", "files_restored", "restored"),
                        "files": ("state", "paths", "sha256", "companions", "clean")}.items():
        shown = ansible("ansible-doc", f"vaultshift.secrets.{name}", home=tmp_path / "home")
        assert shown.returncode == 0, shown.stderr
        assert "[WARNING]" not in shown.stderr and "ERROR" not in shown.stderr, shown.stderr
        for word in (*words, "EXAMPLES", "RETURN VALUES"):
            assert word in shown.stdout, (name, word)


# -- the module's protocol and the engine over it, in this process -------------------------------


def module_call(check_mode: bool = False) -> Any:
    """The module's answers in this process, through JSON as over a connection; each request's
    arguments validated against the module's spec (defaults filled in)."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    module = plugin("modules.files")
    validator = ArgumentSpecValidator(module.ARGUMENT_SPEC)
    calls: list[dict[str, Any]] = []

    def call(request: dict[str, Any], private: bool) -> dict[str, Any]:
        validated = validator.validate(json.loads(json.dumps(request)))
        assert not validated.error_messages, validated.error_messages
        calls.append({"state": request["state"], "private": private})
        return json.loads(json.dumps(module.respond(validated.validated_parameters, check_mode)))

    call.calls = calls  # type: ignore[attr-defined]
    return call


def test_the_module_writes_only_what_has_the_expected_digest(tmp_path: Path):
    host_files = plugin("plugin_utils.host_files").HostFiles(module_call())
    app = tmp_path / "etc/app"
    app.mkdir(parents=True)
    (app / "a.conf").write_bytes(b"password = one\n")
    (app / "a.conf").chmod(0o640)
    (app / "b.conf").write_bytes(b"password = two\n")
    (app / "link.conf").symlink_to(app / "a.conf")
    (app / f".0123456789abcdef{TEMP_SUFFIX}").write_bytes(b"left by a killed run")
    read = host_files.read([str(app / "a.conf"), str(app / "b.conf"), str(app / "none.conf"), str(app / "link.conf"),
                            str(app)])
    assert read[str(app / "a.conf")] == b"password = one\n"
    assert host_files.stat(str(app / "a.conf")).mode == 0o640
    assert isinstance(read[str(app / "none.conf")], FileNotFoundError)
    assert "symbolic links" in str(read[str(app / "link.conf")])  # ELOOP, worded as this machine words it
    assert read[str(app)].strerror == "not a regular file"

    assert host_files.remove_stale_temporaries([str(app)]) == 1
    (app / "b.conf").write_bytes(b"password = changed meanwhile\n")
    companion = str(app / COMPANION_DIR / "a.conf.ctmpl")
    errors = host_files.write([
        FileWrite(str(app / "a.conf"), b"password = __VAULTSHIFT_AGENT__\n", {companion: b"tmpl"}, {companion: 0o640},
                  expected=b"password = one\n"),
        FileWrite(str(app / "b.conf"), b"password = __VAULTSHIFT_AGENT__\n", expected=b"password = two\n"),
        FileWrite(str(app / "link.conf"), b"x", expected=b"password = one\n"),
        FileWrite("relative.conf", b"x", expected=b""),
    ])
    assert errors == [None, "changed since it was read", "Too many levels of symbolic links", "not an absolute path"]
    assert (app / "a.conf").read_bytes() == b"password = __VAULTSHIFT_AGENT__\n"
    assert stat.S_IMODE((app / "a.conf").stat().st_mode) == 0o640
    assert stat.S_IMODE(os.stat(companion).st_mode) == 0o640
    assert stat.S_IMODE((app / COMPANION_DIR).stat().st_mode) == 0o700
    assert (app / "b.conf").read_bytes() == b"password = changed meanwhile\n"
    assert not [p for p in app.rglob(f"*{TEMP_SUFFIX}")]
    # A rollback's write: the file back, then its companions removed; private (values in it).
    back = plugin("plugin_utils.host_files").HostFiles(module_call(), private_writes=True)
    back._call.calls.clear()
    assert back.write([FileWrite(str(app / "a.conf"), b"password = one\n", remove=(companion,),
                                 expected=b"password = __VAULTSHIFT_AGENT__\n")]) == [None]
    assert back._call.calls == [{"state": "written", "private": True}]
    assert (app / "a.conf").read_bytes() == b"password = one\n" and not os.path.exists(companion)


def test_in_check_mode_the_module_checks_and_writes_nothing(tmp_path: Path):
    host_files = plugin("plugin_utils.host_files").HostFiles(module_call(check_mode=True))
    target = tmp_path / "a.conf"
    target.write_bytes(b"one\n")
    assert host_files.write([FileWrite(str(target), b"two\n", expected=b"one\n"),
                             FileWrite(str(target), b"two\n", expected=b"other\n")]) == \
        [None, "changed since it was read"]
    assert target.read_bytes() == b"one\n"


def test_the_engine_over_the_module_refuses_a_file_changed_between_read_and_write(tmp_path: Path, bao: BaoServer,
                                                                                 monkeypatch: pytest.MonkeyPatch):
    """The race a remote host allows (a write after the engine read the file): the module
    refuses that file, the journal marks it failed, the other files are rewritten."""
    fleet = plant(tmp_path, bao)
    key = bytes.fromhex(fleet.env["VAULTSHIFT_FINGERPRINT_KEY"])
    for name, value in fleet.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    plan = plugin("plugin_utils.host_files").host_plan(planfile.load(tmp_path / "plan.json"), "web1")
    assert {o.host for s in plan.secrets for o in s.occurrences} == {"web1"}
    victim = fleet.root("web1") / "etc/app/mail.ini"
    module = plugin("modules.files")
    real = module.respond

    def meddling(params: dict[str, Any], check_mode: bool = False) -> dict[str, Any]:
        if params["state"] == "written" and params["files"]:
            victim.write_text(victim.read_text() + "; edited meanwhile\n")
        return real(params, check_mode)

    monkeypatch.setattr(module, "respond", meddling)
    from migrator.cli.apply import make_executor
    from migrator.config import load_config

    with Journal(tmp_path / "state") as journal:
        executor: Executor = make_executor(plan, load_config(None), journal, Fingerprinter(key), FileDigester(key),
                                           "never", 4, files=plugin("plugin_utils.host_files").HostFiles(module_call()))
        result = executor.apply()
        assert [str(p) for p in result.problems] == [f"{victim}: not rewritten: changed since it was read"]
        assert result.files_rewritten == 3
        assert [f.state for f in journal.files(result.run_id) if f.path == str(victim)] == ["failed"]
    assert fleet.values["web1_smtp"] in victim.read_text()
    assert hashlib.sha256(victim.read_bytes()).hexdigest() != hashlib.sha256(fleet.originals[victim]).hexdigest()
