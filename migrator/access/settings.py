"""The ``access:`` section of ``vaultshift.yml``: who may read and who may write which secrets.

    access:
      prefix: vaultshift            # names: vaultshift-app-NAME, vaultshift-team-NAME, vaultshift-operators
      vault: vault                  # the Vault/OpenBao backend whose server gets the policies and roles
      apps:                         # who reads what; first match wins (route ``match`` keys)
        - name: shop
          match: {host: "web*"}     # path, host, host_group (with --inventory), kind
      shared: [apps/common/smtp]    # vault paths several apps may read
      teams:                        # developers: write-only under these path prefixes
        - name: payments
          paths: [apps/shop/, apps/billing/]   # "x/" a prefix, "x" one path
          backend: vault            # default: default_backend
      operators: true               # a policy that manages everything vaultshift manages
      aws: {account: "123456789012"}  # IAM policies' ARNs (default "*"); iam_endpoint_url for tests
      auth:                         # how apps log in (secret zero)
        approle: {mount: approle, secret_id_ttl: 24h, token_ttl: 1h, wrap_ttl: 60s}
        kubernetes: {mount: kubernetes, apps: {shop: {namespace: shop, service_accounts: [shop]}}}
        jwt: {mount: jwt, apps: {shop: {bound_subject: "repo:org/shop:ref:refs/heads/main"}}}
      (the options of each method: migrator.access.secret_zero)

An occurrence no ``apps`` entry matches belongs to the app its vault path names: the path's
directory (``apps/shop/db`` -> ``shop``, the ``{app}`` of the default naming). Errors are one line
naming the file and the item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from migrator.config import Config, ConfigError
from migrator.plan.routing import Matcher

DEFAULT_PREFIX = "vaultshift"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_PATH = re.compile(r"^[A-Za-z0-9._\-/@+=,]+$")
AUTH_METHODS = ("approle", "kubernetes", "jwt")


@dataclass(frozen=True, slots=True)
class AppSettings:
    name: str
    match: Matcher


@dataclass(frozen=True, slots=True)
class TeamSettings:
    name: str
    paths: tuple[str, ...]  # "prefix/" or an exact path
    backend: str


@dataclass(frozen=True, slots=True)
class AuthMount:
    """One auth method apps log in with: its mount and its options (TTLs, bound claims...)."""

    method: str
    mount: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccessSettings:
    prefix: str = DEFAULT_PREFIX
    apps: tuple[AppSettings, ...] = ()
    shared: frozenset[str] = frozenset()
    teams: tuple[TeamSettings, ...] = ()
    operators: bool = True
    auth: tuple[AuthMount, ...] = (AuthMount("approle", "approle"),)
    source: str = "(defaults)"
    vault: str = ""  # the backend whose server gets the policies ("": the first Vault backend)

    def auth_mount(self, method: str) -> AuthMount | None:
        return next((a for a in self.auth if a.method == method), None)


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(f"{where}: name {value!r} must be lower-case letters, digits, '-' or '_' (at most 63)")
    return value


def access_settings(config: Config) -> AccessSettings:
    """The configuration's ``access:`` section (defaults when there is none)."""
    raw = config.extra.get("access")
    where = f"{config.source}: access"
    if raw is None:
        return AccessSettings(source=config.source, vault=_vault(config, None, where))
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping")
    known = {"prefix", "vault", "apps", "shared", "teams", "operators", "auth", "aws"}
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (use {', '.join(sorted(known))})")
    prefix = _name(raw.get("prefix", DEFAULT_PREFIX), f"{where}.prefix")
    apps = []
    for number, entry in enumerate(raw.get("apps") or [], 1):
        item = f"{where}.apps entry {number}"
        if not isinstance(entry, dict) or set(entry) - {"name", "match"}:
            raise ConfigError(f"{item}: must be a mapping with name and match")
        apps.append(AppSettings(_name(entry.get("name"), item), Matcher(entry.get("match") or {}, item)))
    names = [a.name for a in apps]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}.apps: app {sorted(n for n in names if names.count(n) > 1)[0]!r} is listed twice")
    shared = raw.get("shared") or []
    if not isinstance(shared, list) or not all(isinstance(p, str) and _PATH.match(p) for p in shared):
        raise ConfigError(f"{where}.shared: must be a list of vault paths")
    teams = []
    for number, entry in enumerate(raw.get("teams") or [], 1):
        item = f"{where}.teams entry {number}"
        if not isinstance(entry, dict) or set(entry) - {"name", "paths", "backend"}:
            raise ConfigError(f"{item}: must be a mapping with name, paths and (optionally) backend")
        name = _name(entry.get("name"), item)
        paths = entry.get("paths")
        if not isinstance(paths, list) or not paths or not all(
                isinstance(p, str) and _PATH.match(p) and ".." not in p.split("/") and not p.startswith("/")
                for p in paths):
            raise ConfigError(f"{item} ({name}): paths must be a list of vault paths or prefixes ending in '/'")
        backend = entry.get("backend", config.default_backend)
        if backend not in config.backends:
            raise ConfigError(f"{item} ({name}): backend {backend!r} is not configured")
        teams.append(TeamSettings(name, tuple(paths), str(backend)))
    auth_raw = raw.get("auth", {"approle": {}})
    if not isinstance(auth_raw, dict):
        raise ConfigError(f"{where}.auth: must be a mapping of method to options")
    auth = []
    for method, options in auth_raw.items():
        if method not in AUTH_METHODS:
            raise ConfigError(f"{where}.auth: unknown method {method!r} (use {', '.join(AUTH_METHODS)})")
        options = dict(options or {})
        mount = options.pop("mount", method)
        if not isinstance(mount, str) or not _PATH.match(mount):
            raise ConfigError(f"{where}.auth.{method}: mount must be a path")
        auth.append(AuthMount(method, mount.strip("/"), options))
    operators = raw.get("operators", True)
    if not isinstance(operators, bool):
        raise ConfigError(f"{where}.operators: must be true or false")
    settings = AccessSettings(prefix, tuple(apps), frozenset(shared), tuple(teams), operators, tuple(auth),
                              config.source, _vault(config, raw.get("vault"), where))
    from migrator.access.secret_zero import identity_options  # it reads these settings: imported here

    identity_options(settings)  # the auth methods' options (TTLs, bound claims...), checked now
    return settings


def _vault(config: Config, name: Any, where: str) -> str:
    """The Vault backend named (it must be one), else the first one configured ("" when none)."""
    if name is None:
        return next((n for n, s in config.backends.items() if s.get("type", "vault") == "vault"), "")
    if name not in config.backends or config.backends[name].get("type", "vault") != "vault":
        raise ConfigError(f"{where}.vault: {name!r} is not a configured Vault/OpenBao backend")
    return str(name)
