"""Staged rotation in AWS Secrets Manager run by vaultshift (migrator/rotate/aws_staged.py), against
moto's server and, for a database credential, the session's real PostgreSQL: AWSPENDING made,
set, tested, moved to AWSCURRENT (AWSPREVIOUS following), the backend's version numbering kept;
a failing step undone with AWSCURRENT untouched; a rotation that died half way resumed; the
rotation schedule in tags. Every message is one line naming the path and the step, never a value."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from psycopg import sql
from servers import MotoServer, PostgresServer, make_value

from migrator.backends import make_backend
from migrator.backends.aws import VERSION_TOKEN, AwsBackend
from migrator.plan.models import SecretRef
from migrator.rotate.aws_staged import (
    PENDING,
    PREVIOUS,
    ROTATED_AT_TAG,
    ROTATION_DAYS_TAG,
    GeneratedSecret,
    StagedRotation,
    generate_password,
    read_stage,
)
from migrator.rotate.errors import RotationError

CURRENT = "AWSCURRENT"
META = {"source": "web01:/etc/app/config.yml", "first_seen": "2026-01-05T10:00:00Z"}


@pytest.fixture
def prefix() -> str:
    return f"rot-{uuid.uuid4().hex[:10]}/"


@pytest.fixture
def aws(moto: MotoServer, aws_env: dict[str, str], prefix: str) -> AwsBackend:
    backend = make_backend("aws", moto.settings(prefix=prefix))
    assert isinstance(backend, AwsBackend)
    return backend


@pytest.fixture
def rotation(aws: AwsBackend) -> StagedRotation:
    return StagedRotation(aws)


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def stages(moto: MotoServer, name: str) -> dict[str, list[str]]:
    """VersionId -> its stages, versions without a stage left out."""
    info = moto.client().describe_secret(SecretId=name)
    return {vid: sorted(names) for vid, names in info["VersionIdsToStages"].items() if names}


def token(n: int) -> str:
    return VERSION_TOKEN.format(n)


def tags(moto: MotoServer, name: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in moto.client().describe_secret(SecretId=name).get("Tags") or []}


def value_free(exc: BaseException, *values: str) -> str:
    text = str(exc)
    assert "\n" not in text
    for value in values:
        assert value not in " ".join([text, repr(exc), *map(str, exc.args)])
    return text


class Recorder:
    """A setter that records its calls and fails (``fail``: "set" or "test") with ``error``;
    ``undo_error``: its undo fails too."""

    def __init__(self, fail: str | None = None, error: Exception | None = None,
                 undo_error: Exception | None = None) -> None:
        self.fail, self.error, self.undo_error = fail, error, undo_error
        self.calls: list[tuple[str, dict[str, str], dict[str, str]]] = []

    def set(self, current: Mapping[str, str], pending: Mapping[str, str]) -> None:
        self.calls.append(("set", dict(current), dict(pending)))
        if self.fail == "set" and self.error is not None:
            raise self.error

    def test(self, pending: Mapping[str, str]) -> None:
        self.calls.append(("test", {}, dict(pending)))
        if self.fail == "test" and self.error is not None:
            raise self.error

    def undo(self, current: Mapping[str, str], pending: Mapping[str, str]) -> None:
        self.calls.append(("undo", dict(current), dict(pending)))
        if self.undo_error is not None:
            raise self.undo_error


def never() -> str:
    raise AssertionError("a resumed rotation generates no new value")


# ---- the happy path -------------------------------------------------------------------------------


def test_a_generated_secret_rotates_through_the_stages(moto: MotoServer, aws: AwsBackend, rotation: StagedRotation,
                                                        prefix: str, debug_log: pytest.LogCaptureFixture,
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    path, old, api_key = "apps/web/api", "canary-" + make_value(), make_value()
    aws.write(SecretRef("aws", path, "token"), old, META)
    aws.write(SecretRef("aws", path, "client_key"), api_key)  # version 2: another field, kept as is
    outcome = rotation.rotate(path, "token", GeneratedSecret(aws, path))
    assert (outcome.path, outcome.field, outcome.version, outcome.previous_version, outcome.resumed) == (
        path, "token", 3, 2, False)
    assert 0 < outcome.seconds < 10
    assert stages(moto, prefix + path) == {token(3): [CURRENT], token(2): [PREVIOUS]}
    stored = aws.read_secret(path)
    assert stored is not None and stored.version == 3
    new = stored.fields["token"]
    assert new != old and len(new) == 32 and new.isalnum() and stored.fields["client_key"] == api_key
    assert aws.read(SecretRef("aws", path, "token")) == new
    assert aws.read_metadata(SecretRef("aws", path, "token")) == META  # the other tags kept
    assert ROTATED_AT_TAG in tags(moto, prefix + path)
    old_version = aws.read_secret(path, version=2)
    assert old_version is not None and old_version.fields["token"] == old
    again = rotation.rotate(path, "token", GeneratedSecret(aws, path))
    assert (again.version, again.previous_version) == (4, 3)
    assert stages(moto, prefix + path) == {token(4): [CURRENT], token(3): [PREVIOUS]}
    newest = aws.read(SecretRef("aws", path, "token"))
    assert newest is not None and newest not in (old, new)
    # The backend's numbering goes on from the rotated version. (Read back by VersionId: moto's
    # UpdateSecretVersionStage does not move its own idea of the current version, so its next
    # PutSecretValue leaves AWSCURRENT on two versions; AWS itself moves the label.)
    assert aws.write(SecretRef("aws", path, "client_key"), api_key + "2") == 5
    fifth = moto.client().get_secret_value(SecretId=prefix + path, VersionId=token(5))
    assert json.loads(fifth["SecretString"]) == {"token": newest, "client_key": api_key + "2"}
    for value in (old, new, newest, api_key):
        assert value not in repr(outcome) and value not in debug_log.text
    out, err = capfd.readouterr()
    assert not any(value in out + err for value in (old, new, newest, api_key))


def test_generate_password_is_letters_and_digits() -> None:
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(len(p) == 32 and p.isascii() and p.isalnum() for p in passwords)
    assert len(generate_password(48)) == 48
    with pytest.raises(ValueError, match="from 12"):
        generate_password(6)


# ---- a database credential, end to end ------------------------------------------------------------


class PostgresPassword:
    """A test-local database setter: ALTER ROLE as the superuser; the test logs in with the
    pending password. (The real ones are another module's.)"""

    def __init__(self, pg: PostgresServer) -> None:
        self.pg = pg

    def _alter(self, user: str, password: str) -> None:
        with self.pg.connect() as admin:
            admin.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(user), sql.Literal(password)))

    def set(self, current: Mapping[str, str], pending: Mapping[str, str]) -> None:
        self._alter(pending["user"], pending["password"])

    def test(self, pending: Mapping[str, str]) -> None:
        if not self.pg.logs_in(pending["user"], pending["password"]):
            raise RotationError(pending["user"], "the pending password is refused")

    def undo(self, current: Mapping[str, str], pending: Mapping[str, str]) -> None:
        self._alter(current["user"], current["password"])


class RefusingPostgresPassword(PostgresPassword):
    """Sets the password for real, then says its test failed (a check beyond the login failed)."""

    def test(self, pending: Mapping[str, str]) -> None:
        super().test(pending)
        raise RotationError(pending["user"], "the application's grants are missing")


def database_secret(pg: PostgresServer, aws: AwsBackend) -> tuple[str, str, str]:
    user, old = f"app_{uuid.uuid4().hex[:8]}", make_value()
    with pg.connect() as admin:
        admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{old}'")
    path = "apps/shop/db"
    aws.write_fields(path, {"user": user, "password": old, "host": "127.0.0.1", "port": str(pg.port)})
    return path, user, old


def test_a_database_password_is_rotated_end_to_end(postgres: PostgresServer, moto: MotoServer, aws: AwsBackend,
                                                   rotation: StagedRotation, prefix: str,
                                                   debug_log: pytest.LogCaptureFixture) -> None:
    path, user, old = database_secret(postgres, aws)
    assert postgres.logs_in(user, old)
    outcome = rotation.rotate(path, "password", PostgresPassword(postgres))
    assert (outcome.version, outcome.previous_version) == (2, 1)
    current = read_stage(aws, path, CURRENT)  # asked for by stage
    assert current is not None and current.version_id == token(2) and current.number == 2
    new = current.fields["password"]
    assert json.loads(moto.client().get_secret_value(SecretId=prefix + path, VersionStage=CURRENT)["SecretString"]
                      )["password"] == new
    assert current.fields["user"] == user and current.fields["port"] == str(postgres.port)
    assert postgres.logs_in(user, new) and not postgres.logs_in(user, old)
    assert new not in repr(current) and old not in debug_log.text and new not in debug_log.text


def test_a_database_rotation_whose_test_fails_is_undone(postgres: PostgresServer, moto: MotoServer,
                                                        aws: AwsBackend, rotation: StagedRotation, prefix: str) -> None:
    path, user, old = database_secret(postgres, aws)
    generated: list[str] = []

    def generate() -> str:
        generated.append(generate_password())
        return generated[-1]

    with pytest.raises(RotationError) as caught:
        rotation.rotate(path, "password", RefusingPostgresPassword(postgres), generate)
    assert value_free(caught.value, old, *generated) == (
        f"{path}: testSecret: {user}: the application's grants are missing "
        f"({CURRENT} unchanged, undone, {PENDING} removed)")
    assert postgres.logs_in(user, old) and not postgres.logs_in(user, generated[0])  # undone in the database
    assert stages(moto, prefix + path) == {token(1): [CURRENT]}


# ---- failures: nothing half-switched ----------------------------------------------------------------


@pytest.mark.parametrize("step", ["set", "test"])
@pytest.mark.parametrize("kind", ["rotation-error", "foreign-with-value", "rotation-error-with-value"])
def test_a_failing_step_leaves_current_alone(step: str, kind: str, moto: MotoServer, aws: AwsBackend,
                                             rotation: StagedRotation, prefix: str,
                                             debug_log: pytest.LogCaptureFixture) -> None:
    path, old, new = "apps/web/key", "canary-" + make_value(), "canary-" + make_value()
    aws.write_fields(path, {"key": old, "user": "svc"})
    error = {"rotation-error": RotationError("svc", "refused by the issuer"),
             "foreign-with-value": ValueError(f"cannot use {new} instead of {old}"),
             "rotation-error-with-value": RotationError("svc", f"refused {new}")}[kind]
    setter = Recorder(fail=step, error=error)
    with pytest.raises(RotationError) as caught:
        rotation.rotate(path, "key", setter, lambda: new)
    text = value_free(caught.value, old, new)
    name = {"set": "setSecret", "test": "testSecret"}[step]
    assert text.startswith(f"{path}: {name}: ") and text.endswith(f"({CURRENT} unchanged, undone, {PENDING} removed)")
    if kind == "rotation-error":
        assert "svc: refused by the issuer" in text and caught.value.__cause__ is error
    else:  # a message that quotes a value (or may: not vaultshift's own) is withheld, and not chained
        assert "withheld" in text and caught.value.__cause__ is None and caught.value.__suppress_context__
    assert stages(moto, prefix + path) == {token(1): [CURRENT]}  # AWSCURRENT untouched, AWSPENDING gone
    assert aws.read(SecretRef("aws", path, "key")) == old
    assert [c[0] for c in setter.calls] == ["set", "undo"] if step == "set" else ["set", "test", "undo"]
    assert setter.calls[-1][1:] == ({"key": old, "user": "svc"}, {"key": new, "user": "svc"})
    assert old not in debug_log.text and new not in debug_log.text


def test_a_secret_that_does_not_exist_is_one_line(aws: AwsBackend, rotation: StagedRotation) -> None:
    setter = Recorder()
    with pytest.raises(RotationError) as caught:
        rotation.rotate("apps/none", "password", setter)
    assert value_free(caught.value) == "apps/none: createSecret: no such secret in aws"
    with pytest.raises(RotationError, match=r"^apps/none: schedule: no such secret"):
        rotation.schedule_of("apps/none")
    aws.write(SecretRef("aws", "apps/some", "user"), "svc")
    with pytest.raises(RotationError, match=r"^apps/some: createSecret: the secret has no field 'password'$"):
        rotation.rotate("apps/some", "password", setter)
    assert setter.calls == []


def test_an_undo_that_fails_keeps_pending_for_a_resume(moto: MotoServer, aws: AwsBackend, rotation: StagedRotation,
                                                       prefix: str) -> None:
    path, old, new = "apps/web/key", make_value(), make_value()
    aws.write(SecretRef("aws", path, "key"), old)
    broken = Recorder(fail="test", error=RotationError("svc", "unreachable"),
                      undo_error=RotationError("svc", "unreachable"))
    with pytest.raises(RotationError) as caught:
        rotation.rotate(path, "key", broken, lambda: new)
    assert "undo failed as well (svc: unreachable)" in value_free(caught.value, old, new)
    # the issuer may hold the new value now: it stays staged, AWSCURRENT is untouched
    assert stages(moto, prefix + path) == {token(1): [CURRENT], token(2): [PENDING]}
    healed = Recorder()
    outcome = rotation.rotate(path, "key", healed, never)
    assert (outcome.version, outcome.previous_version, outcome.resumed) == (2, 1, True)
    assert healed.calls[0] == ("set", {"key": old}, {"key": new})
    assert aws.read(SecretRef("aws", path, "key")) == new
    assert stages(moto, prefix + path) == {token(2): [CURRENT], token(1): [PREVIOUS]}


# ---- resuming a rotation that died half way --------------------------------------------------------


def test_a_leftover_pending_version_is_resumed(moto: MotoServer, aws: AwsBackend, rotation: StagedRotation,
                                               prefix: str) -> None:
    path, old, new = "apps/web/db", make_value(), make_value()
    aws.write_fields(path, {"password": old, "user": "app"})
    moto.client().put_secret_value(SecretId=prefix + path, SecretString=json.dumps({"password": new, "user": "app"}),
                                   ClientRequestToken=token(2), VersionStages=[PENDING])  # died after createSecret
    setter = Recorder()
    outcome = rotation.rotate(path, "password", setter, never)
    assert (outcome.version, outcome.previous_version, outcome.resumed) == (2, 1, True)
    assert [c[0] for c in setter.calls] == ["set", "test"]
    assert stages(moto, prefix + path) == {token(2): [CURRENT], token(1): [PREVIOUS]}
    assert aws.read(SecretRef("aws", path, "password")) == new


def test_a_rotation_that_died_after_the_move_is_finished(moto: MotoServer, aws: AwsBackend, rotation: StagedRotation,
                                                         prefix: str) -> None:
    path, old, new = "apps/web/db", make_value(), make_value()
    aws.write(SecretRef("aws", path, "password"), old)
    client = moto.client()
    client.put_secret_value(SecretId=prefix + path, SecretString=json.dumps({"password": new}),
                            ClientRequestToken=token(2), VersionStages=[PENDING])
    client.update_secret_version_stage(SecretId=prefix + path, VersionStage=CURRENT, MoveToVersionId=token(2),
                                       RemoveFromVersionId=token(1))  # died before removing AWSPENDING
    assert stages(moto, prefix + path) == {token(2): [CURRENT, PENDING], token(1): [PREVIOUS]}
    setter = Recorder()
    outcome = rotation.rotate(path, "password", setter, never)
    assert (outcome.version, outcome.previous_version, outcome.resumed) == (2, 1, True)
    assert setter.calls == []  # tested before the move: only the stage was left to remove
    assert stages(moto, prefix + path) == {token(2): [CURRENT], token(1): [PREVIOUS]}
    assert ROTATED_AT_TAG in tags(moto, prefix + path)


def test_a_pending_version_of_something_else_is_refused_until_cancelled(moto: MotoServer, aws: AwsBackend,
                                                                        rotation: StagedRotation,
                                                                        prefix: str) -> None:
    path, old, other = "apps/web/db", make_value(), make_value()
    aws.write_fields(path, {"password": old, "user": "app"})
    moto.client().put_secret_value(SecretId=prefix + path, SecretString=json.dumps({"password": old, "user": other}),
                                   ClientRequestToken=token(2), VersionStages=[PENDING])
    setter = Recorder()
    with pytest.raises(RotationError) as caught:
        rotation.rotate(path, "password", setter, never)
    assert value_free(caught.value, old, other).endswith(
        "not a new value of 'password' alone: cancel it first")
    assert setter.calls == [] and stages(moto, prefix + path) == {token(1): [CURRENT], token(2): [PENDING]}
    assert rotation.cancel(path, setter) is True
    assert [c[0] for c in setter.calls] == ["undo"]
    assert stages(moto, prefix + path) == {token(1): [CURRENT]}
    assert rotation.cancel(path, setter) is False
    # version 2 is left without a stage: the next rotation numbers past it
    outcome = rotation.rotate(path, "password", GeneratedSecret(aws, path))
    assert (outcome.version, outcome.previous_version) == (3, 1)
    stored = aws.read_secret(path)
    assert stored is not None and stored.version == 3 and stored.fields["user"] == "app"


def test_the_backend_writes_after_a_failed_rotation(moto: MotoServer, aws: AwsBackend, rotation: StagedRotation,
                                                    prefix: str) -> None:
    """A failed rotation leaves its version 2 without a stage: the next write numbers past it."""
    path = "apps/web/key"
    aws.write(SecretRef("aws", path, "key"), make_value())
    with pytest.raises(RotationError):
        rotation.rotate(path, "key", Recorder(fail="test", error=RotationError("svc", "no")))
    assert stages(moto, prefix + path) == {token(1): [CURRENT]}
    waits: list[float] = []
    aws._sleep = waits.append  # a merge round would wait first: there is none
    value = make_value()
    assert aws.write(SecretRef("aws", path, "key"), value) == 3
    assert waits == []
    assert stages(moto, prefix + path) == {token(3): [CURRENT], token(1): [PREVIOUS]}
    assert aws.read(SecretRef("aws", path, "key")) == value
    assert aws.write(SecretRef("aws", path, "user"), "svc") == 4  # and on from there, in one write
    outcome = rotation.rotate(path, "key", GeneratedSecret(aws, path))
    assert (outcome.version, outcome.previous_version) == (5, 4)


# ---- the schedule -----------------------------------------------------------------------------------


def test_schedule_round_trip_and_due(moto: MotoServer, aws: AwsBackend, rotation: StagedRotation,
                                     prefix: str) -> None:
    weekly, never_scheduled = "apps/a/token", "apps/b/token"
    aws.write(SecretRef("aws", weekly, "token"), make_value(), META)
    aws.write(SecretRef("aws", never_scheduled, "token"), make_value())
    made = moto.client().list_secret_version_ids(SecretId=prefix + weekly)["Versions"][0]["CreatedDate"]
    unscheduled = rotation.schedule_of(weekly)
    assert (unscheduled.days, unscheduled.next_due) == (None, None)
    # Never rotated: the current version's age. (moto stamps a first version's CreatedDate when it is
    # listed, so two listings may differ by a second boundary: compared within two seconds.)
    assert abs((unscheduled.rotated_at - made.astimezone(UTC)).total_seconds()) <= 2
    rotation.schedule(weekly, 7)
    schedule = rotation.schedule_of(weekly)
    assert schedule.days == 7 and schedule.rotated_at == unscheduled.rotated_at
    assert schedule.next_due == schedule.rotated_at + timedelta(days=7)
    assert tags(moto, prefix + weekly)[ROTATION_DAYS_TAG] == "7"
    assert aws.read_metadata(SecretRef("aws", weekly, "token")) == META  # other tags kept
    paths = [weekly, never_scheduled, "apps/gone"]
    now = datetime.now(UTC)
    assert rotation.due(paths, now) == []
    assert rotation.due(paths, now + timedelta(days=8)) == [weekly]
    rotation.rotate(weekly, "token", GeneratedSecret(aws, weekly))
    rotated = rotation.schedule_of(weekly)
    assert rotated.days == 7 and now - timedelta(seconds=2) <= rotated.rotated_at <= datetime.now(UTC)
    assert datetime.fromisoformat(tags(moto, prefix + weekly)[ROTATED_AT_TAG]) == rotated.rotated_at
    assert rotation.due(paths, rotated.rotated_at + timedelta(days=6)) == []
    assert rotation.due(paths, rotated.rotated_at + timedelta(days=7)) == [weekly]
    rotation.schedule(weekly, None)
    assert rotation.schedule_of(weekly).days is None and ROTATION_DAYS_TAG not in tags(moto, prefix + weekly)
    assert aws.read_metadata(SecretRef("aws", weekly, "token")) == META


def test_schedule_refuses_what_it_cannot_use(moto: MotoServer, aws: AwsBackend, rotation: StagedRotation,
                                             prefix: str) -> None:
    path = "apps/a/token"
    aws.write(SecretRef("aws", path, "token"), make_value())
    for days in (0, 1001, True, 2.5):
        with pytest.raises(ValueError, match="days must be a whole number from 1 to 1000"):
            rotation.schedule(path, days)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time zone"):
        rotation.due([path], datetime.now())
    moto.client().tag_resource(SecretId=prefix + path, Tags=[{"Key": ROTATION_DAYS_TAG, "Value": "soon"}])
    with pytest.raises(RotationError) as caught:
        rotation.schedule_of(path)
    assert value_free(caught.value) == (f"{path}: schedule: the tag {ROTATION_DAYS_TAG} holds 'soon', not a number "
                                        "of days from 1 to 1000")
