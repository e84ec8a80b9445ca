"""Reading an older version of a secret (``read_secret(path, version=n)``) from a real ``bao
server -dev`` (KV v2 versions) and moto's Secrets Manager (vaultshift's numbered VersionIds);
``read_secret(path)`` without a version is the latest, as before."""

from __future__ import annotations

import json
import uuid

import pytest
from servers import BaoServer, MotoServer, make_value

from migrator.backends import Backend, NotFound, make_backend
from migrator.backends.aws import AwsBackend
from migrator.backends.vault import VaultBackend
from migrator.plan.models import SecretRef


@pytest.fixture
def vault(bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> VaultBackend:
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao.token)
    backend = make_backend("vault", bao.settings(prefix=f"t-{uuid.uuid4().hex[:10]}"))
    assert isinstance(backend, VaultBackend)
    return backend


@pytest.fixture
def aws(moto: MotoServer, aws_env: dict[str, str]) -> AwsBackend:
    backend = make_backend("aws", moto.settings(prefix=f"t-{uuid.uuid4().hex[:10]}/"))
    assert isinstance(backend, AwsBackend)
    return backend


def three_versions(backend: Backend, path: str) -> list[str]:
    """Versions 1, 2, 3 of ``path``: field ``password`` changes each time, ``user`` joins in 2."""
    values = ["v1-" + make_value(), "v2-" + make_value(), "v3-" + make_value()]
    assert backend.write(SecretRef("b", path, "password"), values[0], {"source": "a.yml"}) == 1
    assert backend.write_fields(path, {"password": values[1], "user": "app"}) == 2
    assert backend.write(SecretRef("b", path, "password"), values[2], {"source": "b.yml"}) == 3
    return values


def check_versions(backend: Backend, path: str, values: list[str]) -> None:
    for number, value in enumerate(values, start=1):
        stored = backend.read_secret(path, version=number)
        assert stored is not None and stored.version == number and not stored.deleted
        assert stored.fields == ({"password": value} if number == 1 else {"password": value, "user": "app"})
        assert stored.metadata == {"password:source": "b.yml"}  # the path's metadata is not versioned
    latest = backend.read_secret(path)
    assert latest is not None and latest.version == 3 and latest.fields == {"password": values[2], "user": "app"}
    third = backend.read_secret(path, 3)
    assert third is not None and (third.fields, third.version) == (latest.fields, 3)
    assert backend.read(SecretRef("b", path, "password")) == values[2]
    assert backend.read_secret(f"{path}-nothing", version=1) is None  # nothing at the path
    for bad in (0, -1, True, "2", 1.0):
        with pytest.raises(ValueError, match=r"version must be a whole number from 1"):
            backend.read_secret(path, bad)  # type: ignore[arg-type]


# ---- Vault / OpenBao KV v2 ---------------------------------------------------------------------


def test_vault_reads_each_version_by_number(vault: VaultBackend):
    values = three_versions(vault, "apps/db")
    check_versions(vault, "apps/db", values)
    assert vault.read_secret("apps/db", version=4) is None  # never written: the server answers as for no path


def test_vault_deleted_and_destroyed_versions_are_deleted(bao: BaoServer, vault: VaultBackend):
    three_versions(vault, "apps/gone")
    full = f"{vault.prefix}/apps/gone"
    bao.client().secrets.kv.v2.delete_secret_versions(path=full, versions=[1], mount_point="secret")
    bao.client().secrets.kv.v2.destroy_secret_versions(path=full, versions=[2], mount_point="secret")
    for number in (1, 2):
        stored = vault.read_secret("apps/gone", version=number)
        assert stored is not None and stored.deleted and stored.fields == {} and stored.version == number
    current = vault.read_secret("apps/gone", version=3)
    assert current is not None and not current.deleted and set(current.fields) == {"password", "user"}
    vault.delete(SecretRef("b", "apps/gone", "password"))  # version 4: only "user" left
    vault.delete(SecretRef("b", "apps/gone", "user"))  # the last field: version 4 is soft-deleted
    latest, numbered = vault.read_secret("apps/gone"), vault.read_secret("apps/gone", version=4)
    assert latest is not None and latest.deleted and latest.version == 4
    assert numbered is not None and numbered.deleted and numbered.version == 4
    older = vault.read_secret("apps/gone", version=3)
    assert older is not None and older.fields == current.fields  # older versions stay readable


def test_vault_versions_beyond_max_versions_are_gone(bao: BaoServer, vault: VaultBackend):
    full = f"{vault.prefix}/apps/few"
    vault.write(SecretRef("b", "apps/few", "k"), "1")
    bao.client().secrets.kv.v2.update_metadata(path=full, max_versions=2, mount_point="secret")
    vault.write(SecretRef("b", "apps/few", "k"), "2")
    vault.write(SecretRef("b", "apps/few", "k"), "3")
    assert vault.read_secret("apps/few", version=1) is None  # no longer kept
    stored = vault.read_secret("apps/few", version=2)
    assert stored is not None and stored.fields == {"k": "2"}


# ---- AWS Secrets Manager -------------------------------------------------------------------------


def test_aws_reads_each_version_by_number(moto: MotoServer, aws: AwsBackend):
    values = three_versions(aws, "apps/db")
    check_versions(aws, "apps/db", values)
    assert aws.read_secret("apps/db", version=4) is None  # every version is vaultshift's: none has number 4
    ids = {v["VersionId"] for v in moto.client().list_secret_version_ids(
        SecretId=f"{aws.prefix}apps/db", IncludeDeprecated=True)["Versions"]}
    assert ids == {f"vaultshift-version-{n:020d}" for n in (1, 2, 3)}


def test_aws_versions_written_by_other_tools(moto: MotoServer, aws: AwsBackend):
    """Their VersionIds are UUIDs: only the current one has a number (counted, as the latest read
    gives it); another number that is not vaultshift's is NotFound naming the version."""
    name = f"{aws.prefix}apps/foreign"
    client = moto.client()
    client.create_secret(Name=name, SecretString=json.dumps({"a": "1"}))
    client.put_secret_value(SecretId=name, SecretString=json.dumps({"a": "2"}))
    latest = aws.read_secret("apps/foreign")
    assert latest is not None and latest.version == 2
    by_number = aws.read_secret("apps/foreign", version=2)
    assert by_number is not None and by_number.fields == {"a": "2"} and by_number.version == 2
    with pytest.raises(NotFound) as caught:
        aws.read_secret("apps/foreign", version=1)
    assert str(caught.value) == ("aws: read apps/foreign: no version 1 (VersionId vaultshift-version-"
                                 "00000000000000000001): the secret also has versions written by other tools, "
                                 "which have no vaultshift number")
    assert aws.write(SecretRef("b", "apps/foreign", "b"), "x") == 3  # vaultshift's own from here on
    third = aws.read_secret("apps/foreign", version=3)
    assert third is not None and third.fields == {"a": "2", "b": "x"}
    with pytest.raises(NotFound, match=r"no version 2 "):  # no longer current: its number is gone
        aws.read_secret("apps/foreign", version=2)


def test_aws_a_secret_scheduled_for_deletion_is_deleted(aws: AwsBackend):
    three_versions(aws, "apps/gone")
    aws.delete(SecretRef("b", "apps/gone", "password"))
    aws.delete(SecretRef("b", "apps/gone", "user"))
    for version in (None, 2):
        stored = aws.read_secret("apps/gone", version)
        assert stored is not None and stored.deleted and stored.fields == {}
    stored = aws.read_secret("apps/gone", 2)
    assert stored is not None and stored.version == 2
