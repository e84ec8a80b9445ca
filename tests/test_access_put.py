"""``vaultshift put PATH KEY`` against a real OpenBao and moto: a developer token holding only the
team's generated write-only policy creates a secret, merges a second key into it, and gets 403
reading either back; a path outside the team's prefix, an empty or oversized value, a bad key and
two prompt entries that differ are one line each and write nothing; the value never appears in
the command line, stdout or stderr. Secrets Manager: a new secret is created, an existing one is
refused unless --replace, and an IAM user without GetSecretValue can do all of it."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest
import yaml
from servers import BaoServer, MotoServer, make_value, moto_server

from migrator.access.engine import load_model, policies_of
from migrator.access.selfservice import PutDenied, PutError, paste_references, put_secret
from migrator.backends import make_backend
from migrator.backends.aws import AwsBackend
from migrator.backends.vault import VaultBackend
from migrator.backends.vault_auth import TokenAuth
from migrator.config import parse_config
from migrator.plan.models import Plan, SecretRef
from migrator.rewrite.base import KvMount

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / ".venv" / "bin" / "vaultshift"
if not CLI.exists():
    CLI = Path(sys.executable).parent / "vaultshift"
Run = Callable[..., subprocess.CompletedProcess[str]]
DENIED = "your policy (a team's write-only policy?) does not cover it"
# What the team policy would need to record source/first_seen: patch on the metadata, custom_metadata only.
METADATA_PATCH = 'path "secret/metadata/{path}/*" {{\n  capabilities = ["patch"]\n' \
                 '  allowed_parameters = {{ "custom_metadata" = [] }}\n}}\n'


class Team:
    """A team (unique prefix and paths) whose generated write-only policy is on the shared server,
    and a developer token holding only it."""

    def __init__(self, bao: BaoServer) -> None:
        self.bao = bao
        self.run = f"r{uuid.uuid4().hex[:8]}"
        self.root = f"{self.run}/apps/shop"
        config = parse_config({"backends": {"vault": {"type": "vault", "addr": bao.addr}}, "access": {
            "prefix": f"t{self.run}", "teams": [{"name": "payments", "paths": [f"{self.root}/"]}]}}, "vaultshift.yml")
        model = load_model(Plan((), (), "key", "apps/{app}/{key}"), config)
        self.policy = model.team_policy("payments")
        bao.client().sys.create_or_update_policy(self.policy, policies_of(model, config)[self.policy])
        self.token = self.token_for(self.policy)

    def token_for(self, *policies: str) -> str:
        return str(self.bao.client().auth.token.create(policies=list(policies), ttl="10m")["auth"]["client_token"])

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def stored(self, path: str) -> dict[str, str] | None:
        """What the root token reads at ``path`` (None: absent)."""
        try:
            response = self.bao.client().secrets.kv.v2.read_secret_version(path, mount_point="secret",
                                                                           raise_on_deleted_version=True)
        except hvac.exceptions.InvalidPath:
            return None
        data: dict[str, str] = response["data"]["data"]
        return data

    def custom_metadata(self, path: str) -> dict[str, str]:
        data = self.bao.client().secrets.kv.v2.read_secret_metadata(path, mount_point="secret")["data"]
        return dict(data.get("custom_metadata") or {})

    def backend(self, token: str | None = None) -> VaultBackend:
        """The vault backend as the developer (``token``: another token) uses it."""
        return VaultBackend.from_settings("vault", self.bao.settings(), auth=TokenAuth(token=token or self.token))


@pytest.fixture
def team(bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> Team:
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao.token)
    return Team(bao)


@pytest.fixture
def developer_env(cli_env: dict[str, str], bao: BaoServer, team: Team) -> dict[str, str]:
    """The CLI's environment: the server's address and the developer's token (no config file)."""
    return dict(cli_env, VAULT_ADDR=bao.addr, VAULT_TOKEN=team.token)


def put(cli: Run, env: dict[str, str], value: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    """``vaultshift put ARGS`` with ``value`` on stdin; the value is never part of the command line."""
    argv = ["put", *args]
    assert not value or not any(value in arg for arg in [str(CLI), *argv])
    return cli(*argv, env=env, input=value)


def assert_absent(value: str, *texts: str) -> None:
    for text in texts:
        assert value not in text


def test_a_developer_creates_a_secret_then_merges_a_key_and_cannot_read_either(
        cli: Run, developer_env: dict[str, str], team: Team) -> None:
    path = team.path("api")
    token_value, user_value = make_value(), make_value()
    created = put(cli, developer_env, token_value + "\n", path, "token")
    assert created.returncode == 0, created.stderr
    assert created.stderr.splitlines()[0] == f"created {path}#token in vault: version 1"
    assert f"{{{{ lookup('vaultshift.secrets.secret', '{path}#token') }}}}" in created.stdout
    assert f'{{{{ with secret "secret/data/{path}" }}}}{{{{ .Data.data.token }}}}{{{{ end }}}}' in created.stdout
    assert f'data "vaultshift_secret" "{path.replace("/", "_")}_token" {{\n  path = "{path}"\n  key  = "token"\n}}' \
        in created.stdout
    assert 'env_template "TOKEN" {' in created.stdout
    # The team policy lets developers read metadata, not change it: the provenance is not recorded, and said so.
    assert "source/first_seen metadata not recorded: your policy may not patch" in created.stderr

    merged = put(cli, developer_env, user_value, path, "user", "--style", "lookup")
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout == f"{{{{ lookup('vaultshift.secrets.secret', '{path}#user') }}}}\n"
    assert merged.stderr.splitlines()[0] == f"updated {path}#user in vault: version 2"
    assert team.stored(path) == {"token": token_value, "user": user_value}  # no trailing newline kept
    assert team.custom_metadata(path) == {}

    developer = team.bao.client(token=team.token)
    with pytest.raises(hvac.exceptions.Forbidden):
        developer.secrets.kv.v2.read_secret_version(path, mount_point="secret", raise_on_deleted_version=True)
    for run in (created, merged):
        assert_absent(token_value, run.stdout, run.stderr)
        assert_absent(user_value, run.stdout, run.stderr)


def test_a_path_outside_the_team_is_one_line_and_writes_nothing(
        cli: Run, developer_env: dict[str, str], team: Team) -> None:
    value = make_value()
    outside = f"{team.run}/apps/billing/db"
    denied = put(cli, developer_env, value, outside, "password")
    assert (denied.returncode, denied.stdout) == (2, "")
    assert denied.stderr == f"vaultshift: error: not allowed to write {outside}: {DENIED}\n"
    assert team.stored(outside) is None
    assert_absent(value, denied.stderr)


def test_an_empty_or_oversized_value_and_a_bad_key_are_refused_before_writing(
        cli: Run, developer_env: dict[str, str], team: Team) -> None:
    path = team.path("refused")
    for stdin, reason in [("\n", "empty value; nothing written"),
                          ("x" * (64 * 1024 + 1), "the value on stdin is longer than 64 KiB; nothing written")]:
        refused = put(cli, developer_env, stdin, path, "password")
        assert (refused.returncode, refused.stdout) == (2, "")
        assert refused.stderr == f"vaultshift: error: {path}#password: {reason}\n"
    value = make_value()
    bad_key = put(cli, developer_env, value, path, "pass'word")
    assert bad_key.returncode == 2
    assert bad_key.stderr.startswith(f"vaultshift: error: {path}#pass'word: field name at {path} holds a quote")
    assert len(bad_key.stderr.splitlines()) == 1
    assert_absent(value, bad_key.stderr)
    assert team.stored(path) is None


def test_provenance_is_recorded_when_the_policy_may_patch_metadata(bao: BaoServer, team: Team) -> None:
    extra = f"{team.policy}-metadata"
    bao.client().sys.create_or_update_policy(extra, METADATA_PATCH.format(path=team.root))
    path = team.path("smtp")
    value = make_value()
    result = put_secret(team.backend(team.token_for(team.policy, extra)), path, "password", value)
    assert (result.version, result.action, result.metadata_recorded, result.note) == (1, "created", True, "")
    custom = team.custom_metadata(path)
    assert custom["password:source"] == "vaultshift put"
    assert time.time() - time.mktime(time.strptime(custom["password:first_seen"], "%Y-%m-%dT%H:%M:%SZ")) \
        + time.timezone < 60
    assert value not in repr(result) and repr(result).startswith(f"PutResult(ref='{path}#password'")


def test_a_deleted_latest_version_is_written_past_and_replace_drops_the_other_keys(team: Team) -> None:
    path = team.path("queue")
    backend = team.backend()
    first, second = make_value(), make_value()
    assert put_secret(backend, path, "a", first).action == "created"
    assert put_secret(backend, path, "b", second).version == 2
    team.bao.client().secrets.kv.v2.delete_latest_version_of_secret(path, mount_point="secret")
    again = put_secret(backend, path, "c", first)
    assert (again.version, again.action) == (3, "created")  # a new secret past the deleted version
    assert team.stored(path) == {"c": first}
    replaced = put_secret(backend, path, "d", second, replace=True)
    assert (replaced.version, replaced.action) == (4, "replaced")
    assert team.stored(path) == {"d": second}


def test_engine_refusals_name_the_path_never_the_value(team: Team) -> None:
    value = make_value()
    backend = team.backend()
    with pytest.raises(PutDenied) as denied:
        put_secret(backend, f"{team.run}/elsewhere", "k", value)
    assert str(denied.value) == f"not allowed to write {team.run}/elsewhere: {DENIED}"
    with pytest.raises(PutError, match=r"^path '/abs': path must be relative"):
        put_secret(backend, "/abs", "k", value)
    with pytest.raises(PutError, match=r"^path '../up': empty, '.' or '..' segment in path$"):
        put_secret(backend, "../up", "k", value)
    with pytest.raises(PutError, match=r"^apps/x#k: empty value; nothing written$"):
        put_secret(backend, "apps/x", "k", "")
    with pytest.raises(PutError, match=r"^backend 'database' is a vault-database backend: put writes") as other:
        put_secret(make_backend("database", team.bao.settings(type="vault-database")), "creds/x", "k", value)
    with pytest.raises(PutError, match=r"more than 64 KiB"):
        put_secret(backend, team.path("big"), "k", "é" * (32 * 1024 + 1))
    for caught in (denied, other):
        assert value not in str(caught.value)


def run_on_terminal(args: list[str], env: dict[str, str], cwd: Path, answers: list[str]) -> tuple[int, str, str]:
    """Run the CLI with a pseudo-terminal as its controlling terminal, stdin and stderr (stdout a
    pipe); type each of ``answers`` once its prompt is shown. (exit status, terminal text, stdout)."""
    assert not any(answer in arg for answer in answers for arg in [str(CLI), *args])
    out_read, out_write = os.pipe()
    pid, master = pty.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.dup2(out_write, 1)
            os.chdir(cwd)
            os.execve(str(CLI), [str(CLI), *args], env)
        finally:
            os._exit(127)
    os.close(out_write)
    terminal, stdout, typed = b"", b"", 0
    deadline = time.monotonic() + 30
    open_fds = [master, out_read]
    try:
        while open_fds:
            ready, _, _ = select.select(open_fds, [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"vaultshift put did not finish; terminal so far: {terminal!r}")
            for fd in ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    open_fds.remove(fd)
                elif fd == master:
                    terminal += chunk
                else:
                    stdout += chunk
            prompts = terminal.count(b"(not shown): ") + terminal.count(b"to confirm: ")
            if typed < min(prompts, len(answers)):
                os.write(master, answers[typed].encode() + b"\n")
                typed += 1
    finally:
        os.close(master)
        os.close(out_read)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return status, terminal.decode(errors="replace"), stdout.decode()


def test_the_prompt_asks_twice_without_echo_and_refuses_entries_that_differ(
        developer_env: dict[str, str], team: Team, tmp_path: Path) -> None:
    path = team.path("prompted")
    value, typo = make_value(), make_value()
    status, terminal, stdout = run_on_terminal(["put", path, "password"], developer_env, tmp_path, [value, typo])
    assert status == 2 and stdout == ""
    assert terminal.startswith(f"Value for {path}#password (not shown): ")
    assert f"vaultshift: error: {path}#password: the two entries differ; nothing written" in terminal
    assert team.stored(path) is None

    status, terminal, stdout = run_on_terminal(["put", path, "password", "--style", "terraform"], developer_env,
                                               tmp_path, [value, value])
    assert status == 0, terminal
    assert f"created {path}#password in vault: version 1" in terminal
    assert stdout.startswith('data "vaultshift_secret"')
    assert_absent(value, terminal, stdout)
    assert_absent(typo, terminal)
    assert team.stored(path) == {"password": value}


def test_references_name_a_backend_that_is_not_the_default() -> None:
    ref = SecretRef("aws", "apps/shop/api", "api-key")
    found = paste_references(ref, "vault", None)
    assert found == {"lookup": "{{ lookup('vaultshift.secrets.secret', 'apps/shop/api#api-key', backend='aws') }}",
                     "terraform": 'data "vaultshift_secret" "apps_shop_api_api_key" {\n  path = "apps/shop/api"\n'
                                  '  key  = "api-key"\n  backend = "aws"\n}'}
    vault = paste_references(SecretRef("vault", "apps/x", "db.pass"), "vault", KvMount("kv", "team"))
    assert vault["agent"] == '{{ with secret "kv/data/team/apps/x" }}{{ index .Data.data "db.pass" }}{{ end }}'
    assert vault["env"].startswith('env_template "DB_PASS" {')
    assert "env" not in paste_references(SecretRef("vault", "apps/x", "1st"), "vault", KvMount())


# ---- AWS Secrets Manager -----------------------------------------------------------------------

def aws_config(tmp_path: Path, settings: dict[str, Any]) -> Path:
    config = tmp_path / "vaultshift.yml"
    config.write_text(yaml.safe_dump({"backends": {"vault": {"type": "vault"}, "aws": settings},
                                      "default_backend": "vault"}))
    return config


def test_secrets_manager_creates_refuses_an_existing_secret_and_replaces_on_request(
        cli: Run, cli_env: dict[str, str], aws_env: dict[str, str], moto: MotoServer, tmp_path: Path) -> None:
    prefix = f"t-{uuid.uuid4().hex[:10]}/"
    env = dict(cli_env, **aws_env)
    args = ["--config", str(aws_config(tmp_path, moto.settings(prefix=prefix))), "--backend", "aws"]
    first, second = make_value(), make_value()
    created = put(cli, env, first, "apps/shop/api", "token", *args)
    assert created.returncode == 0, created.stderr
    assert created.stderr == "created apps/shop/api#token in aws: version 1\n"
    assert "backend='aws'" in created.stdout and "with secret" not in created.stdout  # no agent form for AWS
    name = f"{prefix}apps/shop/api"
    assert json.loads(moto.client().get_secret_value(SecretId=name)["SecretString"]) == {"token": first}
    tags = {t["Key"]: t["Value"] for t in moto.client().describe_secret(SecretId=name)["Tags"]}
    assert tags["token:source"] == "vaultshift put" and "token:first_seen" in tags

    refused = put(cli, env, second, "apps/shop/api", "user", *args)
    assert refused.returncode == 2
    assert refused.stderr == (
        "vaultshift: error: apps/shop/api already exists in Secrets Manager (aws): adding user to it means "
        "reading its other keys, which a write-only policy does not allow; ask an operator, or give --replace to "
        "make user its only key\n")

    replaced = put(cli, env, second, "apps/shop/api", "user", "--replace", *args)
    assert replaced.stderr == "replaced apps/shop/api#user in aws: version 2\n"
    assert json.loads(moto.client().get_secret_value(SecretId=name)["SecretString"]) == {"user": second}
    tags = {t["Key"]: t["Value"] for t in moto.client().describe_secret(SecretId=name)["Tags"]}
    assert "user:source" in tags and not any(key.startswith("token:") for key in tags)
    for run in (created, refused, replaced):
        assert_absent(first, run.stdout, run.stderr)
        assert_absent(second, run.stdout, run.stderr)


@pytest.fixture(scope="module")
def moto_iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], dict[str, str]]]:
    """moto enforcing IAM: the endpoint, a developer's keys (write, describe; never read, never tag) and an
    admin's."""
    import boto3

    # Six requests without authentication (two users, their policies and keys), then every one is checked.
    with moto_server(tmp_path_factory.mktemp("moto-iam"), {"INITIAL_NO_AUTH_ACTION_COUNT": "6"}) as server:
        iam = boto3.client("iam", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing")
        keys = []
        for user, actions in [("developer", ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue",
                                             "secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"]),
                              ("admin", ["secretsmanager:*"])]:
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName=user, PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": actions}]}))
            key = iam.create_access_key(UserName=user)["AccessKey"]
            keys.append({"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
        yield server.endpoint, keys[0], keys[1]


def test_an_iam_user_without_get_secret_value_creates_and_replaces(
        moto_iam: tuple[str, dict[str, str], dict[str, str]], aws_env: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint, developer, admin = moto_iam
    for name, key in developer.items():
        monkeypatch.setenv(name, key)
    backend = make_backend("aws", {"type": "aws", "region": "us-east-1", "endpoint_url": endpoint, "retries": 0})
    assert isinstance(backend, AwsBackend)
    path, value = f"t-{uuid.uuid4().hex[:8]}/db", make_value()
    created = put_secret(backend, path, "password", value)
    assert (created.ref, created.version, created.action) == (SecretRef("aws", path, "password"), 1, "created")
    replaced = put_secret(backend, path, "password", value, replace=True)  # no TagResource: written, tags not
    assert (replaced.version, replaced.action, replaced.metadata_recorded) == (2, "replaced", False)
    assert replaced.note == f"{path}#password: source/first_seen tags not recorded: your policy may not tag the secret"
    with pytest.raises(Exception, match="AccessDenied"):
        backend.read(SecretRef("aws", path, "password"))  # the developer may write, never read
    for name, key in admin.items():
        monkeypatch.setenv(name, key)
    admin_backend = make_backend("aws", {"type": "aws", "region": "us-east-1", "endpoint_url": endpoint})
    assert admin_backend.read(SecretRef("aws", path, "password")) == value
