"""Credentials from a Vault / OpenBao database secrets engine, read like any other secret.

Once rotation has put a database user under the engine, the application's references read
``static-creds/<role>`` (a static role: the user's current password, rotated by the engine) or
``creds/<role>`` (a dynamic role: a user made for this read, gone when its lease ends) below the
engine's mount instead of a KV path. This backend gives those two paths to everything that reads
secrets through a backend (the lookup plugin's session, rollback, the Terraform provider), with the
connection, auth, TLS and retries of :class:`~migrator.backends.vault.VaultBackend`:

    backends:
      database:
        type: vault-database      # same settings as a vault backend
        mount: database           # where the database secrets engine is mounted (default database)

``read_secret("static-creds/web-db")`` gives the fields ``username`` and ``password`` (and
``ttl``, seconds until the next rotation); a dynamic read also gives ``lease_id`` and
``lease_duration``. Agent templates read the same paths (``{{ with secret "database/static-creds/web-db" }}``).
Nothing is written through it: the engine makes the credentials.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping
from typing import Any

import hvac

from migrator.backends.base import BackendError, StoredSecret
from migrator.backends.vault import VaultBackend
from migrator.config import ConfigError

DEFAULT_DATABASE_MOUNT = "database"
READABLE = ("static-creds/", "creds/")


class VaultDatabaseBackend(VaultBackend):
    """The credential paths of a database secrets engine (read only)."""

    type = "vault-database"

    @classmethod
    def from_settings(cls, name: str, data: Mapping[str, Any], auth: Any = None) -> VaultDatabaseBackend:
        if data.get("prefix"):
            raise ConfigError(f"backend {name!r}: prefix: a database engine's paths have no prefix")
        settings = {"mount": DEFAULT_DATABASE_MOUNT, **{k: v for k, v in data.items() if k != "type"}}
        backend = super().from_settings(name, settings, auth)
        assert isinstance(backend, VaultDatabaseBackend)
        return backend

    def _check_mount(self, client: hvac.Client, operation: str, path: str) -> None:
        return None  # the engine itself answers a wrong mount with a 404 naming the path

    def _get(self, path: str, version: int | None = None) -> StoredSecret | None:
        path = path.strip("/")
        if not path.startswith(READABLE) or path.count("/") != 1:
            raise BackendError(self.name, "read", path, "a database engine path is static-creds/ROLE or creds/ROLE")
        if version is not None:
            raise BackendError(self.name, "read", path, "database credentials have no versions")
        response = self._call("read", path, lambda client: client.read(f"{self.mount}/{path}"))
        if not response:
            return None
        data = response.get("data") or {}
        fields = {key: str(value) for key, value in data.items()
                  if key in ("username", "password", "ttl", "last_vault_rotation")}
        if response.get("lease_id"):
            fields["lease_id"] = str(response["lease_id"])
            fields["lease_duration"] = str(response.get("lease_duration") or 0)
        return StoredSecret(path, fields, {}, 0)

    def _read_only(self, operation: str, path: str) -> BackendError:
        return BackendError(self.name, operation, path, "the database engine makes these credentials; "
                                                        "nothing is written to it")

    def _put(self, path: str, fields: dict[str, str], previous: StoredSecret | None,
             set_metadata: Mapping[str, str], remove_metadata: Collection[str]) -> int:
        raise self._read_only("write", path)

    def _patch_metadata(self, path: str, previous: StoredSecret, set_metadata: Mapping[str, str],
                        remove_metadata: Collection[str]) -> None:
        raise self._read_only("write metadata", path)

    def _remove(self, path: str, previous: StoredSecret) -> None:
        raise self._read_only("delete", path)

    def _list(self, prefix: str) -> builtins.list[str]:
        def roles(client: hvac.Client, kind: str) -> builtins.list[str]:
            try:
                return [f"{kind}/{name}" for name in client.list(f"{self.mount}/{kind}")["data"]["keys"]]
            except (hvac.exceptions.InvalidPath, TypeError, KeyError):
                return []

        found = self._call("list", prefix, lambda c: roles(c, "static-roles") + roles(c, "roles"))
        out = [p.replace("static-roles/", "static-creds/").replace("roles/", "creds/", 1) for p in found]
        return [p for p in out if p.startswith(prefix)]
