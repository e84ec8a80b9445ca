"""The runtime lookup ``vaultshift.secrets.secret`` through the real ansible-playbook against a real
``bao server -dev`` (and moto for Secrets Manager): keys, whole secrets, backends by name, one
login per run shared by the forked workers (counted in the server's audit log), the session's end
(its socket gone, its token revoked), clear one-line errors, and no credential on a command line
or on disk."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible_run import ansible, run_playbook, runtime_dir
from servers import BaoServer, MotoServer, bao_server, make_value

from migrator.backends import make_backend
from migrator.plan.models import SecretRef
from migrator.session.wire import private_dir

LOOKUP = "vaultshift.secrets.secret"


def inventory(hosts: int) -> str:
    return "".join(f"h{number:02d} ansible_connection=local\n" for number in range(hosts))


def template_book(expression: str, out: Path, extra_task: str = "") -> str:
    """A play that writes ``expression`` rendered for each host to ``out/<host>.txt``."""
    return f"""- hosts: all
  gather_facts: false
  tasks:
    - name: render
      ansible.builtin.copy:
        dest: "{out}/{{{{ inventory_hostname }}}}.txt"
        content: "{expression}"
{extra_task}"""


def vault_env(server: BaoServer, **extra: str) -> dict[str, str]:
    return {"VAULT_ADDR": server.addr, "VAULT_TOKEN": server.token, **extra}


def put(server: BaoServer, path: str, **fields: str) -> None:
    server.client().secrets.kv.v2.create_or_update_secret(path=path, secret=fields, mount_point="secret")


def sessions(workdir: Path) -> list[str]:
    """What the lookup sessions of the runs in ``workdir`` left in their private directory
    (tests/ansible_run.py gives the runs of each home a runtime directory of their own)."""
    return sorted(p.name for p in (runtime_dir(workdir / "home") / "vaultshift").glob("session-*"))


def wait_until_gone(workdir: Path, timeout: float = 5) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sessions(workdir):
        time.sleep(0.1)
    return sessions(workdir)


# ---- reading -------------------------------------------------------------------------------------

def test_a_key_and_a_whole_secret_on_several_hosts(bao: BaoServer, tmp_path: Path):
    password, user = make_value(), "app"
    put(bao, "apps/lookup1/db", password=password, user=user)
    out = tmp_path / "out"
    out.mkdir()
    expression = (f"{{{{ lookup('{LOOKUP}', 'apps/lookup1/db#password') }}}} "
                  f"{{{{ lookup('{LOOKUP}', 'apps/lookup1/db') | to_json }}}}")
    proc = run_playbook(tmp_path, template_book(expression, out), inventory(4), env=vault_env(bao))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for number in range(4):
        key, whole = (out / f"h{number:02d}.txt").read_text().split(" ", 1)
        assert key == password
        assert json.loads(whole) == {"password": password, "user": user}
    assert password not in proc.stdout + proc.stderr
    assert wait_until_gone(tmp_path) == []  # the session ended with the run


def test_a_value_that_looks_like_a_template_is_not_templated(bao: BaoServer, tmp_path: Path):
    put(bao, "apps/lookup2/odd", value="{{ 7 * 6 }}-{% raw %}x")
    out = tmp_path / "out"
    out.mkdir()
    proc = run_playbook(tmp_path, template_book(f"{{{{ lookup('{LOOKUP}', 'apps/lookup2/odd#value') }}}}", out),
                        inventory(1), env=vault_env(bao))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "h00.txt").read_text() == "{{ 7 * 6 }}-{% raw %}x"


def test_a_backend_named_in_the_configuration_reads_secrets_manager(moto: MotoServer, aws_env: dict[str, str],
                                                                    bao: BaoServer, tmp_path: Path):
    value = make_value()
    aws = make_backend("aws", moto.settings())
    aws.store(SecretRef("aws", "apps/lookup3/stripe", "key"), value, {"source": "t"})
    config = tmp_path / "vaultshift.yml"
    config.write_text(f"backends:\n  vault: {{type: vault, addr: '{bao.addr}'}}\n"
                      f"  aws: {{type: aws, region: us-east-1, endpoint_url: '{moto.endpoint}'}}\n")
    out = tmp_path / "out"
    out.mkdir()
    expression = f"{{{{ lookup('{LOOKUP}', 'apps/lookup3/stripe#key', backend='aws') }}}}"
    proc = run_playbook(tmp_path, template_book(expression, out), inventory(2),
                        env={**aws_env, **vault_env(bao), "VAULTSHIFT_CONFIG": str(config)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "h01.txt").read_text() == value


def test_without_a_session_each_lookup_reads_on_its_own(bao: BaoServer, tmp_path: Path):
    value = make_value()
    put(bao, "apps/lookup4/db", password=value)
    out = tmp_path / "out"
    out.mkdir()
    expression = f"{{{{ lookup('{LOOKUP}', 'apps/lookup4/db#password', session=false) }}}}"
    proc = run_playbook(tmp_path, template_book(expression, out), inventory(2), env=vault_env(bao))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "h00.txt").read_text() == value
    assert sessions(tmp_path) == []  # no session was started


# ---- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("term, expected", [
    ("apps/lookup5/nothing#password", "read apps/lookup5/nothing: no secret at this path"),
    ("apps/lookup5/db#passwrd", "apps/lookup5/db#passwrd: no key 'passwrd' in the secret (its keys: password)"),
])
def test_a_missing_path_or_key_fails_the_task_naming_it(bao: BaoServer, tmp_path: Path, term: str, expected: str):
    value = make_value()
    put(bao, "apps/lookup5/db", password=value)
    out = tmp_path / "out"
    out.mkdir()
    proc = run_playbook(tmp_path, template_book(f"{{{{ lookup('{LOOKUP}', '{term}') }}}}", out), inventory(1),
                        env=vault_env(bao))
    assert proc.returncode == 2
    assert expected in proc.stdout
    assert value not in proc.stdout + proc.stderr


def test_a_denied_read_names_the_path_and_the_policy_path(bao: BaoServer, tmp_path: Path):
    put(bao, "apps/lookup6/db", password=make_value())
    client = bao.client()
    client.sys.create_or_update_policy("lookup6-other", 'path "secret/data/elsewhere/*" { capabilities = ["read"] }')
    weak = client.auth.token.create(policies=["lookup6-other"], ttl="5m")["auth"]["client_token"]
    out = tmp_path / "out"
    out.mkdir()
    proc = run_playbook(tmp_path, template_book(f"{{{{ lookup('{LOOKUP}', 'apps/lookup6/db#password') }}}}", out),
                        inventory(1), env={"VAULT_ADDR": bao.addr, "VAULT_TOKEN": weak})
    assert proc.returncode == 2
    assert "read apps/lookup6/db: permission denied" in proc.stdout
    assert "secret/data/apps/lookup6/db" in proc.stdout
    assert weak not in proc.stdout + proc.stderr


def test_an_unreachable_server_fails_in_bounded_time(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    started = time.monotonic()
    proc = run_playbook(tmp_path, template_book(f"{{{{ lookup('{LOOKUP}', 'apps/x#y', retries=0) }}}}", out),
                        inventory(1), env={"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "t"})
    assert proc.returncode == 2
    assert "cannot connect to http://127.0.0.1:9: connection refused" in proc.stdout
    assert time.monotonic() - started < 30


# ---- one login per run ---------------------------------------------------------------------------

def audit_entries(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def approle(server: BaoServer, name: str) -> tuple[str, str]:
    client = server.client()
    if "approle/" not in client.sys.list_auth_methods():
        client.sys.enable_auth_method("approle")
    client.sys.create_or_update_policy(f"{name}-read",
                                       f'path "secret/data/apps/{name}/*" {{ capabilities = ["read"] }}')
    client.auth.approle.create_or_update_approle(name, token_policies=[f"{name}-read"], token_ttl="10m")
    role_id = client.auth.approle.read_role_id(name)["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id(name)["data"]["secret_id"]
    return role_id, secret_id


def token_accessors(server: BaoServer) -> set[str]:
    return set(server.client().adapter.list("/v1/auth/token/accessors")["data"]["keys"])


@pytest.fixture
def audited(tmp_path: Path) -> Iterator[tuple[BaoServer, Path]]:
    """A server of the test's own with a file audit device: every request it answers, logged."""
    log = tmp_path / "audit.log"
    with bao_server(tmp_path / "bao", audit_log=log) as server:
        yield server, log


def test_one_approle_login_per_run_and_one_read_per_secret(audited: tuple[BaoServer, Path], tmp_path: Path):
    server, log = audited
    role_id, secret_id = approle(server, "fleet")
    values = {f"s{number}": make_value() for number in range(5)}
    for name, value in values.items():
        put(server, f"apps/fleet/{name}", value=value)
    before = token_accessors(server)
    out = tmp_path / "out"
    out.mkdir()
    expression = " ".join(f"{{{{ lookup('{LOOKUP}', 'apps/fleet/{name}#value') }}}}" for name in values)
    proc = run_playbook(tmp_path, template_book(expression, out), inventory(12), "--forks", "4",
                        env={"VAULT_ADDR": server.addr, "ANSIBLE_HASHI_VAULT_ROLE_ID": role_id,
                             "ANSIBLE_HASHI_VAULT_SECRET_ID": secret_id})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "h11.txt").read_text() == " ".join(values.values())
    requests = [e["request"] for e in audit_entries(log) if e.get("type") == "request"]
    logins = [r for r in requests if r.get("path") == "auth/approle/login"]
    reads = [r for r in requests if r.get("path", "").startswith("secret/data/apps/fleet/")
             and r.get("operation") == "read"]
    assert len(logins) == 1
    assert len(reads) == len(values)  # 12 hosts x 5 lookups: 60 lookups, 5 reads
    # The run is over: its session ends and revokes the token it logged in for.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and token_accessors(server) != before:
        time.sleep(0.1)
    assert token_accessors(server) == before
    assert wait_until_gone(tmp_path) == []


def test_credentials_never_reach_a_command_line_or_a_file(bao_private: BaoServer, tmp_path: Path):
    server = bao_private
    role_id, secret_id = approle(server, "quiet")
    put(server, "apps/quiet/db", password=make_value())
    out = tmp_path / "out"
    out.mkdir()
    pause = """    - name: look around while the session is up
      ansible.builtin.command: sleep 0
      delegate_to: localhost
      run_once: true
"""
    marker = tmp_path / "seen.txt"
    snoop = f"""    - name: every command line and every file of the session directory, while it runs
      ansible.builtin.shell: |
        cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' > {marker}
        cat {runtime_dir(tmp_path / "home")}/vaultshift/* 2>/dev/null >> {marker} || true
      run_once: true
"""
    proc = run_playbook(tmp_path, template_book(f"{{{{ lookup('{LOOKUP}', 'apps/quiet/db#password') }}}}", out,
                                                pause + snoop), inventory(2),
                        env={"VAULT_ADDR": server.addr, "ANSIBLE_HASHI_VAULT_ROLE_ID": role_id,
                             "ANSIBLE_HASHI_VAULT_SECRET_ID": secret_id})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = marker.read_text(errors="replace")
    assert "migrator.session" in seen  # the session was up and visible
    assert secret_id not in seen
    assert secret_id not in proc.stdout + proc.stderr


def test_the_session_directory_is_private(monkeypatch: pytest.MonkeyPatch):
    runtime = Path(tempfile.mkdtemp(prefix="vs-", dir="/tmp"))
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        directory = private_dir()
        assert directory == runtime / "vaultshift"
        assert directory.stat().st_mode & 0o777 == 0o700
        os.chmod(directory, 0o755)
        from migrator.session.wire import SessionUnavailable

        with pytest.raises(SessionUnavailable, match="not a private directory"):
            private_dir()
    finally:
        shutil.rmtree(runtime)


# ---- documentation ------------------------------------------------------------------------------

def test_ansible_doc_renders_the_lookup_with_its_shared_options(tmp_path: Path):
    proc = ansible("ansible-doc", "-t", "lookup", LOOKUP, home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for option in ("url", "auth_method", "role_id", "secret_id", "wrapped_secret_id", "engine_mount_point",
                   "namespace", "backend", "config", "version", "session", "cache_ttl"):
        assert f"- {option}" in proc.stdout or f"= {option}" in proc.stdout, option


def test_a_wrapped_secret_id_serves_one_run_and_is_refused_by_the_next(bao: BaoServer, tmp_path: Path):
    role_id, _ = approle(bao, "wrapped")
    value = make_value()
    put(bao, "apps/wrapped/db", password=value)
    wrapping = bao.client().auth.approle.generate_secret_id("wrapped", wrap_ttl="120s")["wrap_info"]["token"]
    env = {"VAULT_ADDR": bao.addr, "ANSIBLE_HASHI_VAULT_ROLE_ID": role_id, "VAULTSHIFT_WRAPPED_SECRET_ID": wrapping}
    expression = f"{{{{ lookup('{LOOKUP}', 'apps/wrapped/db#password') }}}}"
    out = tmp_path / "out"
    out.mkdir()
    first = run_playbook(tmp_path / "first", template_book(expression, out), inventory(3), env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (out / "h02.txt").read_text() == value
    second = run_playbook(tmp_path / "second", template_book(expression, out), inventory(1), env=env)
    assert second.returncode == 2
    assert "the wrapped secret_id" in second.stdout and "already unwrapped or has expired" in second.stdout
    assert wrapping not in first.stdout + second.stdout + second.stderr


def test_an_older_version_by_number(bao: BaoServer, tmp_path: Path):
    first, second = "first-" + make_value(), "second-" + make_value()
    put(bao, "apps/versions/db", password=first)
    put(bao, "apps/versions/db", password=second)
    out = tmp_path / "out"
    out.mkdir()
    expression = (f"{{{{ lookup('{LOOKUP}', 'apps/versions/db#password', version=1) }}}} "
                  f"{{{{ lookup('{LOOKUP}', 'apps/versions/db#password') }}}}")
    proc = run_playbook(tmp_path / "ok", template_book(expression, out), inventory(1), env=vault_env(bao))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "h00.txt").read_text() == f"{first} {second}"
    missing = f"{{{{ lookup('{LOOKUP}', 'apps/versions/db#password', version=9) }}}}"
    proc = run_playbook(tmp_path / "missing", template_book(missing, out), inventory(1), env=vault_env(bao))
    assert proc.returncode == 2
    assert "read apps/versions/db: no version 9 at this path" in proc.stdout


def test_a_runtime_directory_too_long_for_a_socket_is_passed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    deep = tmp_path / ("d" * 80)
    deep.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    assert private_dir() == Path(f"/tmp/vaultshift-{os.getuid()}")


def test_userpass_credentials_from_ansible_variables(bao: BaoServer, tmp_path: Path):
    client = bao.client()
    if "userpass/" not in client.sys.list_auth_methods():
        client.sys.enable_auth_method("userpass")
    client.sys.create_or_update_policy("lookup-up", 'path "secret/data/apps/userpass/*" { capabilities = ["read"] }')
    password = make_value()
    client.auth.userpass.create_or_update_user("deployer", password, policies=["lookup-up"])
    value = make_value()
    put(bao, "apps/userpass/db", password=value)
    out = tmp_path / "out"
    out.mkdir()
    inventory_text = (f"h00 ansible_connection=local ansible_vaultshift_auth_method=userpass "
                      f"ansible_vaultshift_username=deployer ansible_vaultshift_password={password}\n")
    proc = run_playbook(tmp_path, template_book(f"{{{{ lookup('{LOOKUP}', 'apps/userpass/db#password') }}}}", out),
                        inventory_text, env={"VAULT_ADDR": bao.addr})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "h00.txt").read_text() == value
    assert password not in proc.stdout + proc.stderr
