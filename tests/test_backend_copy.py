"""``vaultshift copy`` between a real OpenBao dev server and moto's Secrets Manager, as a
subprocess: every field and its metadata, both ways, idempotent, values never printed."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from assertions import one_line_error
from servers import BaoServer, MotoServer, make_value

from migrator.backends import Backend, make_backend
from migrator.plan.models import SecretRef

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def prefix() -> str:
    return f"copy-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(bao: BaoServer, moto: MotoServer, prefix: str) -> dict[str, dict[str, Any]]:
    return {"vault": bao.settings(prefix=prefix), "aws": moto.settings(prefix=f"{prefix}/"),
            "vault2": bao.settings(prefix=f"{prefix}-back")}


@pytest.fixture
def config(tmp_path: Path, settings: dict[str, dict[str, Any]]) -> Path:
    path = tmp_path / "vaultshift.yml"
    path.write_text(yaml.safe_dump({"backends": settings, "default_backend": "vault"}))
    return path


@pytest.fixture
def backends(settings: dict[str, dict[str, Any]], bao: BaoServer, aws_env: dict[str, str],
             monkeypatch: pytest.MonkeyPatch) -> dict[str, Backend]:
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao.token)
    return {name: make_backend(name, s) for name, s in settings.items()}


@pytest.fixture
def run(cli: Run, cli_env: dict[str, str], bao: BaoServer, aws_env: dict[str, str], config: Path) -> Run:
    """``run(*args)``: ``vaultshift copy --config <config> *args`` with the servers' credentials."""
    env = {**cli_env, **aws_env, "VAULTSHIFT_TEST_TOKEN": bao.token}
    env.pop("VAULT_TOKEN", None)
    env.pop("VAULT_ADDR", None)
    return lambda *args, extra_env=None: cli("copy", "--config", str(config), *args, env={**env, **(extra_env or {})})


@pytest.fixture
def seeded(backends: dict[str, Backend]) -> dict[str, str]:
    """Three secrets in the vault (one with two fields), one soft-deleted; returns the values."""
    vault = backends["vault"]
    values = {"apps/web/db#password": "pw-" + make_value(), "apps/web/db#user": "web_rw",
              "apps/api/key#token": "tok-" + make_value(), "infra/dns#tsig": "tsig-" + make_value()}
    for n, (ref, value) in enumerate(values.items()):
        path, field = ref.split("#")
        vault.write(SecretRef("vault", path, field), value,
                    {"source": f"host{n}:/etc/app.yml", "fingerprint": f"hmac-sha256:{n:032x}"})
    vault.write(SecretRef("vault", "old/gone", "k"), "v")
    vault.delete(SecretRef("vault", "old/gone", "k"))
    return values


def contents(backend: Backend) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    out = {}
    for path in backend.list():
        secret = backend.read_secret(path)
        if secret is not None and secret.fields:
            out[path] = (secret.fields, secret.metadata)
    return out


def assert_no_values(proc: subprocess.CompletedProcess[str], values: dict[str, str]) -> None:
    for value in values.values():
        assert value not in proc.stdout + proc.stderr


def test_copy_vault_to_aws_and_back_and_again(run: Run, backends: dict[str, Backend], seeded: dict[str, str]):
    first = run("--from", "vault", "--to", "aws")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "created apps/api/key (1 field)",
        "created apps/web/db (2 fields)",
        "created infra/dns (1 field)",
        "skipped old/gone",
        "vault -> aws: 3 created, 0 updated, 0 unchanged, 1 skipped, 0 failed (4 secrets)",
    ]
    assert first.stderr == ""
    assert_no_values(first, seeded)
    source = contents(backends["vault"])
    assert contents(backends["aws"]) == source  # every field and every metadata key
    assert backends["aws"].read_metadata(SecretRef("aws", "apps/web/db", "user")) == {
        "source": "host1:/etc/app.yml", "fingerprint": f"hmac-sha256:{1:032x}"}

    again = run("--from", "vault", "--to", "aws")
    assert again.returncode == 0
    assert again.stdout.splitlines()[-1] == "vault -> aws: 0 created, 0 updated, 3 unchanged, 1 skipped, 0 failed " \
                                            "(4 secrets)"
    stored = backends["aws"].read_secret("apps/web/db")
    assert stored is not None and stored.version == 1  # nothing rewritten

    back = run("--from", "aws", "--to", "vault2")
    assert back.returncode == 0, back.stderr
    assert contents(backends["vault2"]) == source
    assert_no_values(back, seeded)


def test_a_changed_value_is_updated_and_a_dry_run_writes_nothing(run: Run, backends: dict[str, Backend],
                                                                  seeded: dict[str, str]):
    assert run("--from", "vault", "--to", "aws").returncode == 0
    new = "new-" + make_value()
    backends["vault"].write(SecretRef("vault", "apps/api/key", "token"), new)
    dry = run("--from", "vault", "--to", "aws", "--dry-run")
    assert dry.returncode == 0
    assert "would update apps/api/key (1 field)" in dry.stdout.splitlines()
    assert dry.stdout.splitlines()[-1] == ("vault -> aws: 0 would be created, 1 would be updated, 2 unchanged, "
                                           "1 skipped, 0 failed (4 secrets)")
    assert backends["aws"].read(SecretRef("aws", "apps/api/key", "token")) == seeded["apps/api/key#token"]
    real = run("--from", "vault", "--to", "aws", "--prefix", "apps/api")
    assert real.stdout.splitlines() == ["updated apps/api/key (1 field)",
                                        "vault -> aws: 0 created, 1 updated, 0 unchanged, 0 skipped, 0 failed "
                                        "(1 secrets)"]
    assert backends["aws"].read(SecretRef("aws", "apps/api/key", "token")) == new
    assert_no_values(dry, {"new": new, **seeded})


def test_a_secret_that_cannot_be_copied_fails_alone(run: Run, backends: dict[str, Backend], seeded: dict[str, str],
                                                    moto: MotoServer, prefix: str):
    plain = "plain-" + make_value()
    moto.client().create_secret(Name=f"{prefix}/apps/legacy", SecretString=plain)  # not a JSON object
    proc = run("--from", "aws", "--to", "vault2")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "vaultshift: failed apps/legacy: aws: read apps/legacy: its SecretString is not a JSON object of fields"]
    assert proc.stdout.splitlines()[-1] == ("aws -> vault2: 0 created, 0 updated, 0 unchanged, 0 skipped, 1 failed "
                                            "(1 secrets)")
    assert plain not in proc.stdout + proc.stderr
    assert run("--from", "vault", "--to", "aws").returncode == 0  # the others go on: now 3 more
    proc = run("--from", "aws", "--to", "vault2")
    assert proc.returncode == 1 and proc.stdout.count("created ") == 3


def test_a_store_wide_failure_stops_the_copy(run: Run, seeded: dict[str, str]):
    proc = run("--from", "vault", "--to", "vault2", extra_env={"VAULTSHIFT_TEST_TOKEN": ""})
    one_line_error(proc, "vault: list: no token: set $VAULTSHIFT_TEST_TOKEN")
    # The source lists, the destination refuses the credentials: one failure, then it stops.
    proc = run("--from", "vault", "--to", "aws", extra_env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "vaultshift: failed apps/api/key: aws: read apps/api/key: no AWS credentials found (environment, profile "
        "or role)",
        "vaultshift: error: the copy stopped: the other secrets were not attempted"]
    assert proc.stdout.splitlines() == ["vault -> aws: 0 created, 0 updated, 0 unchanged, 0 skipped, 1 failed "
                                        "(4 secrets; stopped after 1 of them)"]


def test_usage_errors(run: Run, cli: Run, tmp_path: Path, seeded: dict[str, str]):
    one_line_error(run("--from", "vault", "--to", "nowhere"), "--to 'nowhere': no such backend in",
                   "(configured: aws, vault, vault2)")
    one_line_error(run("--from", "vault", "--to", "vault"), "--from and --to name the same backend")
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump({"backends": {"v": {"type": "vault", "namspace": "x"}}}))
    one_line_error(cli("copy", "--config", str(bad), "--from", "v", "--to", "v"),
                   f"{bad}: backend 'v': namspace: unknown setting")
    proc = cli("copy", "--from", "vault")
    assert proc.returncode == 2 and "--to" in proc.stderr


def test_copy_is_listed_in_the_help(cli: Run):
    proc = cli("--help")
    assert proc.returncode == 0 and "copy" in proc.stdout
    helped = cli("copy", "--help")
    assert "--dry-run" in helped.stdout and "exit status" in helped.stdout
