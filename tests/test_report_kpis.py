"""migrator.report.kpis against real runs: plans made, applied and rolled back by the real CLI
against the session's OpenBao (and moto), rotation records of real static roles (PostgreSQL),
ages from the stores' own dates. The numbers move as the migration does: everything hardcoded
before apply, nothing after it and every file on the vault, everything back after rollback; a
fleet host's own journal counts for its files; an unreachable backend leaves ages unknown and
the rest answered; a journal is read without its lock, mid-run; no value anywhere."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
import uuid
from pathlib import Path

import pytest
from assertions import one_line
from migration import run
from servers import BaoServer, MotoServer, apply_aws_test_env, free_port, make_value

from migrator.backends import Backend, make_backend
from migrator.backends.vault import rfc3339
from migrator.plan import planfile
from migrator.plan.models import Occurrence, Plan, PlannedSecret, ReferenceStyle, SecretRef
from migrator.report.kpis import MeasureError, MigrationKpis, measure
from migrator.rotate.classify import POSTGRESQL, DatabaseTarget
from migrator.rotate.database import DatabaseEngine
from migrator.state.journal import Journal, RotationRecord

DAY = 86400.0
APPLY = ("apply", "plan.json", "--state-dir", "state", "--agent-check", "never")


@pytest.fixture
def prefix(tmp_path: Path, bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A ./vaultshift.yml whose vault backend writes below a prefix of this test's own."""
    name = f"kpi-{uuid.uuid4().hex[:8]}"
    (tmp_path / "vaultshift.yml").write_text(f"backends:\n  vault: {{type: vault, prefix: {name}}}\n")
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao.token)
    return name


def planned(cli, env, tmp_path: Path, *sources: str, output: str = "plan.json") -> Plan:
    made = run(cli, env, tmp_path, "plan", *sources, "-o", output)
    assert made.returncode == 0, made.stderr
    return planfile.load(tmp_path / output)


def created(bao: BaoServer, prefix: str, secret: PlannedSecret) -> float:
    """When the secret's current version was written, as OpenBao says."""
    meta = bao.client().secrets.kv.v2.read_secret_metadata(path=f"{prefix}/{secret.ref.path}", mount_point="secret")
    when = rfc3339(meta["data"]["versions"][str(meta["data"]["current_version"])]["created_time"])
    assert when is not None
    return when


def test_the_numbers_move_with_apply_and_rollback(cli, vault_env, tmp_path, fleet, bao, prefix) -> None:
    root, _, canaries = fleet
    plan = planned(cli, vault_env, tmp_path, str(root))
    (tmp_path / "state").mkdir()
    backends: dict[str, Backend] = {"vault": make_backend("vault", bao.settings(prefix=prefix))}

    before = measure(plan, tmp_path / "state", backends)
    assert (before.secrets, before.occurrences, before.files, before.hosts) == (3, 3, 3, 1)
    assert before.hardcoded == 3 and before.hardcoded_by_group == {"local": 3}
    assert (before.stored, before.referenced, before.files_migrated, before.hosts_migrated) == (0, 0, 0, 0)
    assert before.adoption == before.host_adoption == before.rotation_coverage == 0.0
    assert before.age_unknown == 3 and before.age_notes == ("3 secrets: not stored yet",)
    assert before.age_average_days is None and before.last_run == ""

    applied = run(cli, vault_env, tmp_path, *APPLY)
    assert applied.returncode == 0, applied.stderr
    now = time.time()
    after = measure(plan, tmp_path / "state", backends, now=now)
    assert after.hardcoded == 0 and after.hardcoded_by_group == {"local": 0}
    assert (after.stored, after.referenced, after.files_migrated, after.hosts_migrated) == (3, 3, 3, 1)
    assert after.adoption == after.host_adoption == 1.0
    assert after.rotating == 0 and after.rotation_coverage == 0.0  # stored, not rotated yet
    # The ages are OpenBao's own dates of the current versions.
    expected = sum((now - created(bao, prefix, s)) / DAY for s in plan.secrets) / 3
    assert after.age_known == 3 and after.age_unknown == 0 and after.age_notes == ()
    assert after.age_average_days == pytest.approx(expected) and after.too_old == 0
    with Journal(tmp_path / "state") as journal:
        last_apply = journal.last_run("apply")
    assert last_apply is not None and after.last_run == last_apply.id
    assert after.plan_digest == before.plan_digest == last_apply.plan_digest

    back = run(cli, vault_env, tmp_path, "rollback", "--state-dir", "state")
    assert back.returncode == 0, back.stderr
    rolled = measure(plan, tmp_path / "state", backends, now=now)
    assert rolled.hardcoded == 3 and rolled.hardcoded_by_group == {"local": 3}  # plaintext again
    assert (rolled.files_migrated, rolled.referenced, rolled.adoption) == (0, 0, 0.0)
    assert rolled.stored == 3 and rolled.age_known == 3  # the values stay in the vault
    assert rolled.last_run != after.last_run

    kept = [kpis.to_dict() for kpis in (before, after, rolled)]
    assert [MigrationKpis.from_dict(json.loads(json.dumps(d))) for d in kept] == [before, after, rolled]
    text = json.dumps(kept) + repr(after)
    assert not any(canary in text for canary in canaries.values())


def test_a_fleet_host_is_counted_from_its_own_journal_and_by_group(cli, vault_env, tmp_path, fleet, prefix) -> None:
    """The Ansible collection journals each host's files in ``<state_dir>/hosts/<host>``."""
    root, _, _ = fleet
    plan = planned(cli, vault_env, tmp_path, f"web01={root / 'web01'}", f"ctl={root / 'ansible'}")
    planned(cli, vault_env, tmp_path, f"web01={root / 'web01'}", output="web01.json")
    applied = run(cli, vault_env, tmp_path, "apply", "web01.json", "--state-dir", "state/hosts/web01",
                  "--agent-check", "never")
    assert applied.returncode == 0, applied.stderr

    kpis = measure(plan, tmp_path / "state", groups={"web01": "web"})
    assert (kpis.hosts, kpis.hosts_migrated, kpis.host_adoption) == (2, 1, 0.5)
    assert (kpis.files, kpis.files_migrated) == (3, 2) and kpis.adoption == pytest.approx(2 / 3)
    assert kpis.hardcoded == 1 and kpis.hardcoded_by_group == {"ctl": 1, "web": 0}
    assert kpis.stored == 2 and kpis.referenced == 2
    apps = {s.ref.path.split("/")[-2] for s in plan.secrets}  # apps/{app}/{key}: one app per directory
    plaintext = {s.ref.path.split("/")[-2] for s in plan.secrets
                 if any(o.host != "web01" for o in s.occurrences)}
    assert 0 < len(apps - plaintext) < len(apps)  # some apps migrated, not all
    assert (kpis.apps, kpis.apps_migrated) == (len(apps), len(apps - plaintext))
    assert kpis.app_adoption == pytest.approx(len(apps - plaintext) / len(apps))
    assert kpis.age_notes == ("2 secrets: no backends were given to read dates from", "1 secret: not stored yet")


def test_rotation_coverage_and_ages_from_static_roles(cli, vault_env, tmp_path, fleet, bao, postgres, prefix) -> None:
    root, _, _ = fleet
    plan = planned(cli, vault_env, tmp_path, str(root))
    assert run(cli, vault_env, tmp_path, *APPLY).returncode == 0
    vault = make_backend("vault", bao.settings(prefix=prefix))
    engine = DatabaseEngine(make_backend("vault", bao.settings()), mount=f"db-{uuid.uuid4().hex[:8]}")
    engine.enable()
    engine.register("shop", DatabaseTarget(POSTGRESQL, "127.0.0.1", postgres.port, None, "postgres", "test"),
                    postgres.superuser, postgres.password)
    user, role = f"app_{uuid.uuid4().hex[:8]}", f"shop-{uuid.uuid4().hex[:8]}"
    with postgres.connect() as admin:
        admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{make_value()}'")
    engine.take_over(role, "shop", user, rotation_period=3600)
    rotated = rfc3339((engine.read_static_role(role) or {}).get("last_vault_rotation"))
    assert rotated is not None

    static, dynamic, back_to_kv = plan.secrets
    with Journal(tmp_path / "state") as journal:
        rotation = journal.start_run("rotate", "test")
        for secret, mode in ((static, "static"), (dynamic, "dynamic"), (back_to_kv, "kv")):
            ref = secret.ref
            journal.record_rotation(rotation, RotationRecord(secret.fingerprint, ref.backend, ref.path, ref.field,
                                                             mode, "shop", role, f"{role}-dynamic", user))
        journal.finish_run(rotation, "done")

    now = rotated + 5 * DAY
    kpis = measure(plan, tmp_path / "state", {"vault": vault}, now=now, engine=engine)
    assert (kpis.rotating, kpis.static, kpis.dynamic, kpis.aws_staged) == (2, 1, 1, 0)
    assert kpis.rotation_coverage == pytest.approx(2 / 3) and kpis.last_run == rotation
    # static: since the engine last rotated the user; dynamic: a user per lease; kv: its version's date
    kv_days = (now - created(bao, prefix, back_to_kv)) / DAY
    assert kpis.age_known == 3 and kpis.age_average_days == pytest.approx((5 + 0 + kv_days) / 3)
    assert kpis.too_old == 0

    later = measure(plan, tmp_path / "state", {"vault": vault}, now=now + 100 * DAY, engine=engine)
    assert (later.too_old, later.too_old_share, later.max_age_days) == (2, pytest.approx(2 / 3), 90)
    unread = measure(plan, tmp_path / "state", {"vault": vault}, now=now)  # no engine: never a guess
    assert unread.age_known == 2 and unread.age_notes == ("1 secret: no database engine to read its static role from",)


def test_an_unreachable_backend_leaves_its_ages_unknown_and_the_rest_answered(
        cli, vault_env, tmp_path, fleet, bao, moto: MotoServer, prefix, aws_env) -> None:
    root, _, canaries = fleet
    aws_prefix = f"kpi-{uuid.uuid4().hex[:8]}/"
    (tmp_path / "vaultshift.yml").write_text(
        f"backends:\n  vault: {{type: vault, prefix: {prefix}}}\n"
        f"  aws: {{type: aws, region: us-east-1, endpoint_url: '{moto.endpoint}', prefix: {aws_prefix}}}\n"
        "routes:\n  - {match: {path: 'ansible/**'}, backend: aws}\ndefault_backend: vault\n")
    env = apply_aws_test_env(dict(vault_env))
    plan = planned(cli, env, tmp_path, str(root))
    assert run(cli, env, tmp_path, *APPLY).returncode == 0
    down = make_backend("vault", bao.settings(addr=f"http://127.0.0.1:{free_port()}", retries=0, timeout=1))
    aws = make_backend("aws", moto.settings(prefix=aws_prefix))

    started = time.perf_counter()
    kpis = measure(plan, tmp_path / "state", {"vault": down, "aws": aws})
    assert time.perf_counter() - started < 5  # the dead backend is tried once, not once per secret
    assert kpis.hardcoded == 0 and kpis.adoption == 1.0 and kpis.stored == 3  # the journal still answers
    assert kpis.age_known == 1 and 0 <= (kpis.age_average_days or -1) < 1 / 24  # moto's date of the AWS secret
    assert kpis.age_unknown == 2 and kpis.age_notes == ("2 secrets: backend 'vault' cannot be read",)
    assert len(kpis.unreachable) == 1 and "\n" not in kpis.unreachable[0]
    assert kpis.unreachable[0].startswith("vault: read ") and "cannot connect" in kpis.unreachable[0]
    assert not any(canary in json.dumps(kpis.to_dict()) for canary in canaries.values())


def test_an_interrupted_run_counts_as_plaintext_and_a_running_ones_journal_is_read_without_its_lock(
        cli, vault_env, tmp_path, fleet, prefix) -> None:
    root, _, _ = fleet
    plan = planned(cli, vault_env, tmp_path, str(root))
    for step in range(2, 30):  # kill -9 the apply at each checkpoint until one leaves an intent unfinished
        killed = run(cli, dict(vault_env, VAULTSHIFT_KILL_AT_STEP=str(step)), tmp_path, *APPLY)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        kpis = measure(plan, tmp_path / "state")
        if kpis.files_in_progress:
            break
    else:
        pytest.fail("no apply step left a file's rewrite started and unfinished")
    assert kpis.hardcoded == 3 - kpis.files_migrated  # one secret per file: an unfinished file is plaintext
    with Journal(tmp_path / "state"):  # held as a running apply holds it: measuring neither waits nor breaks it
        during = measure(plan, tmp_path / "state")
    assert (during.files_in_progress, during.hardcoded) == (kpis.files_in_progress, kpis.hardcoded)
    finished = run(cli, vault_env, tmp_path, *APPLY)  # the journal was left as it was: the re-run finishes
    assert finished.returncode == 0, finished.stderr
    done = measure(plan, tmp_path / "state")
    assert (done.hardcoded, done.files_in_progress, done.files_migrated, done.adoption) == (0, 0, 3, 1.0)


def one_secret_plan(tmp_path: Path) -> Plan:
    occurrence = Occurrence("app.env", 9, 33, 1, "TOKEN", "dotenv", ReferenceStyle.AGENT_ENV, "hmac:x", "web01",
                            str(tmp_path))
    return Plan((PlannedSecret("fp:1", "token", SecretRef("vault", "apps/app/token", "TOKEN"), (occurrence,)),),
                (str(tmp_path),), "key", "apps/{app}/{key}")


def test_a_missing_or_broken_state_directory_is_one_line(tmp_path: Path) -> None:
    plan = one_secret_plan(tmp_path)
    with pytest.raises(MeasureError) as missing:
        measure(plan, tmp_path / "nowhere")
    assert one_line(missing.value).startswith(f"{tmp_path / 'nowhere'}: no such state directory")

    state = tmp_path / "state"
    state.mkdir()
    fresh = measure(plan, state)  # nothing applied yet: everything in plaintext
    assert (fresh.hardcoded, fresh.hardcoded_by_group, fresh.last_run) == (1, {"web01": 1}, "")

    (state / "journal.sqlite").write_bytes(b"this is not a database at all, just text " * 40)
    with pytest.raises(MeasureError) as garbage:
        measure(plan, state)
    assert one_line(garbage.value).startswith(f"{state / 'journal.sqlite'}: cannot read the journal")

    (state / "journal.sqlite").unlink()
    other = sqlite3.connect(state / "journal.sqlite")
    other.execute("CREATE TABLE files (path TEXT)")
    other.commit()
    other.close()
    with pytest.raises(MeasureError) as foreign:
        measure(plan, state)
    assert one_line(foreign.value) == f"{state / 'journal.sqlite'}: not a vaultshift journal"
