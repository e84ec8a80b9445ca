"""Secret stores: one interface (:class:`Backend`), one module per store, registered here.

    from migrator.backends import backends_from_config
    from migrator.config import load_config

    backends = backends_from_config(load_config())
    version = backends["vault"].write(ref, value, {"source": "web01:/etc/app.yml", ...})

Adding a store is adding a module with a :class:`Backend` subclass (``type`` and
``from_settings(name, settings)``) and one line in :data:`BACKEND_TYPES`. Building a backend never
touches the network: it connects and logs in on its first operation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrator.backends.base import (
    AuthError,
    Backend,
    BackendError,
    CasMismatch,
    Forbidden,
    InvalidSecret,
    NotFound,
    Sealed,
    StoredSecret,
    StoreOutcome,
    Unavailable,
)
from migrator.backends.retry import RetryPolicy
from migrator.config import Config, ConfigError

__all__ = [
    "BACKEND_TYPES",
    "AuthError",
    "Backend",
    "BackendError",
    "CasMismatch",
    "Forbidden",
    "InvalidSecret",
    "NotFound",
    "RetryPolicy",
    "Sealed",
    "StoreOutcome",
    "StoredSecret",
    "Unavailable",
    "backends_from_config",
    "make_backend",
]


def _vault(name: str, settings: Mapping[str, Any]) -> Backend:
    from migrator.backends.vault import VaultBackend

    return VaultBackend.from_settings(name, settings)


def _aws(name: str, settings: Mapping[str, Any]) -> Backend:
    from migrator.backends.aws import AwsBackend

    return AwsBackend.from_settings(name, settings)


def _vault_database(name: str, settings: Mapping[str, Any]) -> Backend:
    from migrator.backends.vault_database import VaultDatabaseBackend

    return VaultDatabaseBackend.from_settings(name, settings)


# settings["type"] -> a factory; the modules are imported only when a backend of theirs is made.
BACKEND_TYPES = {"vault": _vault, "aws": _aws, "vault-database": _vault_database}


def make_backend(name: str, settings: Mapping[str, Any]) -> Backend:
    """The backend ``settings`` describe (``type`` vault when absent), named ``name``.

    Raises :class:`ConfigError` (one line naming the backend and the setting) when the settings
    cannot be used; a missing credential is found on first use, as :class:`AuthError`.
    """
    kind = settings.get("type", "vault")
    factory = BACKEND_TYPES.get(kind) if isinstance(kind, str) else None
    if factory is None:
        raise ConfigError(f"backend {name!r}: unknown type {kind!r} (use {' or '.join(BACKEND_TYPES)})")
    return factory(name, settings)


def backends_from_config(config: Config) -> dict[str, Backend]:
    """Every backend ``config`` declares, by name; errors name the configuration file."""
    backends = {}
    for name, settings in config.backends.items():
        try:
            backends[name] = make_backend(name, settings)
        except ConfigError as exc:
            raise ConfigError(f"{config.source}: {exc}") from None
    return backends
