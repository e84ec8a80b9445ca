"""The vault side of database rotation: OpenBao's (or Vault's) database secrets engine, through a
Vault backend's client (its auth, TLS, retries and one-line errors).

``register`` describes a database to the engine with an admin user the operator gives (never the
application's own): the engine checks the connection at once, so an unreachable database or
wrong admin credentials fail here, before anything refers to the engine. ``take_over`` puts an
application's existing user under a static role (the engine rotates its password now and every
``rotation_period``), refusing a user another static role of the mount already manages.
``static_credentials`` is what the application's configuration will read. A dynamic role
(``create_dynamic_role``, statements from :func:`migrator.rotate.postgres.dynamic_statements`)
makes a new database user per lease instead: ``dynamic_credentials`` creates one, ``renew``
extends its lease, ``revoke_leases`` ends every lease of a role at once (the engine runs the
revocation statements before answering). Passwords pass through memory only; no error names one.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from hvac import utils as hvac_utils

from migrator.backends.base import Backend, BackendError, NotFound
from migrator.backends.vault import VaultBackend
from migrator.config import Config, ConfigError
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


@dataclass(frozen=True, slots=True)
class DynamicCredentials:
    """A dynamic role's new user, which exists until its lease ends or is revoked."""

    username: str
    password: str
    lease_id: str
    lease_duration: int  # seconds
    renewable: bool

    def __repr__(self) -> str:  # never the password, in a traceback or a log
        return (f"DynamicCredentials(username={self.username!r}, lease_id={self.lease_id!r}, "
                f"lease_duration={self.lease_duration}, renewable={self.renewable})")


class DatabaseEngine:
    """The database secrets engine mounted at ``mount`` of ``backend``'s server."""

    def __init__(self, backend: VaultBackend, mount: str = "database") -> None:
        self.backend = backend
        self.mount = mount.strip("/")
        self._static_roles: dict[str, tuple[str, str]] = {}  # role -> (connection, username), as read

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

    def managed_by(self, user: str, connection: str | None = None) -> str | None:
        """The static role of this mount that manages ``user`` (of ``connection``, when given),
        if one does. Roles are listed every time; each role's user is read once per engine (a
        static role's username cannot change; a role deleted here is forgotten)."""
        def owner(role: str) -> tuple[str, str]:
            if role not in self._static_roles:
                data = self.backend.call("read static role", f"{self.mount}/static-roles/{role}", lambda client:
                                         client.secrets.database.read_static_role(name=role, mount_point=self.mount)
                                         )["data"]
                self._static_roles[role] = (str(data.get("db_name") or ""), str(data.get("username") or ""))
            return self._static_roles[role]

        try:
            roles = self.backend.call("list static roles", f"{self.mount}/static-roles", lambda client:
                                      client.secrets.database.list_static_roles(mount_point=self.mount))["data"]["keys"]
        except NotFound:  # no static role yet: the list is a 404
            return None
        for role in roles:
            db_name, username = owner(role)
            if username == user and connection in (None, db_name):
                return str(role)
        return None

    def take_over(self, role: str, connection: str, user: str, rotation_period: int = 86400) -> None:
        """Put ``user`` under the static role ``role``: the engine sets a new password now (the
        application's old one stops working) and every ``rotation_period`` seconds."""
        owner = self.managed_by(user, connection)
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

    def read_static_role(self, role: str) -> dict[str, Any] | None:
        """The static role's settings (username, db_name, rotation_period...), None when there is none."""
        try:
            data = self.backend.call("read static role", f"{self.mount}/static-roles/{role}", lambda client:
                                     client.secrets.database.read_static_role(name=role, mount_point=self.mount))
        except NotFound:
            return None
        return dict(data.get("data") or {})

    def delete_static_role(self, role: str) -> None:
        """Stop managing the static role's user (its password stays as the last rotation left it);
        nothing to do when there is no such role."""
        self._static_roles.pop(role, None)
        self.backend.call("delete static role", f"{self.mount}/static-roles/{role}", lambda client:
                          client.secrets.database.delete_static_role(name=role, mount_point=self.mount))

    def create_dynamic_role(self, role: str, connection: str, creation: list[str], revocation: list[str],
                            default_ttl: int = 3600, max_ttl: int = 86400) -> None:
        """Create (or update) the dynamic role ``role`` on ``connection``: each lease makes a user
        with the ``creation`` statements, which the ``revocation`` statements remove when the lease
        ends (``default_ttl`` seconds, renewable up to ``max_ttl``)."""
        if not creation:
            raise ValueError(f"{self.mount}/roles/{role}: a dynamic role needs creation statements")
        try:  # the engine takes a role on a connection it does not have, and fails each lease later
            self.backend.call("read database connection", f"{self.mount}/config/{connection}", lambda client:
                              client.secrets.database.read_connection(name=connection, mount_point=self.mount))
        except NotFound:
            raise NotFound(self.backend.name, "create dynamic role", f"{self.mount}/roles/{role}",
                           f"no database connection {connection!r} on {self.mount}/ (register the database first)"
                           ) from None
        self.backend.call("create dynamic role", f"{self.mount}/roles/{role}", lambda client:
                          client.secrets.database.create_role(
                              name=role, db_name=connection, creation_statements=creation,
                              revocation_statements=revocation, default_ttl=default_ttl, max_ttl=max_ttl,
                              mount_point=self.mount))

    def delete_role(self, role: str) -> None:
        """Delete the dynamic role (its users live until their leases end or are revoked); nothing
        to do when there is no such role."""
        self.backend.call("delete dynamic role", f"{self.mount}/roles/{role}", lambda client:
                          client.secrets.database.delete_role(name=role, mount_point=self.mount))

    def dynamic_credentials(self, role: str) -> DynamicCredentials:
        """A new user of the dynamic role, and its lease."""
        try:
            answer = self.backend.call("create dynamic credentials", f"{self.mount}/creds/{role}", lambda client:
                                       client.secrets.database.generate_credentials(name=role,
                                                                                    mount_point=self.mount))
        except BackendError as exc:  # an unknown role is a 400 from the engine, not a 404
            if not isinstance(exc, NotFound) and not exc.reason.startswith("unknown role"):
                raise
            raise NotFound(self.backend.name, "create dynamic credentials", f"{self.mount}/creds/{role}",
                           "no such dynamic role") from None
        data = answer["data"]
        return DynamicCredentials(str(data["username"]), str(data["password"]), str(answer["lease_id"]),
                                  int(answer.get("lease_duration") or 0), bool(answer.get("renewable")))

    def renew(self, lease_id: str, increment: int | None = None) -> int:
        """Extend the lease by ``increment`` seconds (the role's default TTL when None), within the
        role's max TTL; the lease's new duration in seconds."""
        answer = self.backend.call("renew lease", lease_id, lambda client:
                                   client.sys.renew_lease(lease_id=lease_id, increment=increment))
        return int(answer.get("lease_duration") or 0)

    def revoke_leases(self, role: str) -> None:
        """Revoke every lease of the dynamic role ``role`` (each user dropped by the role's
        revocation statements); synchronous: done when this returns."""
        prefix = f"{self.mount}/creds/{role}"
        url = hvac_utils.format_url("/v1/sys/leases/revoke-prefix/{prefix}", prefix=prefix)
        self.backend.call("revoke leases", prefix, lambda client: client.adapter.put(url, json={"sync": True}))


def rotation_engine(config: Config, backends: MutableMapping[str, Backend],
                    build: Callable[[str], Backend] | None = None) -> DatabaseEngine | None:
    """The database engine of the configuration's ``rotation`` section (where static roles are
    read), on its vault backend among ``backends``; ``build(name)`` makes that backend when they
    lack it (it joins them, to be closed with them). None without a rotation section, or when
    its vault backend cannot be had or is not a Vault / OpenBao one."""
    from migrator.rotate.settings import rotation_settings

    try:
        settings = rotation_settings(config)
        if settings.vault not in backends and build is not None:
            backends[settings.vault] = build(settings.vault)
    except ConfigError:
        return None
    vault = backends.get(settings.vault)
    return DatabaseEngine(vault, settings.mount) if isinstance(vault, VaultBackend) else None
