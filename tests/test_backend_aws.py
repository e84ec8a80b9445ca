"""The AWS Secrets Manager backend against moto's server on loopback (tests/servers.py): the
SecretString as a JSON object of fields, tags as metadata, AWSCURRENT and version stages,
check-and-set through version tokens, and failures mapped to their meaning without values.
Real AWS is never reached: dummy credentials, no config files, endpoint_url pointing at moto."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from servers import MotoServer, free_port, make_value, moto_server

from migrator.backends import (
    AuthError,
    BackendError,
    CasMismatch,
    Forbidden,
    InvalidSecret,
    StoredSecret,
    Unavailable,
    make_backend,
)
from migrator.backends.aws import VERSION_TOKEN, AwsBackend
from migrator.plan.models import SecretRef

T = TypeVar("T")
META = {"source": "web01:/etc/app/config.yml", "first_seen": "2026-01-05T10:00:00Z",
        "fingerprint": "hmac-sha256:0123456789abcdef0123456789abcdef"}


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:10]}/"


@pytest.fixture
def aws(moto: MotoServer, aws_env: dict[str, str], prefix: str) -> AwsBackend:
    backend = make_backend("aws", moto.settings(prefix=prefix))
    assert isinstance(backend, AwsBackend)
    return backend


def described(moto: MotoServer, name: str) -> dict[str, Any]:
    result: dict[str, Any] = moto.client().describe_secret(SecretId=name)
    return result


def assert_value_free(exc: BaseException, *values: str) -> None:
    text = " ".join([str(exc), repr(exc), *map(str, exc.args)])
    assert "\n" not in str(exc)
    for value in values:
        assert value not in text


def test_the_test_environment_cannot_reach_aws(aws_env: dict[str, str]):
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_CONFIG_FILE"] == os.devnull and os.environ["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert "AWS_PROFILE" not in os.environ and os.environ["AWS_EC2_METADATA_DISABLED"] == "true"


# ---- round trips --------------------------------------------------------------------------------


def test_write_read_and_metadata_round_trip(moto: MotoServer, aws: AwsBackend, prefix: str):
    ref = SecretRef("aws", "apps/web/db", "password")
    value = make_value(40)
    assert aws.write(ref, value, META) == 1
    assert aws.read(ref) == value
    assert aws.read_metadata(ref) == META
    current = moto.client().get_secret_value(SecretId=f"{prefix}apps/web/db")
    assert json.loads(current["SecretString"]) == {"password": value}
    assert current["VersionId"] == "vaultshift-version-00000000000000000001"
    assert current["VersionStages"] == ["AWSCURRENT"]
    tags = {t["Key"]: t["Value"] for t in described(moto, f"{prefix}apps/web/db")["Tags"]}
    assert tags == {f"password:{k}": v for k, v in META.items()}
    assert aws.read(SecretRef("aws", "apps/web/db", "user")) is None
    assert aws.read(SecretRef("aws", "apps/nothing", "password")) is None


def test_two_fields_of_one_path_are_merged_and_versions_staged(moto: MotoServer, aws: AwsBackend, prefix: str):
    user, password = SecretRef("aws", "apps/db", "user"), SecretRef("aws", "apps/db", "password")
    aws.write(user, "app_rw", {"source": "a.yml"})
    assert aws.write(password, "pw-" + make_value(), {"source": "b.env"}) == 2
    assert aws.read(user) == "app_rw"
    assert aws.read_metadata(user) == {"source": "a.yml"} and aws.read_metadata(password) == {"source": "b.env"}
    stages = described(moto, f"{prefix}apps/db")["VersionIdsToStages"]
    assert stages == {"vaultshift-version-00000000000000000001": ["AWSPREVIOUS"],
                      "vaultshift-version-00000000000000000002": ["AWSCURRENT"]}


def test_writing_what_is_stored_makes_no_new_version(moto: MotoServer, aws: AwsBackend, prefix: str):
    ref = SecretRef("aws", "apps/same", "key")
    value = make_value()
    assert aws.write(ref, value, META) == 1
    assert aws.write(ref, value, META) == 1
    assert aws.write(ref, value, {**META, "source": "elsewhere"}) == 1  # only a tag changes
    assert aws.read_metadata(ref) == {**META, "source": "elsewhere"}
    assert len(described(moto, f"{prefix}apps/same")["VersionIdsToStages"]) == 1


def test_reads_the_current_stage_not_a_pending_version(moto: MotoServer, aws: AwsBackend, prefix: str):
    ref = SecretRef("aws", "apps/staged", "password")
    current = "current-" + make_value()
    aws.write(ref, current)
    pending = "pending-" + make_value()
    moto.client().put_secret_value(SecretId=f"{prefix}apps/staged", SecretString=json.dumps({"password": pending}),
                                   VersionStages=["AWSPENDING"])  # a rotation in progress
    assert aws.read(ref) == current
    aws.write(SecretRef("aws", "apps/staged", "user"), "u")  # based on AWSCURRENT, not on the pending version
    assert aws.read(ref) == current and aws.read(SecretRef("aws", "apps/staged", "user")) == "u"


def test_versions_written_by_other_tools_are_counted(moto: MotoServer, aws: AwsBackend, prefix: str):
    name = f"{prefix}apps/foreign"
    client = moto.client()
    client.create_secret(Name=name, SecretString=json.dumps({"a": "1"}))  # a UUID version id
    client.put_secret_value(SecretId=name, SecretString=json.dumps({"a": "2"}))
    stored = aws.read_secret("apps/foreign")
    assert stored is not None and stored.fields == {"a": "2"} and stored.version == 2
    assert aws.write(SecretRef("aws", "apps/foreign", "b"), "x") == 3
    assert json.loads(client.get_secret_value(SecretId=name)["SecretString"]) == {"a": "2", "b": "x"}
    client.put_secret_value(SecretId=name, SecretString=json.dumps({"a": "3", "b": "x"}))
    assert aws.write(SecretRef("aws", "apps/foreign", "c"), "y") == 5  # after ours (3) and theirs (4)


@pytest.mark.parametrize("kwargs", [{"SecretString": "plain text password"}, {"SecretString": "[1, 2]"},
                                    {"SecretBinary": b"\x00\x01"}, {"SecretString": '{"port": 5432}'}])
def test_secrets_that_are_not_objects_of_strings_are_never_clobbered(moto: MotoServer, aws: AwsBackend,
                                                                     prefix: str, kwargs: dict[str, Any]):
    name = f"{prefix}apps/other-{uuid.uuid4().hex[:6]}"
    moto.client().create_secret(Name=name, **kwargs)
    path = name[len(prefix):]
    with pytest.raises(InvalidSecret) as caught:
        aws.write(SecretRef("aws", path, "password"), "x")
    assert str(caught.value).startswith(f"aws: read {path}")
    assert "plain text password" not in str(caught.value)
    after = moto.client().get_secret_value(SecretId=name)
    assert after.get("SecretString") == kwargs.get("SecretString")


# ---- check-and-set and concurrent writers -----------------------------------------------------------


def test_cas_mismatch_when_the_secret_moved_on(moto: MotoServer, aws: AwsBackend, prefix: str):
    ref = SecretRef("aws", "apps/cas", "password")
    seen = aws.write(ref, "first-" + make_value())
    theirs = "theirs-" + make_value()
    moto.client().put_secret_value(SecretId=f"{prefix}apps/cas", SecretString=json.dumps({"password": theirs}))
    mine = "mine-" + make_value()
    with pytest.raises(CasMismatch) as caught:
        aws.write(ref, mine, cas=seen)
    assert str(caught.value) == ("aws: write apps/cas#password: check-and-set expected version 1, "
                                 "the store has version 2")
    assert_value_free(caught.value, mine, theirs)
    assert aws.read(ref) == theirs


class RacingAws(AwsBackend):
    """A real backend that lets another real writer in between its read and its write, once: both
    then try to create the same next version, and the token lets only one of them."""

    rival: AwsBackend
    raced = False

    def _get(self, path: str) -> StoredSecret | None:
        current = super()._get(path)
        if not self.raced and current is not None:
            self.raced = True
            self.rival.write(SecretRef("rival", path, "rival_field"), "rival-" + make_value())
        return current


def test_a_writer_that_loses_the_race_merges_again(moto: MotoServer, aws_env: dict[str, str], prefix: str):
    racing = RacingAws.from_settings("aws", moto.settings(prefix=prefix))
    racing.rival = AwsBackend.from_settings("rival", moto.settings(prefix=prefix))
    assert isinstance(racing, RacingAws)
    racing.write(SecretRef("aws", "apps/race", "first"), "1")
    racing.write(SecretRef("aws", "apps/race", "second"), "2")  # the rival writes version 2 in between
    stored = racing.read_secret("apps/race")
    assert stored is not None and stored.fields.keys() == {"first", "second", "rival_field"}
    assert stored.version == 3


def test_concurrent_writers_of_one_path_lose_nothing(moto: MotoServer, aws_env: dict[str, str], prefix: str):
    errors: list[BaseException] = []
    make_backend("setup", moto.settings(prefix=prefix)).write(SecretRef("aws", "apps/shared", "f"), "0")

    def writer(n: int) -> None:
        backend = make_backend(f"w{n}", moto.settings(prefix=prefix))
        try:
            for i in range(4):
                backend.write(SecretRef("aws", "apps/shared", f"f{n}_{i}"), f"value-{n}-{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    stored = make_backend("check", moto.settings(prefix=prefix)).read_secret("apps/shared")
    assert stored is not None
    assert stored.fields == {"f": "0", **{f"f{n}_{i}": f"value-{n}-{i}" for n in range(3) for i in range(4)}}


def token(n: int) -> str:
    return VERSION_TOKEN.format(n)


def leave_unstaged(moto: MotoServer, name: str, number: int, fields: dict[str, str]) -> None:
    """Version ``number`` made and left without a stage, as a staged rotation that failed leaves it."""
    client = moto.client()
    client.put_secret_value(SecretId=name, SecretString=json.dumps(fields), ClientRequestToken=token(number),
                            VersionStages=["AWSPENDING"])
    client.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=token(number))


def staged(moto: MotoServer, name: str) -> dict[str, list[str]]:
    """Every version of ``name`` and its stages (unstaged ones too)."""
    return {v["VersionId"]: sorted(v["VersionStages"])
            for v in moto.client().list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]}


def test_a_version_that_never_became_current_is_numbered_past(moto: MotoServer, aws: AwsBackend, prefix: str):
    name, ref = f"{prefix}apps/gap", SecretRef("aws", "apps/gap", "key")
    first, orphan, second = make_value(), "orphan-" + make_value(), make_value()
    assert aws.write(ref, first) == 1
    leave_unstaged(moto, name, 2, {"key": orphan})
    assert aws.write(ref, second, cas=1) == 3  # the check-and-set is on AWSCURRENT, still version 1
    assert staged(moto, name) == {token(1): ["AWSPREVIOUS"], token(2): [], token(3): ["AWSCURRENT"]}
    unstaged = aws.read_secret("apps/gap", version=2)
    assert aws.read(ref) == second and unstaged is not None and unstaged.fields == {"key": orphan}
    assert aws.write(SecretRef("aws", "apps/gap", "user"), "svc") == 4
    with pytest.raises(CasMismatch):
        aws.write(ref, make_value(), cas=3)  # an old version is still refused
    assert aws.next_version("apps/gap", 4) == 5


class RepeatingAws(AwsBackend):
    """A real backend that sends every write twice, as the backend's retry does when a reply is
    lost after the write was done: the second request carries the same token and the same content."""

    def _call(self, operation: str, path: str, fn: Callable[[Any], T], values: Collection[str] = ()) -> T:
        result = super()._call(operation, path, fn, values)
        return super()._call(operation, path, fn, values) if operation == "write" else result


def test_a_repeated_write_is_the_same_version(moto: MotoServer, aws_env: dict[str, str], prefix: str):
    repeating = RepeatingAws.from_settings("aws", moto.settings(prefix=prefix))
    name, ref = f"{prefix}apps/again", SecretRef("aws", "apps/again", "key")
    assert repeating.write(ref, make_value()) == 1
    assert repeating.write(ref, make_value()) == 2
    leave_unstaged(moto, name, 3, {"key": make_value()})
    value = make_value()
    assert repeating.write(ref, value) == 4  # numbered past 3; the repeated request is idempotent
    assert staged(moto, name) == {token(1): [], token(2): ["AWSPREVIOUS"], token(3): [], token(4): ["AWSCURRENT"]}
    assert repeating.read(ref) == value


def test_a_writer_that_loses_the_race_past_an_unstaged_version_merges_again(moto: MotoServer,
                                                                           aws_env: dict[str, str], prefix: str):
    racing = RacingAws.from_settings("aws", moto.settings(prefix=prefix))
    assert isinstance(racing, RacingAws)
    racing.rival = AwsBackend.from_settings("rival", moto.settings(prefix=prefix))
    name = f"{prefix}apps/race"
    racing.raced = True
    racing.write(SecretRef("aws", "apps/race", "first"), "1")
    leave_unstaged(moto, name, 2, {"first": "0"})
    racing.raced = False
    # The rival, in between, finds version 2 taken, AWSCURRENT still on 1: it writes version 3. This
    # writer then finds version 2 taken and AWSCURRENT on 3: a lost race, merged again as version 4.
    assert racing.write(SecretRef("aws", "apps/race", "second"), "2") == 4
    stored = racing.read_secret("apps/race")
    assert stored is not None and stored.fields.keys() == {"first", "second", "rival_field"}  # nothing lost
    assert (stored.fields["first"], stored.fields["second"]) == ("1", "2")
    assert staged(moto, name) == {token(1): [], token(2): [], token(3): ["AWSPREVIOUS"], token(4): ["AWSCURRENT"]}


# ---- delete and list -------------------------------------------------------------------------------


def test_delete_untags_one_field_then_schedules_deletion(moto: MotoServer, aws: AwsBackend, prefix: str):
    user, password = SecretRef("aws", "apps/del", "user"), SecretRef("aws", "apps/del", "password")
    aws.write(user, "u", {"source": "a"})
    aws.write(password, "p-" + make_value(), {"source": "b"})
    aws.delete(password)
    assert aws.read(password) is None and aws.read(user) == "u"
    assert {t["Key"] for t in described(moto, f"{prefix}apps/del")["Tags"]} == {"user:source"}
    aws.delete(user)
    assert described(moto, f"{prefix}apps/del").get("DeletedDate")  # recoverable, not gone
    assert aws.read(user) is None
    assert aws.list("apps/") == []  # a secret scheduled for deletion is not listed
    assert aws.write(user, "again") == 4  # restored, then a new version
    assert aws.read(user) == "again" and not described(moto, f"{prefix}apps/del").get("DeletedDate")


def test_list_under_the_backend_prefix(moto: MotoServer, aws: AwsBackend, prefix: str):
    for path in ("apps/web/db", "apps/web/api", "apps/worker", "infra/dns"):
        aws.write(SecretRef("aws", path, "k"), "v")
    moto.client().create_secret(Name=f"other-{prefix}apps/web/db", SecretString="{}")
    assert aws.list() == ["apps/web/api", "apps/web/db", "apps/worker", "infra/dns"]
    assert aws.list("apps/web/") == ["apps/web/api", "apps/web/db"]
    assert aws.list("apps/w") == ["apps/web/api", "apps/web/db", "apps/worker"]
    assert aws.list("APPS/") == []  # AWS's name filter ignores case; paths do not


# ---- failures ------------------------------------------------------------------------------------


def test_an_endpoint_that_refuses_connections_is_unavailable_in_bounded_time(aws_env: dict[str, str],
                                                                              caplog: pytest.LogCaptureFixture):
    port = free_port()
    backend = make_backend("aws", {"type": "aws", "region": "us-east-1", "endpoint_url": f"http://127.0.0.1:{port}",
                                   "retries": 2, "retry_delay": 0.1, "retry_max_delay": 0.1})
    canary = "canary-" + make_value()
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        backend.write(SecretRef("aws", "apps/x", "k"), canary)
    assert time.monotonic() - started < 0.2 + 1.0
    assert str(caught.value) == (f"aws: read apps/x: cannot connect to http://127.0.0.1:{port} "
                                 "(gave up after 2 retries)")
    assert canary not in caplog.text


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def test_an_endpoint_that_never_answers_times_out_in_bounded_time(aws_env: dict[str, str], silent_port: int):
    backend = make_backend("aws", {"type": "aws", "region": "us-east-1", "retries": 1, "retry_delay": 0.1,
                                   "endpoint_url": f"http://127.0.0.1:{silent_port}", "timeout": 0.3})
    started = time.monotonic()
    with pytest.raises(Unavailable, match=r"did not answer within 0.3 s \(gave up after 1 retry\)$"):
        backend.read(SecretRef("aws", "apps/x", "k"))
    assert time.monotonic() - started < 2 * 0.3 + 0.1 + 1.0


def test_a_server_stopped_mid_run_is_unavailable(aws_env: dict[str, str], tmp_path: Path):
    with moto_server(tmp_path) as private:
        backend = make_backend("aws", private.settings(retries=2, retry_delay=0.05))
        ref = SecretRef("aws", "apps/down", "password")
        backend.write(ref, make_value())
        private.process.kill()
        started = time.monotonic()
        with pytest.raises(Unavailable, match=r"^aws: read apps/down: cannot connect to "):
            backend.write(ref, make_value())
        assert time.monotonic() - started < 1.0


@pytest.fixture(scope="module")
def moto_with_iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """moto enforcing IAM after setup: the endpoint and the keys of a user who may only read."""
    import boto3

    # Three requests without authentication (user, policy, key), then every request is checked.
    with moto_server(tmp_path_factory.mktemp("moto-iam"), {"INITIAL_NO_AUTH_ACTION_COUNT": "3"}) as server:
        iam = boto3.client("iam", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing")
        iam.create_user(UserName="reader")
        iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
                "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:ListSecrets"]}]}))
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        yield server.endpoint, {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                                "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def test_a_policy_that_only_reads_is_forbidden_to_write(moto_with_iam: tuple[str, dict[str, str]],
                                                        aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    endpoint, keys = moto_with_iam
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    backend = make_backend("aws", {"type": "aws", "region": "us-east-1", "endpoint_url": endpoint, "retries": 3,
                                   "retry_delay": 1.0})
    assert backend.list() == []
    canary = "canary-" + make_value()
    started = time.monotonic()
    with pytest.raises(Forbidden) as caught:
        backend.write(SecretRef("aws", "apps/ro", "password"), canary)
    assert time.monotonic() - started < 1.0  # never retried
    assert str(caught.value).startswith("aws: write apps/ro: AccessDenied: User: arn:aws:iam::")
    assert_value_free(caught.value, canary)


def test_unknown_credentials_are_an_auth_error(moto_with_iam: tuple[str, dict[str, str]],
                                               aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    endpoint, _ = moto_with_iam
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA" + make_value(16).upper())
    backend = make_backend("aws", {"type": "aws", "region": "us-east-1", "endpoint_url": endpoint})
    with pytest.raises(AuthError, match=r"^aws: read apps/x: InvalidClientTokenId: The security token"):
        backend.read(SecretRef("aws", "apps/x", "k"))


def test_no_credentials_and_no_region_are_named(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                                moto: MotoServer):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AuthError, match=r"^aws: read apps/x: no AWS credentials found"):
        make_backend("aws", moto.settings()).read(SecretRef("aws", "apps/x", "k"))
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    settings = {k: v for k, v in moto.settings().items() if k != "region"}
    with pytest.raises(BackendError, match=r"^aws: read apps/x: no region: set region in the backend or AWS_REGION"):
        make_backend("aws", settings).read(SecretRef("aws", "apps/x", "k"))


def test_no_value_in_any_message_or_log(moto: MotoServer, aws: AwsBackend, prefix: str,
                                        caplog: pytest.LogCaptureFixture):
    """botocore logs request and response bodies at DEBUG: the backend withholds them."""
    caplog.set_level(logging.DEBUG)
    canary = "canary-" + make_value(32)
    ref = SecretRef("aws", "apps/canary", "password")
    aws.write(ref, canary, META)
    assert aws.read(ref) == canary
    aws.write(SecretRef("aws", "apps/canary", "user"), "u")
    moto.client().put_secret_value(SecretId=f"{prefix}apps/canary", SecretString=json.dumps({"password": "x"}))
    with pytest.raises(CasMismatch) as caught:
        aws.write(ref, canary, cas=1)
    assert_value_free(caught.value, canary)
    with pytest.raises(BackendError, match=r"^aws: write apps/canary: metadata 'password:source': 300 characters, "
                                           r"an AWS tag value holds 256$") as too_long:
        aws.write(ref, canary, {"source": "x" * 300})
    assert_value_free(too_long.value, canary)
    assert aws.read(ref) == "x"  # refused before anything was written
    assert any(r.name.startswith("botocore") for r in caplog.records)
    assert canary not in caplog.text
