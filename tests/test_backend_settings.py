"""Building backends from the configuration (no server needed): the registry, settings checked
with one-line errors, defaults from the environment, the retry bound, and value-free messages."""

from __future__ import annotations

import pytest

from migrator.backends import (
    BackendError,
    CasMismatch,
    RetryPolicy,
    Unavailable,
    backends_from_config,
    make_backend,
)
from migrator.backends.aws import AwsBackend, version_number
from migrator.backends.base import check_path
from migrator.backends.errors import scrub
from migrator.backends.vault import VaultBackend
from migrator.backends.vault_auth import AppRoleAuth, TokenAuth
from migrator.config import ConfigError, default_config, parse_config


def test_the_registry_builds_each_type_without_touching_the_network():
    config = parse_config({"backends": {
        "vault": {"type": "vault", "addr": "https://vault.example.org:8200", "prefix": "vaultshift"},
        "aws": {"type": "aws", "region": "eu-west-1", "prefix": "vaultshift/"}}}, "vaultshift.yml")
    backends = backends_from_config(config)
    assert isinstance(backends["vault"], VaultBackend) and isinstance(backends["aws"], AwsBackend)
    assert repr(backends["vault"]) == "<VaultBackend 'vault' https://vault.example.org:8200 secret/vaultshift>"
    assert repr(backends["aws"]) == "<AwsBackend 'aws' eu-west-1 vaultshift/>"


def test_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    for name in ("VAULT_ADDR", "VAULT_NAMESPACE", "VAULT_CACERT", "VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY"):
        monkeypatch.delenv(name, raising=False)
    vault = backends_from_config(default_config())["vault"]
    assert isinstance(vault, VaultBackend)
    assert (vault.addr, vault.mount, vault.prefix, vault.namespace, vault.verify) == (
        "http://127.0.0.1:8200", "secret", "", None, True)
    assert isinstance(vault.auth, TokenAuth) and vault.auth.token_env is None
    assert vault.retry == RetryPolicy() and vault.timeout == 10
    monkeypatch.setenv("VAULT_ADDR", "https://v.example.org:8200/")
    monkeypatch.setenv("VAULT_NAMESPACE", "team-a")
    monkeypatch.setenv("VAULT_CACERT", "/etc/ssl/vault-ca.pem")
    vault = make_backend("vault", {})
    assert isinstance(vault, VaultBackend)
    assert (vault.addr, vault.namespace, vault.verify) == ("https://v.example.org:8200", "team-a",
                                                           "/etc/ssl/vault-ca.pem")
    explicit = make_backend("vault", {"namespace": "team-b", "verify": False})
    assert isinstance(explicit, VaultBackend) and explicit.namespace == "team-b" and explicit.verify is False


def test_approle_settings():
    vault = make_backend("vault", {"auth": {"method": "approle", "role_id": "7d1c", "secret_id_env": "SID"}})
    assert isinstance(vault, VaultBackend) and isinstance(vault.auth, AppRoleAuth)
    assert (vault.auth.role_id, vault.auth.secret_id_env, vault.auth.mount) == ("7d1c", "SID", "approle")


@pytest.mark.parametrize(("settings", "message"), [
    ({"type": "consul"}, "backend 'b': unknown type 'consul' (use vault or aws or vault-database)"),
    ({"namspace": "x"}, "backend 'b': namspace: unknown setting (known: addr, auth, ca_cert, "),
    ({"timeout": "fast"}, "backend 'b': timeout: expected a number, not str"),
    ({"timeout": 0}, "backend 'b': timeout: must be more than 0 seconds"),
    ({"retries": -1}, "backend 'b': retries: must be at least 0"),
    ({"retries": 1.5}, "backend 'b': retries: expected a whole number, not float"),
    ({"verify": "yes"}, "backend 'b': verify: expected true or false, not str"),
    ({"mount": "/"}, "backend 'b': mount: must name a KV v2 mount"),
    ({"client_cert": "/c.pem"}, "backend 'b': client_cert: client_cert and client_key go together"),
    ({"auth": "token"}, "backend 'b': auth: expected a mapping, not str"),
    ({"auth": {"method": "ldap"}}, "backend 'b': auth.method: unknown method 'ldap' "
                                   "(use one of approle, jwt, kubernetes, token, userpass)"),
    ({"auth": {"method": "token", "token": "hvs.x"}}, "backend 'b': auth.token: never put credentials in the file"),
    ({"auth": {"method": "token", "tokn_env": "X"}}, "backend 'b': auth.tokn_env: unknown setting (known: token_env)"),
    ({"auth": {"method": "approle", "secret_id_env": "S"}}, "backend 'b': auth.role_id: approle needs role_id"),
    ({"type": "aws", "recovery_window_days": 3}, "backend 'b': recovery_window_days: must be at least 7"),
    ({"type": "aws", "recovery_window_days": 31}, "backend 'b': recovery_window_days: must be between 7 and 30"),
    ({"type": "aws", "mount": "secret"}, "backend 'b': mount: unknown setting (known: endpoint_url, kms_key_id, "),
])
def test_bad_settings_are_one_line_config_errors(settings: dict[str, object], message: str):
    with pytest.raises(ConfigError) as caught:
        make_backend("b", settings)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_config_errors_name_the_file():
    config = parse_config({"backends": {"v": {"type": "vault", "adress": "x"}}}, "/etc/vaultshift.yml")
    with pytest.raises(ConfigError, match=r"^/etc/vaultshift.yml: backend 'v': adress: unknown setting"):
        backends_from_config(config)


def test_retry_delays_grow_and_are_bounded():
    policy = RetryPolicy(retries=5, delay=0.25, max_delay=1.0, jitter=False)
    assert list(policy.delays()) == [0.25, 0.5, 1.0, 1.0, 1.0]
    assert policy.max_total_delay == 3.75
    jittered = list(RetryPolicy(retries=5, delay=0.25, max_delay=1.0).delays())
    assert all(0.5 * full <= wait <= full for wait, full in zip(jittered, [0.25, 0.5, 1.0, 1.0, 1.0], strict=True))
    assert list(RetryPolicy(retries=0).delays()) == []
    with pytest.raises(ValueError):
        RetryPolicy(retries=-1)


@pytest.mark.parametrize(("path", "problem"), [
    ("apps/web/db", None), ("a", None), ("", "empty path"), ("/abs", "path must be relative (no leading /)"),
    ("a//b", "empty, '.' or '..' segment in path"), ("a/../b", "empty, '.' or '..' segment in path"),
    ("a/./b", "empty, '.' or '..' segment in path"), ("a/b/", "empty, '.' or '..' segment in path"),
    ("a\nb", "control character in path"),
])
def test_paths_are_checked(path: str, problem: str | None):
    assert check_path(path) == problem


def test_listing_prefixes_may_be_partial():
    assert check_path("", prefix=True) is None
    assert check_path("apps/", prefix=True) is None
    assert check_path("apps/we", prefix=True) is None
    assert check_path("../", prefix=True) is not None


def test_messages_are_one_line_and_never_quote_a_value():
    error = Unavailable("vault", "write", "apps/db#password", "connection\n  refused")
    assert str(error) == "vault: write apps/db#password: connection refused"
    assert error.retryable and not CasMismatch("v", "write", "p").retryable
    assert str(BackendError("aws", "list", "")) == "aws: list: failed"
    value = 'p"w\\d-' + "x" * 10
    assert scrub(f"invalid value {value}", [value]).startswith("(the server's message is withheld")
    assert scrub('body {"password": "p\\"w\\\\d-xxxxxxxxxx"}', [value]).startswith("(the server's message")
    assert scrub("permission denied", [value, ""]) == "permission denied"


def test_aws_version_tokens():
    assert version_number("vaultshift-version-00000000000000000042") == 42
    assert version_number("a7c0b5e4-1111-4c1e-9f0e-1234567890ab") is None
    assert len("vaultshift-version-00000000000000000042") >= 32  # ClientRequestToken: 32 to 64 characters
