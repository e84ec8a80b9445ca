"""playbooks/secret_zero.yml and the modules ``vaultshift.secrets.approle_identity`` /
``vaultshift.secrets.approle_unwrap`` through the real ansible-playbook, against the session's
real OpenBao dev server.

Three hosts on this machine (``ansible_connection=local``, each with its own identity directory;
web02's module runs on the system Python, which has neither vaultshift nor Ansible): web01 runs
shop, web02 billing, git01 no app. The roles come from the access model (policies and AppRole
roles applied in-process first, as ``vaultshift access apply`` does). The play delivers each app's
identity at -vvv: the files hold the role id and a secret id that logs in once with the app's
policy, mode 0600, root's; no secret id and no wrapping token appears in the output or under
Ansible's home. A second run delivers fresh secret ids and destroys the previous one that was
never used. Check mode makes none. A wrapping token someone unwrapped first fails the host's
task as an interception, naming the accessor, and writes nothing.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac.exceptions
import pytest
from ansible_run import REPO, run_playbook
from assertions import assert_no_canary
from servers import BaoServer, make_value

from migrator.access.engine import load_model, managed, policies_of
from migrator.access.model import AccessModel
from migrator.access.secret_zero import app_roles, deliver_secret_id, role_name, unwrap_secret_id
from migrator.access.vault_apply import apply_changes, plan_changes
from migrator.backends import make_backend
from migrator.backends.vault import VaultBackend
from migrator.config import load_config
from migrator.plan import planfile
from migrator.plan.models import Occurrence, Plan, PlannedSecret, ReferenceStyle, SecretRef

PLAYBOOK = (REPO / "playbooks" / "secret_zero.yml").read_text()
SYSTEM_PYTHON = "/usr/bin/python3"
HOSTS = {"web01": "shop", "web02": "billing", "git01": None}
TOKEN_SHAPED = re.compile(r"\b[sbhr]\.[A-Za-z0-9]{20,}")  # OpenBao service, batch, HMAC'd and recovery tokens
KEEP = """
- name: Keep each host's result
  hosts: all
  gather_facts: false
  tasks:
    - name: Keep it
      ansible.builtin.copy:
        content: "{{ vaultshift_identity | to_nice_json }}"
        dest: "{{ results }}/{{ inventory_hostname }}.json"
        mode: "0600"
      delegate_to: localhost
      check_mode: false
"""


@dataclass
class Site:
    """The controller's working directory (plan.json, vaultshift.yml, results), the hosts'
    identity directories, and the model the roles were applied from."""

    base: Path
    bao: BaoServer
    model: AccessModel
    backend: VaultBackend
    mount: str
    env: dict[str, str]
    runs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)

    def directory(self, host: str) -> Path:
        return self.base / "hosts" / host / "etc" / "vaultshift" / "approle"

    def inventory(self) -> str:
        lines = ["[fleet]"]
        for host in HOSTS:
            python = f" ansible_python_interpreter={SYSTEM_PYTHON}" if host == "web02" and os.access(
                SYSTEM_PYTHON, os.X_OK) else ""
            lines.append(f"{host} vaultshift_approle_dir={self.directory(host)}{python}")
        return "\n".join([*lines, "", "[fleet:vars]", "ansible_connection=local", ""])

    def play(self, name: str, *args: str, playbook: str = PLAYBOOK + KEEP,
             ok: bool = True) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]]:
        results = self.base / "results" / name
        results.mkdir(parents=True)
        proc = run_playbook(self.base, playbook, self.inventory(), "-e", f"results={results}", "-e",
                            f"vaultshift_config={self.base / 'vaultshift.yml'}", *args, env=self.env)
        self.runs.append(proc)
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert (proc.returncode == 0) == ok, proc.stdout[-4000:] + proc.stderr[-4000:]
        return proc, {host: json.loads((results / f"{host}.json").read_text()) for host in HOSTS
                      if (results / f"{host}.json").exists()}

    def secret_id(self, host: str) -> str:
        return (self.directory(host) / "secret_id").read_text().strip()

    def role_id(self, app: str) -> str:
        return str(self.bao.client().auth.approle.read_role_id(role_name(self.model, app),
                                                               mount_point=self.mount)["data"]["role_id"])

    def login(self, host: str) -> list[str]:
        """The policies of a login with the host's files (which spends the secret id)."""
        directory = self.directory(host)
        auth = self.bao.client().auth.approle.login((directory / "role_id").read_text().strip(), self.secret_id(host),
                                                    mount_point=self.mount, use_token=False)["auth"]
        return list(auth["policies"])

    def secret_ids(self, app: str) -> list[str]:
        """The accessors of the secret ids of ``app``'s role that exist now."""
        try:
            path = f"/v1/auth/{self.mount}/role/{role_name(self.model, app)}/secret-id"
            listed = self.bao.client().adapter.list(path)
        except hvac.exceptions.InvalidPath:
            return []
        return list(listed["data"]["keys"])


def make_site(base: Path, bao: BaoServer) -> Site:
    run = uuid.uuid4().hex[:8]
    mount = f"approle-{run}"
    bao.client().sys.enable_auth_method("approle", path=mount)
    secrets = []
    for host, app in HOSTS.items():
        if app is None:
            continue
        ref = SecretRef("vault", f"{run}/apps/{app}/db", "password")
        bao.client().secrets.kv.v2.create_or_update_secret(ref.path, secret={"password": make_value()},
                                                            mount_point="secret")
        secrets.append(PlannedSecret(f"fp:{app}", "password", ref, (Occurrence(
            f"/etc/{app}/config.yml", 0, 8, 1, "password", "yaml", ReferenceStyle.AGENT_TEMPLATE, "hmac:x", host,
            "/"),)))
    base.mkdir(parents=True, exist_ok=True)
    planfile.save(str(base / "plan.json"), Plan(tuple(secrets), ("/",), "key", "apps/{app}/{key}"))
    (base / "vaultshift.yml").write_text(
        f"backends:\n  vault: {{type: vault, addr: '{bao.addr}', auth: {{method: token, token_env: "
        f"VAULTSHIFT_TEST_TOKEN}}, timeout: 5}}\n"
        f"access:\n  prefix: s{run}\n  auth:\n    approle: {{mount: {mount}, wrap_ttl: 30s, token_ttl: 5m}}\n")
    env = {"VAULTSHIFT_TEST_TOKEN": bao.token}
    config = load_config(str(base / "vaultshift.yml"))
    model = load_model(planfile.load(str(base / "plan.json")), config)
    backend = make_backend("vault", config.backends["vault"])
    assert isinstance(backend, VaultBackend)
    apply_changes(plan_changes(managed(model, config, backend)
                               + app_roles(model, backend, policies_of(model, config))))
    return Site(base, bao, model, backend, mount, env)


def everything_under(directory: Path) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in sorted(directory.rglob("*"))
                   if p.is_file() and not p.is_symlink())


@pytest.fixture
def site(tmp_path: Path, bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> Site:
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao.token)
    return make_site(tmp_path / "site", bao)


def test_the_playbook_delivers_each_apps_identity_and_a_fresh_one_each_run(site: Site) -> None:
    first, results = site.play("first", "-vvv")
    assert results["git01"].get("skipped") is True and not site.directory("git01").exists()
    delivered = {host: site.secret_id(host) for host in ("web01", "web02")}
    for host in ("web01", "web02"):
        app = HOSTS[host]
        assert app is not None
        result = results[host]
        assert (result["changed"], result["app"], result["role"], result["previous"]) == (
            True, app, role_name(site.model, app), "none")
        directory = site.directory(host)
        assert (directory / "role_id").read_text().strip() == site.role_id(app)
        for name in ("role_id", "secret_id", "secret_id.accessor"):
            info = (directory / name).stat()
            assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o600, os.geteuid()), name
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert (directory / "secret_id.accessor").read_text().strip() == result["secret_id_accessor"]
        assert site.secret_ids(app) == [result["secret_id_accessor"]]
    assert f"{site.model.prefix}-app-shop" in site.login("web01")  # web01's secret id used; web02's not

    second, again = site.play("second")
    for host in ("web01", "web02"):
        assert site.secret_id(host) != delivered[host]
        assert again[host]["previous_accessor"] == results[host]["secret_id_accessor"]
    assert again["web01"]["previous"] == "gone" and again["web02"]["previous"] == "destroyed"
    assert site.secret_ids("billing") == [again["web02"]["secret_id_accessor"]]  # the unused one destroyed
    assert f"{site.model.prefix}-app-billing" in site.login("web02")
    with pytest.raises(hvac.exceptions.InvalidRequest):  # used up: single use
        site.login("web02")

    canaries = {f"{host} {run}": value for run, ids in (("first", delivered), ("second", {
        h: site.secret_id(h) for h in ("web01", "web02")})) for host, value in ids.items()}
    for proc in (first, second):
        output = proc.stdout + proc.stderr
        assert_no_canary(output, canaries, "ansible-playbook's output")
        assert not TOKEN_SHAPED.findall(output), "a token-shaped string in the output"
        assert "ESTABLISH LOCAL CONNECTION" in first.stdout  # -vvv was on
    home = everything_under(site.base / "home") + everything_under(site.base / "results")
    assert_no_canary(home, canaries, "Ansible's home, temporary directories and results")
    assert not TOKEN_SHAPED.findall(home)


def test_check_mode_makes_no_secret_id(site: Site) -> None:
    _, results = site.play("check", "--check")
    assert results["web01"]["changed"] is True and "would be delivered" in results["web01"]["msg"]
    assert site.secret_ids("shop") == [] and not site.directory("web01").exists()


def test_a_wrapping_token_unwrapped_first_by_someone_else_fails_the_host_as_an_interception(site: Site) -> None:
    wrapped = deliver_secret_id(site.backend, site.model, "shop", 30)
    unwrap_secret_id(site.bao.addr, wrapped.token)  # someone on the way got there first
    vars_file = site.base / "stolen.yml"
    vars_file.write_text(json.dumps({"token": wrapped.token, "role_id": wrapped.role_id,
                                     "accessor": wrapped.accessor, "made_at": wrapped.creation_path}))
    vars_file.chmod(0o600)
    playbook = f"""- hosts: web01
  gather_facts: false
  vars_files: [{vars_file}]
  tasks:
    - name: Unwrap on the host
      vaultshift.secrets.approle_unwrap:
        address: {site.bao.addr}
        wrapping_token: "{{{{ token }}}}"
        role_id: "{{{{ role_id }}}}"
        secret_id_accessor: "{{{{ accessor }}}}"
        creation_path: "{{{{ made_at }}}}"
        role_id_file: "{{{{ vaultshift_approle_dir }}}}/role_id"
        secret_id_file: "{{{{ vaultshift_approle_dir }}}}/secret_id"
"""
    proc, _ = site.play("stolen", "-vvv", playbook=playbook, ok=False)
    output = proc.stdout + proc.stderr
    assert f"revoke the secret id accessor {wrapped.accessor} and investigate" in output
    assert '"spent": true' in output
    assert wrapped.token not in output and not TOKEN_SHAPED.findall(output)
    assert not site.directory("web01").exists()


def test_a_host_that_cannot_unwrap_leaves_no_usable_secret_id(site: Site, bao_private: BaoServer) -> None:
    """web01 is pointed at another vault, where the wrapping token does not exist: to the host it
    looks spent, as an intercepted token does. The controller destroys the secret id it made."""
    proc, _ = site.play("elsewhere", "-e", f"vaultshift_vault_addr={bao_private.addr}", "--limit", "web01", ok=False)
    [message] = re.findall(r'"msg": "(web01: shop: .*)"', proc.stdout)
    assert "the wrapped secret id was unwrapped before it reached the host: someone else held the wrapping token" \
        in message and message.endswith("was destroyed; investigate (the audit log has who unwrapped it)")
    assert site.secret_ids("shop") == [] and not site.directory("web01").exists()
    assert not TOKEN_SHAPED.findall(proc.stdout + proc.stderr)
