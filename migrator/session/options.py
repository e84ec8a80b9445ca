"""From the lookup's options to a backend of the engine.

The lookup takes community.hashi_vault's option names (``url``, ``namespace``,
``engine_mount_point``, ``auth_method``, ``token``, ``role_id``, ``secret_id``, ``jwt``,
``username``, ``password``, ``mount_point``, ``validate_certs``, ``ca_cert``, ``timeout``,
``retries``) plus vaultshift's own: ``config`` (a ``vaultshift.yml``, whose ``backends`` name
the stores the migration wrote to), ``backend`` (one of them; the rewritten references name it
when it is not the default), ``prefix``, ``wrapped_secret_id``, ``role``, and for Secrets Manager
``region``, ``aws_profile`` and ``endpoint_url``. The chosen backend's settings come from the
configuration; options given override them. Credentials given as options (from ansible-vault,
say) are kept in memory only and passed to :func:`migrator.backends.vault_auth.auth_from_options`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from migrator.backends import Backend, make_backend
from migrator.config import DEFAULT_FILE, Config, ConfigError, default_config, load_config

_VAULT_OPTIONS = {"url": "addr", "namespace": "namespace", "engine_mount_point": "mount", "prefix": "prefix",
                  "ca_cert": "ca_cert", "timeout": "timeout", "retries": "retries"}
_AWS_OPTIONS = {"region": "region", "aws_profile": "profile", "endpoint_url": "endpoint_url", "prefix": "prefix",
                "timeout": "timeout", "retries": "retries"}
_AUTH_LITERALS = ("token", "secret_id", "wrapped_secret_id", "jwt", "password")
_AUTH_PLAIN = {"role_id": "role_id", "role": "role", "username": "username", "mount_point": "mount",
               "jwt_file": "jwt_file"}


@dataclass(frozen=True)
class BackendChoice:
    """The backend the options name: its name, settings (no credential in them) and, when the
    options carry an auth method or credentials, the auth options (credentials included)."""

    name: str
    settings: dict[str, Any]
    auth: dict[str, Any] | None

    def build(self) -> Backend:
        """The backend, with the options' auth method when they carry one (only a Vault / OpenBao
        backend's options do: other stores take credentials from their settings and environment)."""
        if self.auth is None:
            return make_backend(self.name, self.settings)
        from migrator.backends.vault import VaultBackend
        from migrator.backends.vault_auth import auth_from_options
        from migrator.backends.vault_database import VaultDatabaseBackend

        kind = VaultDatabaseBackend if self.settings.get("type") == "vault-database" else VaultBackend
        return kind.from_settings(self.name, self.settings, auth=auth_from_options(self.name, self.auth))


def choose_backend(options: Mapping[str, Any], cwd: str = ".") -> BackendChoice:
    """The backend ``options`` describe; ConfigError (one line) when they cannot."""
    given = {k: v for k, v in options.items() if v is not None and v != ""}
    config = _config(given.get("config"), cwd)
    name = str(given.get("backend") or config.default_backend)
    if name in config.backends:
        settings = dict(config.backends[name])
    elif name in ("vault", "aws") and config.source == default_config().source:
        settings = {"type": name}
    else:
        raise ConfigError(f"backend {name!r} is not configured in {config.source}")
    kind = settings.get("type", "vault")
    vault = kind in ("vault", "vault-database")
    table = _VAULT_OPTIONS if vault else _AWS_OPTIONS
    for option, key in table.items():
        if option in given:
            settings[key] = given[option]
    if vault and "validate_certs" in given:
        settings["verify"] = _boolean(given["validate_certs"], "validate_certs")
    for key in ("timeout", "retries"):
        if isinstance(settings.get(key), str):
            settings[key] = _number(settings[key], key)
    # Options of the other kind of store (VAULT_ADDR in the environment of a Secrets Manager
    # lookup) do not apply, and are ignored.
    return BackendChoice(name, settings, _auth(given) if vault else None)


def _config(path: Any, cwd: str) -> Config:
    if path:
        return load_config(os.path.join(cwd, str(path)))
    implicit = os.path.join(cwd, DEFAULT_FILE)
    if os.path.isfile(implicit):
        return load_config(implicit)
    return default_config()


def _auth(given: Mapping[str, Any]) -> dict[str, Any] | None:
    literals = [key for key in _AUTH_LITERALS if key in given]
    method = given.get("auth_method")
    if method is None and not literals and not any(key in given for key in _AUTH_PLAIN):
        return None
    if method is None:
        method = "approle" if "role_id" in given else "userpass" if "username" in given else \
            "jwt" if "jwt" in given or "jwt_file" in given else "token"
    auth: dict[str, Any] = {"method": str(method)}
    for option in literals:
        auth[option] = str(given[option])
    for option, key in _AUTH_PLAIN.items():
        if option in given:
            auth[key] = str(given[option])
    return auth


def _boolean(value: Any, option: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"option {option}: expected a boolean, not {value!r}")


def _number(value: str, option: str) -> float | int:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"option {option}: expected a number, not {value!r}") from None
    return int(number) if number.is_integer() else number
