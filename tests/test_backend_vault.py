"""The Vault/OpenBao backend against a real ``bao server -dev`` (tests/servers.py): KV v2 round
trips, check-and-set, fields merged at one path, AppRole, namespaces, and every failure mapped to
its meaning, in bounded time, without a value in any message or log."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import hvac
import pytest
from servers import BaoServer, make_value

from migrator.backends import (
    AuthError,
    BackendError,
    CasMismatch,
    Forbidden,
    InvalidSecret,
    NotFound,
    Sealed,
    StoredSecret,
    Unavailable,
    make_backend,
)
from migrator.backends.vault import VaultBackend
from migrator.config import ConfigError
from migrator.plan.models import SecretRef

META = {"source": "web01:/etc/app/config.yml", "first_seen": "2026-01-05T10:00:00Z",
        "fingerprint": "hmac-sha256:0123456789abcdef0123456789abcdef"}


@pytest.fixture
def token_env(bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao.token)


@pytest.fixture
def prefix() -> str:
    """A prefix of this test's own on the shared server."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def vault(bao: BaoServer, token_env: None, prefix: str) -> VaultBackend:
    backend = make_backend("vault", bao.settings(prefix=prefix))
    assert isinstance(backend, VaultBackend)
    return backend


def kv_read(bao: BaoServer, path: str, namespace: str | None = None) -> dict[str, Any]:
    """What the server itself holds at ``secret/data/<path>`` (hvac as root)."""
    response: dict[str, Any] = bao.client(namespace=namespace).secrets.kv.v2.read_secret_version(
        path=path, mount_point="secret", raise_on_deleted_version=True)
    return response["data"]


def assert_value_free(exc: BaseException, *values: str) -> None:
    text = " ".join([str(exc), repr(exc), *map(str, exc.args)])
    assert "\n" not in str(exc)
    for value in values:
        assert value not in text


# ---- round trips ------------------------------------------------------------------------------


def test_write_read_and_metadata_round_trip(bao: BaoServer, vault: VaultBackend, prefix: str):
    ref = SecretRef("vault", "apps/web/db", "password")
    value = make_value(40)
    assert vault.write(ref, value, META) == 1
    assert vault.read(ref) == value
    assert vault.read_metadata(ref) == META
    stored = kv_read(bao, f"{prefix}/apps/web/db")  # the real layout: mount, prefix, path
    assert stored["data"] == {"password": value}
    assert stored["metadata"]["custom_metadata"] == {f"password:{k}": v for k, v in META.items()}
    assert vault.read(SecretRef("vault", "apps/web/db", "user")) is None
    assert vault.read(SecretRef("vault", "apps/web/nothing", "password")) is None
    assert vault.read_metadata(SecretRef("vault", "apps/web/nothing", "password")) is None


def test_stored_secret_repr_names_fields_not_values(vault: VaultBackend):
    value = make_value(30)
    vault.write(SecretRef("vault", "apps/repr", "token"), value)
    stored = vault.read_secret("apps/repr")
    assert isinstance(stored, StoredSecret)
    assert "token" in repr(stored) and value not in repr(stored)


def test_two_fields_of_one_path_are_merged_with_their_own_metadata(bao: BaoServer, vault: VaultBackend, prefix: str):
    user, password = SecretRef("vault", "apps/db", "user"), SecretRef("vault", "apps/db", "password")
    vault.write(user, "app_rw", {"source": "a.yml"})
    assert vault.write(password, "pw-" + make_value(), {"source": "b.env"}) == 2
    assert kv_read(bao, f"{prefix}/apps/db")["data"].keys() == {"user", "password"}
    assert vault.read(user) == "app_rw"
    assert vault.read_metadata(user) == {"source": "a.yml"}
    assert vault.read_metadata(password) == {"source": "b.env"}


def test_writing_what_is_stored_makes_no_new_version(bao: BaoServer, vault: VaultBackend, prefix: str):
    ref = SecretRef("vault", "apps/same", "key")
    value = make_value()
    assert vault.write(ref, value, META) == 1
    assert vault.write(ref, value, META) == 1
    assert vault.write(ref, value) == 1  # no metadata given: nothing to change either
    assert kv_read(bao, f"{prefix}/apps/same")["metadata"]["version"] == 1
    # Only the metadata differs: it is updated in place, still no new data version.
    assert vault.write(ref, value, {**META, "source": "web02:/etc/app/config.yml"}) == 1
    assert vault.read_metadata(ref) == {**META, "source": "web02:/etc/app/config.yml"}


def test_write_fields_stores_several_fields_in_one_version(vault: VaultBackend):
    assert vault.write_fields("apps/multi", {"a": "1-" + make_value(), "b": "2-" + make_value()},
                              {"a:source": "x", "owner": "team-a"}) == 1
    stored = vault.read_secret("apps/multi")
    assert stored is not None and stored.version == 1 and set(stored.fields) == {"a", "b"}
    assert stored.metadata == {"a:source": "x", "owner": "team-a"}
    assert stored.field_metadata("a") == {"source": "x"}


def test_a_field_holding_a_number_is_an_invalid_secret(bao: BaoServer, vault: VaultBackend, prefix: str):
    bao.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/apps/port", secret={"port": 5432},
                                                       mount_point="secret")
    with pytest.raises(InvalidSecret, match=r"apps/port#port: the field holds a JSON int"):
        vault.read(SecretRef("vault", "apps/port", "port"))


# ---- check-and-set and concurrent writers -----------------------------------------------------------


def test_cas_mismatch_when_the_secret_moved_on(bao: BaoServer, vault: VaultBackend, prefix: str):
    ref = SecretRef("vault", "apps/cas", "password")
    seen = vault.write(ref, "first-" + make_value())
    theirs = "theirs-" + make_value()
    bao.client().secrets.kv.v2.create_or_update_secret(path=f"{prefix}/apps/cas", secret={"password": theirs},
                                                       mount_point="secret")
    mine = "mine-" + make_value()
    with pytest.raises(CasMismatch) as caught:
        vault.write(ref, mine, cas=seen)
    assert str(caught.value) == ("vault: write apps/cas#password: check-and-set expected version 1, "
                                 "the store has version 2")
    assert_value_free(caught.value, mine, theirs)
    assert vault.read(ref) == theirs
    assert vault.write(ref, mine, cas=2) == 3


def test_cas_zero_means_the_path_must_be_new(vault: VaultBackend):
    ref = SecretRef("vault", "apps/new", "password")
    assert vault.write(ref, make_value(), cas=0) == 1
    with pytest.raises(CasMismatch):
        vault.write(SecretRef("vault", "apps/new", "other"), make_value(), cas=0)


class RacingVault(VaultBackend):
    """A real backend that lets another real writer in between its read and its write, once."""

    rival: VaultBackend
    raced = False

    def _get(self, path: str) -> StoredSecret | None:
        current = super()._get(path)
        if not self.raced:
            self.raced = True
            self.rival.write(SecretRef("rival", path, "rival_field"), "rival-" + make_value())
        return current


def test_a_writer_that_loses_the_race_merges_again(bao: BaoServer, token_env: None, prefix: str):
    racing = RacingVault.from_settings("vault", bao.settings(prefix=prefix))
    racing.rival = VaultBackend.from_settings("rival", bao.settings(prefix=prefix))
    assert isinstance(racing, RacingVault)
    racing.write(SecretRef("vault", "apps/race", "first"), "x-" + make_value())  # raced: rival writes v1
    stored = racing.read_secret("apps/race")
    assert stored is not None and set(stored.fields) == {"first", "rival_field"} and stored.version == 2


def test_concurrent_writers_of_one_path_lose_nothing(bao: BaoServer, token_env: None, prefix: str):
    """Four backends in four threads each write five fields (and their metadata) to one path."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        backend = make_backend(f"w{n}", bao.settings(prefix=prefix))
        try:
            for i in range(5):
                backend.write(SecretRef("vault", "apps/shared", f"f{n}_{i}"), f"value-{n}-{i}", {"source": f"w{n}"})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    stored = make_backend("check", bao.settings(prefix=prefix)).read_secret("apps/shared")
    assert stored is not None
    assert stored.fields == {f"f{n}_{i}": f"value-{n}-{i}" for n in range(4) for i in range(5)}
    assert all(stored.field_metadata(f"f{n}_{i}") == {"source": f"w{n}"} for n in range(4) for i in range(5))


# ---- delete and list -------------------------------------------------------------------------------


def test_delete_removes_one_field_then_soft_deletes_the_last(bao: BaoServer, vault: VaultBackend, prefix: str):
    user, password = SecretRef("vault", "apps/del", "user"), SecretRef("vault", "apps/del", "password")
    vault.write(user, "u", {"source": "a"})
    vault.write(password, "p-" + make_value(), {"source": "b"})
    vault.delete(password)
    assert vault.read(password) is None and vault.read(user) == "u"
    assert kv_read(bao, f"{prefix}/apps/del")["metadata"]["custom_metadata"] == {"user:source": "a"}
    vault.delete(password)  # already gone: nothing to do
    vault.delete(user)
    assert vault.read(user) is None
    stored = vault.read_secret("apps/del")
    assert stored is not None and stored.deleted and not stored.fields
    meta = bao.client().secrets.kv.v2.read_secret_metadata(path=f"{prefix}/apps/del", mount_point="secret")["data"]
    assert meta["versions"]["3"]["deletion_time"] and not meta["versions"]["3"]["destroyed"]  # can be undeleted
    assert vault.write(user, "again") == 4


def test_list_walks_folders_under_a_prefix(bao: BaoServer, vault: VaultBackend, prefix: str):
    for path in ("apps/web/db", "apps/web/api", "apps/worker/db", "infra/dns", "apps"):
        vault.write(SecretRef("vault", path, "k"), "v")
    bao.client().secrets.kv.v2.create_or_update_secret(path="outside-the-prefix", secret={"k": "v"},
                                                       mount_point="secret")
    assert vault.list() == ["apps", "apps/web/api", "apps/web/db", "apps/worker/db", "infra/dns"]
    assert vault.list("apps/") == ["apps/web/api", "apps/web/db", "apps/worker/db"]
    assert vault.list("apps/w") == ["apps/web/api", "apps/web/db", "apps/worker/db"]
    assert vault.list("apps/web/") == ["apps/web/api", "apps/web/db"]
    assert vault.list("nothing/") == []
    with pytest.raises(BackendError, match=r"'\.\.' segment"):
        vault.list("../")


def test_paths_that_would_leave_the_prefix_are_refused(vault: VaultBackend):
    for path in ("../x", "a/../../x", "/etc/x", "a//b", ""):
        with pytest.raises(BackendError) as caught:
            vault.write(SecretRef("vault", path, "k"), "v")
        assert caught.value.operation == "write"


# ---- auth methods and namespaces ----------------------------------------------------------------


def test_approle_login(bao: BaoServer, prefix: str, monkeypatch: pytest.MonkeyPatch):
    root = bao.client()
    mount = f"approle-{prefix}"
    root.sys.enable_auth_method("approle", path=mount)
    root.sys.create_or_update_policy(prefix, f'path "secret/data/{prefix}/*" {{ capabilities = '
                                             '["create", "read", "update"] }\n'
                                             f'path "secret/metadata/{prefix}/*" {{ capabilities = '
                                             '["patch"] }')  # what the README says a writer needs
    root.auth.approle.create_or_update_approle("migrator", token_policies=[prefix], mount_point=mount)
    role_id = root.auth.approle.read_role_id("migrator", mount_point=mount)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("migrator", mount_point=mount)["data"]["secret_id"]
    monkeypatch.setenv("TEST_SECRET_ID", secret_id)
    settings = bao.settings(prefix=prefix, auth={"method": "approle", "role_id": role_id,
                                                 "secret_id_env": "TEST_SECRET_ID", "mount": mount})
    backend = make_backend("vault", settings)
    ref = SecretRef("vault", "apps/approle", "password")
    assert backend.write(ref, "approle-" + make_value(), META) == 1
    assert backend.read_metadata(ref) == META

    # The token it got is revoked (or expires): the backend logs in again, once, and goes on.
    assert isinstance(backend, VaultBackend) and backend._client is not None
    root.auth.token.revoke(backend._client.token)
    assert backend.write(SecretRef("vault", "apps/approle", "user"), "u") == 2

    monkeypatch.setenv("TEST_SECRET_ID", "00000000-0000-0000-0000-000000000000")
    with pytest.raises(AuthError, match=r"^vault: read apps/approle: login refused") as caught:
        make_backend("vault", settings).read(ref)
    assert_value_free(caught.value, secret_id)
    monkeypatch.delenv("TEST_SECRET_ID")
    with pytest.raises(AuthError, match=r"no AppRole secret id: set \$TEST_SECRET_ID"):
        make_backend("vault", settings).read(ref)


def test_approle_secret_id_is_never_a_literal_in_the_settings(bao: BaoServer):
    with pytest.raises(ConfigError, match=r"backend 'vault': auth.secret_id: never put credentials in the file"):
        make_backend("vault", bao.settings(auth={"method": "approle", "role_id": "r", "secret_id": "s"}))


def test_namespace_is_passed_through(bao: BaoServer, token_env: None, prefix: str):
    namespace = f"ns-{prefix}"
    bao.client().sys.create_namespace(namespace)
    bao.client(namespace=namespace).sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    in_namespace = make_backend("vault", bao.settings(namespace=namespace, prefix=prefix))
    ref = SecretRef("vault", "apps/ns", "password")
    value = "ns-" + make_value()
    in_namespace.write(ref, value, META)
    assert kv_read(bao, f"{prefix}/apps/ns", namespace=namespace)["data"] == {"password": value}
    assert make_backend("vault", bao.settings(prefix=prefix)).read(ref) is None  # not in the root namespace
    with pytest.raises(NotFound, match=r"namespace 'no-such-ns' not found"):
        make_backend("vault", bao.settings(namespace="no-such-ns")).read(ref)


def test_namespace_and_address_default_to_the_environment(bao: BaoServer, token_env: None, prefix: str,
                                                           monkeypatch: pytest.MonkeyPatch):
    namespace = f"env-{prefix}"
    bao.client().sys.create_namespace(namespace)
    bao.client(namespace=namespace).sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    monkeypatch.setenv("VAULT_ADDR", bao.addr)
    monkeypatch.setenv("VAULT_NAMESPACE", namespace)
    settings = {k: v for k, v in bao.settings(prefix=prefix).items() if k != "addr"}
    backend = make_backend("vault", settings)
    assert isinstance(backend, VaultBackend) and backend.addr == bao.addr and backend.namespace == namespace
    backend.write(SecretRef("vault", "apps/env", "k"), "v")
    assert kv_read(bao, f"{prefix}/apps/env", namespace=namespace)["data"] == {"k": "v"}


# ---- mounts -------------------------------------------------------------------------------------


def test_a_kv_version_1_mount_is_refused_before_writing(bao: BaoServer, token_env: None, prefix: str):
    mount = f"kv1-{prefix}"
    bao.client().sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    backend = make_backend("vault", bao.settings(mount=mount))
    with pytest.raises(BackendError, match=rf"^vault: read apps/x: mount {mount}/ is KV version 1"):
        backend.write(SecretRef("vault", "apps/x", "k"), "v")
    with pytest.raises(hvac.exceptions.InvalidPath):  # nothing written (a v2 write would create data/apps/x)
        bao.client().secrets.kv.v1.list_secrets(path="", mount_point=mount)


def test_a_missing_mount_is_not_found(bao: BaoServer, token_env: None):
    with pytest.raises(NotFound, match=r"^vault: read apps/x: no secrets engine mounted at nothing-here/"):
        make_backend("vault", bao.settings(mount="nothing-here")).read(SecretRef("vault", "apps/x", "k"))


# ---- failures ------------------------------------------------------------------------------------


def test_wrong_token_is_an_auth_error(bao: BaoServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", "s.not-a-token-" + make_value(12))
    with pytest.raises(AuthError, match=r"^vault: read apps/x: the server rejected the token"):
        make_backend("vault", bao.settings()).read(SecretRef("vault", "apps/x", "k"))


def test_no_token_is_an_auth_error_naming_the_variable(bao: BaoServer, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Any):
    monkeypatch.delenv("VAULTSHIFT_TEST_TOKEN", raising=False)
    with pytest.raises(AuthError, match=r"no token: set \$VAULTSHIFT_TEST_TOKEN$"):
        make_backend("vault", bao.settings()).read(SecretRef("vault", "apps/x", "k"))
    # The default: $VAULT_TOKEN, then ~/.vault-token as `bao login` writes it.
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = {k: v for k, v in bao.settings().items() if k != "auth"}
    with pytest.raises(AuthError, match=r"no token: set \$VAULT_TOKEN \(or ~/.vault-token\)$"):
        make_backend("vault", settings).read(SecretRef("vault", "apps/x", "k"))
    (tmp_path / ".vault-token").write_text(bao.token + "\n")
    assert make_backend("vault", settings).read(SecretRef("vault", "apps/x", "k")) is None


def test_a_read_only_policy_is_forbidden_to_write(bao: BaoServer, vault: VaultBackend, prefix: str,
                                                  monkeypatch: pytest.MonkeyPatch):
    ref = SecretRef("vault", "apps/ro", "password")
    value = make_value()
    vault.write(ref, value)
    root = bao.client()
    root.sys.create_or_update_policy(f"ro-{prefix}", f'path "secret/data/{prefix}/*" {{ capabilities = ["read"] }}')
    monkeypatch.setenv("RO_TOKEN", root.auth.token.create(policies=[f"ro-{prefix}"])["auth"]["client_token"])
    reader = make_backend("vault", bao.settings(prefix=prefix, auth={"method": "token", "token_env": "RO_TOKEN"}))
    assert reader.read(ref) == value
    canary = "canary-" + make_value()
    started = time.monotonic()
    with pytest.raises(Forbidden) as caught:
        reader.write(ref, canary)
    assert time.monotonic() - started < 1.0  # a 403 is never retried
    assert str(caught.value) == (f"vault: write apps/ro: permission denied (HTTP 403) on "
                                 f"secret/data/{prefix}/apps/ro")
    assert_value_free(caught.value, canary, value)


def test_a_stopped_server_is_unavailable_after_bounded_retries(bao_private: BaoServer,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture):
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao_private.token)
    backend = make_backend("vault", bao_private.settings(retries=3, retry_delay=0.1, retry_max_delay=0.2))
    ref = SecretRef("vault", "apps/down", "password")
    backend.write(ref, make_value())
    bao_private.process.kill()  # mid-run: the client is logged in, the server is gone
    canary = "canary-" + make_value()
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        backend.write(ref, canary)
    elapsed = time.monotonic() - started
    assert elapsed < 0.1 + 0.2 + 0.2 + 1.0  # the three waits (at most) and some slack: no request timeout
    assert str(caught.value).startswith(f"vault: read apps/down: cannot connect to {bao_private.addr}: "
                                        "connection refused (gave up after 3 retries)")
    retries = [r for r in caplog.records if r.name == "migrator.backends" and "retry" in r.getMessage()]
    assert [r.getMessage().split("; ")[1].split(" in ")[0] for r in retries] == [
        "retry 1 of 3", "retry 2 of 3", "retry 3 of 3"]
    assert canary not in caplog.text


def test_a_hung_server_times_out_in_bounded_time(bao_private: BaoServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao_private.token)
    backend = make_backend("vault", bao_private.settings(timeout=0.3, retries=1, retry_delay=0.1))
    ref = SecretRef("vault", "apps/hung", "password")
    backend.write(ref, make_value())
    bao_private.process.freeze()  # the port stays open, nothing answers
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable, match=r"did not answer within 0.3 s \(gave up after 1 retry\)"):
            backend.read(ref)
        assert time.monotonic() - started < 2 * 0.3 + 0.1 + 1.0
    finally:
        bao_private.process.thaw()


def test_a_sealed_server_is_sealed_and_not_retried(bao_private: BaoServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao_private.token)
    backend = make_backend("vault", bao_private.settings(retries=3, retry_delay=1.0))
    ref = SecretRef("vault", "apps/sealed", "password")
    backend.write(ref, make_value())
    bao_private.client().sys.seal()
    started = time.monotonic()
    canary = "canary-" + make_value()
    with pytest.raises(Sealed) as caught:
        backend.write(ref, canary)
    assert time.monotonic() - started < 1.0
    assert str(caught.value) == ("vault: read apps/sealed: Vault is sealed (HTTP 503): an operator must unseal it")
    assert_value_free(caught.value, canary)
    with pytest.raises(Sealed):  # a new client (login and mount check) says the same
        make_backend("vault", bao_private.settings()).read(ref)


def test_no_value_in_any_message_or_log(bao: BaoServer, vault: VaultBackend, prefix: str,
                                        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    """Every failure a write can meet, with a canary value in flight, at DEBUG on every logger."""
    caplog.set_level(logging.DEBUG)
    canary = "canary-" + make_value(32)
    ref = SecretRef("vault", "apps/canary", "password")
    errors: list[BaseException] = []
    vault.write(ref, canary, META)
    root = bao.client()
    root.secrets.kv.v2.create_or_update_secret(path=f"{prefix}/apps/canary", secret={"password": "other"},
                                               mount_point="secret")
    for attempt in (lambda: vault.write(ref, canary, cas=1),  # CAS mismatch
                    lambda: make_backend("vault", bao.settings(prefix=prefix, mount="kv-none")).write(ref, canary)):
        with pytest.raises(BackendError) as caught:
            attempt()
        errors.append(caught.value)
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", "wrong-" + make_value())
    with pytest.raises(AuthError) as auth:
        make_backend("vault", bao.settings(prefix=prefix)).write(ref, canary)
    errors.append(auth.value)
    dead = make_backend("vault", {**bao.settings(prefix=prefix), "addr": "http://127.0.0.1:9", "retries": 1})
    with pytest.raises(Unavailable) as down:
        dead.write(ref, canary)
    errors.append(down.value)
    for error in errors:
        assert_value_free(error, canary)
    assert caplog.records and canary not in caplog.text
