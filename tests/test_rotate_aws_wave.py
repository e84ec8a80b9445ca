"""The hybrid case end to end through the CLI, against a real PostgreSQL, a real OpenBao and moto's
Secrets Manager: an app's database password routed to Secrets Manager by a ``routes:`` entry
(the rest of the migration to OpenBao), migrated by ``vaultshift plan`` + ``apply``; ``vaultshift
rotate plan`` gives it mode ``aws-staged``; ``vaultshift rotate enable`` rotates it in place with
the admin user read from OpenBao: AWSCURRENT logs in, the old password is refused, AWSPREVIOUS
keeps it, the files' references do not change, the schedule is in the secret's tags. No password
appears in any output."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from servers import BaoServer, MotoServer, PostgresServer, apply_aws_test_env, make_value

from migrator.backends.aws import VERSION_TOKEN
from migrator.rotate.aws_staged import PREVIOUS, ROTATED_AT_TAG, ROTATION_DAYS_TAG

CURRENT = "AWSCURRENT"
Cli = Callable[..., subprocess.CompletedProcess[str]]


class Hybrid:
    """An app user whose Ansible variables go to Secrets Manager, a service token that goes to
    OpenBao, the admin user in OpenBao, the configuration; everything named uniquely."""

    def __init__(self, tmp_path: Path, pg: PostgresServer, bao: BaoServer, moto: MotoServer) -> None:
        tag = uuid.uuid4().hex[:6]
        self.tmp, self.pg, self.moto = tmp_path, pg, moto
        self.user, self.password, self.token = f"shop_{tag}", make_value(), make_value()
        with pg.connect() as admin:
            admin.execute(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'")
        self.prefix = f"rot-{tag}"
        self.aws_prefix = f"hybrid-{tag}/"
        bao.client().secrets.kv.v2.create_or_update_secret(
            path=f"{self.prefix}/admin/pg", secret={"username": pg.superuser, "password": pg.password})
        self.root = tmp_path / "fleet"
        files = {
            "ansible/group_vars/all.yml": f"db_host: 127.0.0.1\ndb_port: {pg.port}\ndb_user: {self.user}\n"
                                          f"db_password: {self.password}\n",
            "srv/shop/.env": f"PORT=8080\nAPI_TOKEN={self.token}\n",
        }
        for name, text in files.items():
            (self.root / name).parent.mkdir(parents=True, exist_ok=True)
            (self.root / name).write_text(text)
        self.config = tmp_path / "vaultshift.yml"
        self.config.write_text(
            "backends:\n"
            f"  vault: {{type: vault, prefix: {self.prefix}}}\n"
            f"  database: {{type: vault-database, mount: db-{tag}}}\n"
            f"  aws: {{type: aws, region: us-east-1, endpoint_url: '{moto.endpoint}', prefix: {self.aws_prefix}}}\n"
            "routes:\n  - {match: {path: 'ansible/**'}, backend: aws}\n"
            "default_backend: vault\n"
            "rotation:\n  rotation_period: 604800\n"
            f"  databases:\n    - {{name: pg-{tag}, match: {{host: 127.0.0.1, port: {pg.port}}}, admin: admin/pg}}\n")

    def files(self) -> dict[str, bytes]:
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*")) if p.is_file()}

    def at_stage(self, name: str, stage: str) -> tuple[str, dict[str, str]]:
        """(VersionId, fields) of the version of secret ``name`` holding ``stage``, read from moto."""
        found: dict[str, Any] = self.moto.client().get_secret_value(SecretId=self.aws_prefix + name,
                                                                     VersionStage=stage)
        return found["VersionId"], json.loads(found["SecretString"])

    def tags(self, name: str) -> dict[str, str]:
        info = self.moto.client().describe_secret(SecretId=self.aws_prefix + name)
        return {t["Key"]: t["Value"] for t in info.get("Tags") or []}


def run(cli: Cli, env: dict[str, str], cwd: Path, *args: str, expect: int = 0) -> str:
    done = cli(*args, env=env, cwd=cwd)
    assert done.returncode == expect, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture
def hybrid(tmp_path: Path, postgres: PostgresServer, bao: BaoServer, moto: MotoServer,
           aws_env: dict[str, str]) -> Hybrid:
    return Hybrid(tmp_path, postgres, bao, moto)


def test_a_password_in_secrets_manager_rotates_in_place_through_the_cli(cli: Cli, vault_env: dict[str, str],
                                                                        hybrid: Hybrid) -> None:
    h, pg = hybrid, hybrid.pg
    env, tmp, config = apply_aws_test_env(dict(vault_env)), h.tmp, ["--config", str(h.config)]
    outputs = [run(cli, env, tmp, "plan", str(h.root), "-o", "plan.json", *config),
               run(cli, env, tmp, "apply", "plan.json", "--state-dir", "state", "--agent-check", "never", *config)]
    plan = json.loads((tmp / "plan.json").read_text())
    refs = {s["ref"]["backend"]: s["ref"] for s in plan["secrets"]}
    assert sorted(refs) == ["aws", "vault"]  # routed: the password to Secrets Manager, the token to OpenBao
    path, field = refs["aws"]["path"], refs["aws"]["field"]
    migrated = h.files()
    assert "backend='aws'" in migrated["ansible/group_vars/all.yml"].decode()
    first_id, first = h.at_stage(path, CURRENT)
    assert first[field] == h.password

    outputs.append(run(cli, env, tmp, "rotate", "plan", "plan.json", "-o", "rotation.json", *config))
    entries = {e["ref"]["backend"]: e for e in json.loads((tmp / "rotation.json").read_text())["secrets"]}
    assert entries["aws"]["mode"] == "aws-staged" and entries["aws"]["database"]["user"] == h.user
    assert entries["vault"]["mode"] == "track"  # an API token: its age is tracked
    assert "1 to staged rotation" in outputs[-1]

    # -- the staged rotation: AWSPENDING made, set in PostgreSQL, tested, moved to AWSCURRENT ----------
    outputs.append(run(cli, env, tmp, "rotate", "enable", "plan.json", "--wave", "all", "--state-dir", "state",
                       *config))
    assert "rotated: staged rotation done" in outputs[-1]
    current_id, current = h.at_stage(path, CURRENT)
    new = current[field]
    assert current_id == VERSION_TOKEN.format(2) and new != h.password
    assert pg.logs_in(h.user, new) and not pg.logs_in(h.user, h.password)
    assert h.at_stage(path, PREVIOUS) == (first_id, first)  # the old version kept as AWSPREVIOUS
    assert h.files() == migrated  # the references name the secret, not a version: unchanged
    tags = h.tags(path)
    assert tags[ROTATION_DAYS_TAG] == "7" and ROTATED_AT_TAG in tags  # rotation_period 604800 s
    status = run(cli, env, tmp, "rotate", "status", "plan.json", "--state-dir", "state", *config)
    assert " aws-staged " in status and " 0d " in status and "1 rotating (50%)" in status

    # -- a second enable leaves it alone: the 7-day schedule says it is not due yet ----------------------
    outputs.append(run(cli, env, tmp, "rotate", "enable", "plan.json", "--wave", "all", "--state-dir", "state",
                       *config))
    assert "already aws-staged; next rotation due" in outputs[-1]
    assert h.at_stage(path, CURRENT) == (current_id, current)
    assert h.files() == migrated
    again = current

    everything = "\n".join([*outputs, status, (tmp / "rotation.json").read_text()])
    for value in (h.password, new, again[field], h.token):
        assert value not in everything
