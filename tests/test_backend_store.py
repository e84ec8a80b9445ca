"""``Backend.store`` (write unless already there, the read saved when the caller knows the path is
new), ``Backend.clone`` (one backend per thread) and the Vault client's environment settings,
against a real ``bao server -dev`` and moto (tests/servers.py)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from servers import BaoServer, MotoServer, make_value

from migrator.backends import StoredSecret, Unavailable, make_backend
from migrator.backends.aws import AwsBackend
from migrator.backends.base import Backend
from migrator.backends.vault import VaultBackend
from migrator.plan.models import SecretRef

META = {"source": "web01:/etc/app/config.yml", "first_seen": "2026-01-05T10:00:00Z",
        "fingerprint": "hmac-sha256:0123456789abcdef0123456789abcdef"}
LATER = dict(META, first_seen="2026-02-01T00:00:00Z")


@pytest.fixture
def token_env(bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao.token)


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


class Counting:
    """Counts the reads a backend makes (``_get``)."""

    reads = 0

    def _get(self, path: str) -> StoredSecret | None:
        self.reads += 1
        return super()._get(path)  # type: ignore[misc]


class CountingVault(Counting, VaultBackend):
    pass


class CountingAws(Counting, AwsBackend):
    pass


@pytest.fixture
def vault(bao: BaoServer, token_env: None, prefix: str) -> CountingVault:
    backend = CountingVault.from_settings("vault", bao.settings(prefix=prefix))
    assert isinstance(backend, CountingVault)
    return backend


@pytest.fixture
def aws(moto: MotoServer, aws_env: dict[str, str], prefix: str) -> CountingAws:
    backend = CountingAws.from_settings("aws", moto.settings(prefix=f"{prefix}/"))
    assert isinstance(backend, CountingAws)
    return backend


@pytest.fixture(params=["vault", "aws"])
def store(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue(request.param)


def test_a_new_secret_is_written_with_its_metadata(store: Backend):
    ref = SecretRef(store.name, "apps/web/db", "password")
    value = make_value()
    outcome = store.store(ref, value, META)
    assert outcome.wrote and outcome.version == 1
    assert store.read(ref) == value
    assert store.read_metadata(ref) == META


def test_a_value_already_there_is_left_alone_with_its_metadata(store: Backend):
    ref = SecretRef(store.name, "apps/web/db", "password")
    value = make_value()
    store.store(ref, value, META)
    again = store.store(ref, value, LATER, absent=True)  # a wrong word changes nothing either
    assert not again.wrote and again.version == 1
    assert store.read_metadata(ref) == META  # first_seen is the first writer's


def test_a_wrong_word_finds_the_very_same_write_already_there(store: Backend):
    """Same value, same metadata (a re-run within the same second): nothing written, and said so."""
    ref = SecretRef(store.name, "apps/web/db", "password")
    value = make_value()
    store.store(ref, value, META, absent=True)
    again = store.store(ref, value, META, absent=True)
    assert not again.wrote and again.version == 1


def test_a_wrong_word_that_the_path_is_new_loses_no_field(store: Backend):
    first, second = SecretRef(store.name, "apps/web", "db_password"), SecretRef(store.name, "apps/web", "api_token")
    one, two = make_value(), make_value()
    store.store(first, one, META)
    outcome = store.store(second, two, LATER, absent=True)
    assert outcome.wrote and outcome.version == 2
    stored = store.read_secret("apps/web")
    assert stored is not None and stored.fields == {"db_password": one, "api_token": two}
    assert stored.field_metadata("db_password") == META and stored.field_metadata("api_token") == LATER


def test_another_value_is_replaced_in_a_new_version(store: Backend):
    ref = SecretRef(store.name, "apps/web/db", "password")
    store.store(ref, make_value(), META)
    value = make_value()
    outcome = store.store(ref, value, LATER)
    assert outcome.wrote and outcome.version == 2
    assert store.read(ref) == value and store.read_metadata(ref) == LATER


def test_metadata_names_the_field_lacks_are_added_the_others_kept(store: Backend):
    ref = SecretRef(store.name, "apps/web/db", "password")
    value = make_value()
    store.write_fields("apps/web/db", {"password": value}, {"password:source": "another tool"})
    outcome = store.store(ref, value, META)
    assert not outcome.wrote
    assert store.read_metadata(ref) == dict(META, source="another tool")


def test_vault_skips_the_read_when_the_path_is_new(vault: CountingVault):
    """cas=0 makes the create itself conditional: the caller's word saves a read, never a field."""
    vault.store(SecretRef("vault", "apps/new", "password"), make_value(), META, absent=True)
    assert vault.reads == 0
    vault.store(SecretRef("vault", "apps/other", "password"), make_value(), META)
    assert vault.reads == 1


def test_aws_reads_first_whatever_it_is_told(aws: CountingAws, moto: MotoServer, prefix: str):
    """create_secret over a secret scheduled for deletion is not a check-and-set conflict, so AWS
    never takes the word: it reads, restores and writes."""
    ref = SecretRef("aws", "apps/gone", "password")
    aws.store(ref, make_value(), META)
    aws.delete(ref)
    aws.reads = 0
    value = make_value()
    outcome = aws.store(ref, value, LATER, absent=True)
    assert aws.reads >= 1 and outcome.wrote
    assert aws.read(ref) == value


def test_clones_have_their_own_connection_and_work_in_threads(vault: CountingVault):
    vault.read_secret("apps/nothing")  # connected
    twin = vault.clone()
    assert isinstance(twin, VaultBackend) and twin is not vault
    assert twin._client is None and vault._client is not None
    assert (twin.addr, twin.mount, twin.prefix, twin.name) == (vault.addr, vault.mount, vault.prefix, vault.name)
    errors: list[BaseException] = []
    values = {f"apps/t{n}/s{i}": make_value() for n in range(4) for i in range(5)}

    def worker(n: int) -> None:
        mine = vault.clone()
        try:
            for i in range(5):
                path = f"apps/t{n}/s{i}"
                assert mine.store(SecretRef("vault", path, "password"), values[path], META, absent=True).wrote
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert {path: vault.read(SecretRef("vault", path, "password")) for path in values} == values


def test_a_backend_without_clone_support_says_so():
    class Plain(Backend):
        type = "plain"

        def _translate(self, *args: Any) -> None:
            return None

        _get = _put = _patch_metadata = _remove = _list = _translate  # type: ignore[assignment]

    with pytest.raises(NotImplementedError):
        Plain("plain").clone()


def test_proxies_from_the_environment_still_apply(bao: BaoServer, token_env: None, prefix: str,
                                                  monkeypatch: pytest.MonkeyPatch):
    """requests no longer reads the environment on every request; it is read once per client."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # discard port: nothing answers
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    proxied = make_backend("vault", bao.settings(prefix=prefix))
    with pytest.raises(Unavailable):
        proxied.read(SecretRef("vault", "apps/web", "password"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = make_backend("vault", bao.settings(prefix=prefix))
    assert direct.read(SecretRef("vault", "apps/web", "password")) is None
