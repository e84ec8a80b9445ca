"""The ``rotation:`` section of ``vaultshift.yml``: which databases the vault may manage, with which
admin user, how often passwords rotate, and the waves the fleet is switched in.

    backends:
      vault: {type: vault, mount: secret}
      database: {type: vault-database, mount: database}   # what switched references read
    rotation:
      vault: vault                  # the Vault / OpenBao backend whose server runs the engine
      credentials: database         # the vault-database backend (its mount is the engine's)
      rotation_period: 86400        # seconds between a static role's rotations (at least 5)
      dynamic: {default_ttl: 3600, max_ttl: 86400}
      databases:
        - name: shop                # the engine's connection name
          match: {host: "db*.internal", port: 5432, database: shop}   # globs on what the files say
          admin: admin/db/shop      # a path of the vault backend: fields username and password
          tls: require              # PostgreSQL sslmode for the engine's connection
          address: 10.0.0.5:5432    # where the vault and vaultshift reach it, when not the files' host
          engine: postgresql        # when the files do not say (default postgresql)
          dual: true                # dual-credential switch (agent-rendered apps): see migrator.rotate.waves
      waves:                        # in order; a host in none of them is in the last, "rest"
        - {name: canary, hosts: [web01]}
        - {name: web, hosts: ["web*"]}

The admin user is the operator's (never an application's): the engine logs in with it to change
passwords and create users. Its password is read from the vault at run time and only ever passed
to the engine and the database. Errors are one line naming the file and the item.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from migrator.config import Config, ConfigError
from migrator.rotate.classify import DatabaseTarget

MIN_ROTATION_PERIOD = 5  # the engine's own minimum, in seconds
REST = "rest"
CANARY = "canary"


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """One database the vault may manage."""

    name: str
    match: dict[str, Any]
    admin: str  # vault path with fields username and password
    tls: str = "disable"
    address: str = ""  # host:port the vault reaches it at, when not what the files say
    engine: str = "postgresql"  # what it is, when its files do not say (a port other than the default)
    dual: bool = False  # dual-credential: a twin login role takes the static role; the old user retired after

    def matches(self, target: DatabaseTarget) -> bool:
        facts = {"host": target.host, "port": target.port, "database": target.database,
                 "engine": target.engine or self.engine, "user": target.user}
        for key, pattern in self.match.items():
            value = facts.get(key)
            if value is None or not fnmatch.fnmatchcase(str(value), str(pattern)):
                return False
        return True

    def reached_at(self, target: DatabaseTarget) -> DatabaseTarget:
        """``target`` as the vault and vaultshift reach it (``address`` when given)."""
        if not self.address:
            return replace(target, engine=target.engine or self.engine)
        host, _, port = self.address.rpartition(":")
        if not host or not port.isdigit():
            host, port = self.address, ""
        return DatabaseTarget(target.engine or self.engine, host.strip("[]"), int(port) if port else target.port,
                              target.user, target.database, target.found_in)


@dataclass(frozen=True, slots=True)
class Wave:
    name: str
    hosts: tuple[str, ...]  # globs on inventory host names ("local" for files of this machine)

    def holds(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host or "local", pattern) for pattern in self.hosts)


@dataclass(frozen=True, slots=True)
class RotationSettings:
    vault: str
    credentials: str
    mount: str
    rotation_period: int = 86400
    default_ttl: int = 3600
    max_ttl: int = 86400
    databases: tuple[DatabaseSettings, ...] = ()
    waves: tuple[Wave, ...] = field(default=())

    def database_for(self, target: DatabaseTarget) -> DatabaseSettings | None:
        return next((db for db in self.databases if db.matches(target)), None)

    def wave_names(self, hosts: list[str]) -> list[str]:
        """The waves in order: the configured ones, then ``rest``. Without configured waves the
        canary is the first host (sorted)."""
        return [w.name for w in self.waves_for(hosts)] + [REST]

    def waves_for(self, hosts: list[str]) -> tuple[Wave, ...]:
        if self.waves:
            return self.waves
        first = sorted(h or "local" for h in hosts)[:1]
        return (Wave(CANARY, tuple(first)),) if first else ()

    @staticmethod
    def wave_of(host: str, waves: Sequence[Wave]) -> str:
        """The first of ``waves`` (:meth:`waves_for` the fleet) that holds ``host``, else ``rest``."""
        return next((w.name for w in waves if w.holds(host)), REST)


def rotation_settings(config: Config) -> RotationSettings:
    """The configuration's ``rotation:`` section, checked."""
    where = f"{config.source}: rotation"
    data = config.extra.get("rotation") or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a mapping")
    known = {"vault", "credentials", "rotation_period", "dynamic", "databases", "waves"}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    vaults = [n for n, s in config.backends.items() if s.get("type", "vault") == "vault"]
    vault = str(data.get("vault") or (config.default_backend if config.default_backend in vaults else
                                      (vaults[0] if vaults else "")))
    if config.backends.get(vault, {}).get("type", "vault") != "vault" or vault not in config.backends:
        raise ConfigError(f"{where}.vault: {vault!r} is not a configured vault backend")
    engines = [n for n, s in config.backends.items() if s.get("type") == "vault-database"]
    credentials = str(data.get("credentials") or (engines[0] if engines else ""))
    if credentials not in engines:
        raise ConfigError(f"{where}.credentials: needs a backend of type vault-database (what switched references "
                          "read), e.g. backends: {database: {type: vault-database, mount: database}}")
    mount = str(config.backends[credentials].get("mount") or "database").strip("/")
    period = _seconds(data.get("rotation_period", 86400), f"{where}.rotation_period", MIN_ROTATION_PERIOD)
    dynamic = data.get("dynamic") or {}
    if not isinstance(dynamic, dict):
        raise ConfigError(f"{where}.dynamic: must be a mapping (default_ttl, max_ttl)")
    default_ttl = _seconds(dynamic.get("default_ttl", 3600), f"{where}.dynamic.default_ttl", 1)
    max_ttl = _seconds(dynamic.get("max_ttl", 86400), f"{where}.dynamic.max_ttl", default_ttl)
    databases = [_database(item, f"{where}.databases[{n}]") for n, item in enumerate(_list(data, "databases", where))]
    waves = [_wave(item, f"{where}.waves[{n}]") for n, item in enumerate(_list(data, "waves", where))]
    return RotationSettings(vault, credentials, mount, period, default_ttl, max_ttl, tuple(databases), tuple(waves))


def _list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(f"{where}.{key}: must be a list")
    return value


def _seconds(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where}: must be a whole number of seconds, at least {minimum}")
    return value


def _database(item: Any, where: str) -> DatabaseSettings:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: must be a mapping (name, match, admin)")
    unknown = sorted(str(k) for k in item if k not in ("name", "match", "admin", "tls", "address", "engine", "dual"))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}")
    name, admin, match = item.get("name"), item.get("admin"), item.get("match") or {}
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_." for c in name):
        raise ConfigError(f"{where}.name: a connection name (letters, digits, - _ .)")
    if not isinstance(admin, str) or not admin.strip("/"):
        raise ConfigError(f"{where}.admin: the vault path of the admin user's username and password")
    if not isinstance(match, dict) or any(k not in ("host", "port", "database", "engine", "user") for k in match):
        raise ConfigError(f"{where}.match: a mapping of host, port, database, engine, user globs")
    engine = str(item.get("engine") or "postgresql")
    if engine not in ("postgresql", "mysql"):
        raise ConfigError(f"{where}.engine: postgresql or mysql")
    dual = item.get("dual", False)
    if not isinstance(dual, bool):
        raise ConfigError(f"{where}.dual: true or false")
    return DatabaseSettings(name, dict(match), admin.strip("/"), str(item.get("tls") or "disable"),
                            str(item.get("address") or ""), engine, dual)


def _wave(item: Any, where: str) -> Wave:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise ConfigError(f"{where}: a wave is {{name: NAME, hosts: [globs]}}")
    hosts = item.get("hosts") or []
    if isinstance(hosts, str):
        hosts = [hosts]
    if not hosts or not all(isinstance(h, str) and h for h in hosts):
        raise ConfigError(f"{where}.hosts: a list of host globs")
    if item["name"] in (REST, "all"):
        raise ConfigError(f"{where}.name: {item['name']!r} is reserved")
    return Wave(item["name"], tuple(hosts))
