"""vaultshift's configuration file (``vaultshift.yml``): backends, routing rules, path naming.

    backends:
      vault:                       # a name of your choosing, used by routes and in the plan
        type: vault                # Vault or OpenBao, KV v2
        addr: https://vault.example.org:8200   # default: $VAULT_ADDR
        mount: secret              # KV v2 mount (default secret)
        prefix: vaultshift         # path prefix under the mount (default none)
        namespace: team-a          # Vault Enterprise / OpenBao namespace (default $VAULT_NAMESPACE)
        auth: {method: token}      # token ($VAULT_TOKEN) or approle (role_id, secret_id_env)
      aws:
        type: aws                  # AWS Secrets Manager
        region: eu-west-1          # default: the AWS environment and config
        endpoint_url: http://127.0.0.1:5000   # optional
        prefix: vaultshift/        # name prefix (default none)
    routes:                        # first match wins; default_backend otherwise
      - {match: {path: "aws/**"}, backend: aws}
      - {match: {host_group: aws_apps}, backend: aws}
    default_backend: vault
    naming: "apps/{app}/{key}"     # vault path scheme; see migrator.plan.naming

With no file, one backend named ``vault`` is configured from the environment (VAULT_ADDR,
VAULT_TOKEN, KV v2 mount ``secret``), as every Vault tool does. Values are never secrets: tokens
and AppRole secret ids are read from the environment variables the file names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_FILE = "vaultshift.yml"
DEFAULT_NAMING = "apps/{app}/{key}"
BACKEND_TYPES = ("vault", "aws", "vault-database")


class ConfigError(ValueError):
    """The configuration cannot be used; the message is one line naming the file and the item."""


@dataclass(frozen=True, slots=True)
class Config:
    backends: dict[str, dict[str, Any]]
    routes: tuple[dict[str, Any], ...] = ()
    default_backend: str = "vault"
    naming: str = DEFAULT_NAMING
    source: str = "(defaults)"  # the file it came from, for error messages
    extra: dict[str, Any] = field(default_factory=dict)  # other top-level sections, for later issues


def default_config() -> Config:
    return Config(backends={"vault": {"type": "vault"}})


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """The file at ``path``, else ``./vaultshift.yml`` when it exists, else the defaults."""
    if path is None:
        if not Path(DEFAULT_FILE).is_file():
            return default_config()
        path = DEFAULT_FILE
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping")
    return parse_config(data, str(path))


def parse_config(data: dict[str, Any], source: str) -> Config:
    backends = data.get("backends") or {"vault": {"type": "vault"}}
    if not isinstance(backends, dict):
        raise ConfigError(f"{source}: 'backends' must be a mapping of names to settings")
    for name, settings in backends.items():
        if not isinstance(settings, dict):
            raise ConfigError(f"{source}: backend {name!r}: settings must be a mapping")
        kind = settings.get("type", "vault")
        if kind not in BACKEND_TYPES:
            raise ConfigError(f"{source}: backend {name!r}: unknown type {kind!r} (use {' or '.join(BACKEND_TYPES)})")
    routes = data.get("routes") or []
    if not isinstance(routes, list) or not all(isinstance(r, dict) for r in routes):
        raise ConfigError(f"{source}: 'routes' must be a list of {{match: ..., backend: ...}}")
    for number, route in enumerate(routes, 1):
        if route.get("backend") not in backends:
            raise ConfigError(f"{source}: route {number}: backend {route.get('backend')!r} is not configured")
        if not isinstance(route.get("match", {}), dict):
            raise ConfigError(f"{source}: route {number}: 'match' must be a mapping")
    default = data.get("default_backend") or next(iter(backends))
    if default not in backends:
        raise ConfigError(f"{source}: default_backend {default!r} is not configured")
    naming = data.get("naming", DEFAULT_NAMING)
    if not isinstance(naming, str) or not naming.strip():
        raise ConfigError(f"{source}: 'naming' must be a path scheme such as {DEFAULT_NAMING!r}")
    known = {"backends", "routes", "default_backend", "naming"}
    extra = {k: v for k, v in data.items() if k not in known}
    return Config({str(k): dict(v) for k, v in backends.items()}, tuple(routes), str(default), naming, source, extra)
