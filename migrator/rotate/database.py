"""The vault side of database rotation: OpenBao's (or Vault's) database secrets engine, through a
Vault backend's client (its auth, TLS, retries and one-line errors).

``register`` describes a database to the engine with an admin user the operator gives (never the
application's own): the engine checks the connection at once, so an unreachable database or
wrong admin credentials fail here, before anything refers to the engine. ``take_over`` puts an
application's existing user under a static role (the engine rotates its password now and every
``rotation_period``), refusing a user another static role of the mount already manages.
``static_credentials`` is what the application's configuration will read. Passwords pass through
memory only; no error names one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migrator.backends.base import BackendError, NotFound
from migrator.backends.vault import VaultBackend
from migrator.rotate.classify import MYSQL, POSTGRESQL, DatabaseTarget

PLUGINS = {POSTGRESQL: "postgresql-database-plugin", MYSQL: "mysql-database-plugin"}
DEFAULT_PORTS = {POSTGRESQL: 5432, MYSQL: 3306}


@dataclass(frozen=True, slots=True)
class StaticCredentials:
    """A static role's current login (what a rotation gives the application)."""

    username: str
    password: str
    ttl: int  # seconds until the next rotation

    def __repr__(self) -> str:  # never the password, in a traceback or a log
        return f"StaticCredentials(username={self.username!r}, ttl={self.ttl})"


class DatabaseEngine:
    """The database secrets engine mounted at ``mount`` of ``backend``'s server."""

    def __init__(self, backend: VaultBackend, mount: str = "database") -> None:
        self.backend = backend
        self.mount = mount.strip("/")

    def enable(self) -> None:
        """Mount the engine unless it is there already."""
        def mounted(client: Any) -> bool:
            return f"{self.mount}/" in client.sys.list_mounted_secrets_engines()["data"]

        if not self.backend.call("list mounts", self.mount, mounted):
            self.backend.call("enable the database engine", self.mount,
                              lambda client: client.sys.enable_secrets_engine("database", path=self.mount))

    def register(self, connection: str, target: DatabaseTarget, admin_user: str, admin_password: str,
                 tls: str = "disable") -> None:
        """Describe ``target`` to the engine as ``connection``, logging in as ``admin_user``; the
        engine verifies the connection now. ``tls``: PostgreSQL's sslmode."""
        engine = target.engine
        if engine is None or engine not in PLUGINS or not target.host:
            raise ValueError(f"{target.found_in}: the database's engine and host are needed to register it")
        port = target.port or DEFAULT_PORTS[engine]
        host = f"[{target.host}]" if ":" in target.host else target.host
        database = target.database or ("postgres" if engine == POSTGRESQL else "")
        if engine == POSTGRESQL:
            url = f"postgresql://{{{{username}}}}:{{{{password}}}}@{host}:{port}/{database}?sslmode={tls}"
        else:
            url = f"{{{{username}}}}:{{{{password}}}}@tcp({host}:{port})/{database}"
        self.backend.call("register the database", f"{self.mount}/config/{connection}", lambda client:
                          client.secrets.database.configure(
                              name=connection, plugin_name=PLUGINS[engine], mount_point=self.mount,
                              connection_url=url, username=admin_user, password=admin_password,
                              allowed_roles=["*"]),
                          values=(admin_password,))

    def managed_by(self, user: str) -> str | None:
        """The static role of this mount that manages ``user``, if one does."""
        def username(role: str) -> Any:
            return self.backend.call("read static role", f"{self.mount}/static-roles/{role}", lambda client:
                                     client.secrets.database.read_static_role(name=role, mount_point=self.mount)
                                     )["data"].get("username")

        try:
            roles = self.backend.call("list static roles", f"{self.mount}/static-roles", lambda client:
                                      client.secrets.database.list_static_roles(mount_point=self.mount))["data"]["keys"]
        except NotFound:  # no static role yet: the list is a 404
            return None
        return next((role for role in roles if username(role) == user), None)

    def take_over(self, role: str, connection: str, user: str, rotation_period: int = 86400) -> None:
        """Put ``user`` under the static role ``role``: the engine sets a new password now (the
        application's old one stops working) and every ``rotation_period`` seconds."""
        owner = self.managed_by(user)
        if owner is not None and owner != role:
            raise BackendError(self.backend.name, "take over", f"{self.mount}/static-roles/{role}",
                               f"user {user!r} is already managed by static role {owner!r}")
        self.backend.call("create static role", f"{self.mount}/static-roles/{role}", lambda client:
                          client.secrets.database.create_static_role(
                              name=role, db_name=connection, username=user, rotation_statements=[],
                              rotation_period=rotation_period, mount_point=self.mount))

    def static_credentials(self, role: str) -> StaticCredentials:
        """The static role's current username and password."""
        try:
            data = self.backend.call("read static credentials", f"{self.mount}/static-creds/{role}", lambda client:
                                     client.secrets.database.get_static_credentials(name=role,
                                                                                    mount_point=self.mount))["data"]
        except NotFound:
            raise NotFound(self.backend.name, "read static credentials", f"{self.mount}/static-creds/{role}",
                           "no such static role") from None
        return StaticCredentials(str(data["username"]), str(data["password"]), int(data.get("ttl") or 0))

    def rotate(self, role: str) -> None:
        """Rotate the static role's password now."""
        self.backend.call("rotate", f"{self.mount}/rotate-role/{role}", lambda client:
                          client.secrets.database.rotate_static_role_credentials(name=role, mount_point=self.mount))
