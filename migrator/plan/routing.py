"""Which backend stores a secret: the configuration's ``routes``, first match wins.

A route is ``{match: {...}, backend: NAME}``. Every key of ``match`` must hold (an empty
``match`` holds always); a key's value is one pattern or a list of patterns (any of them):

``path``        gitignore-style patterns on the occurrence's path relative to its tree, or to
                its host's directory (``aws/**``, ``*.tfvars``, ``/top-level.yml``, ``!keep.yml``)
``host``        glob on the inventory host the file was found on
``host_group``  glob on the host's groups in the inventory (``all`` included); a local file
                (no host) matches no host_group
``kind``        glob on the finding's kind (``password``, ``aws_*``)

A secret is routed by its first occurrence; when another of its occurrences would go to a
different backend the plan says so in its notes (and keeps the first one's backend). With no
route matching, the secret goes to ``default_backend``.

The same ``match`` mappings select reference styles (``styles:``, see ``migrator.plan.styles``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pathspec import GitIgnoreSpec

from migrator.config import Config, ConfigError

MATCH_KEYS = ("path", "host", "host_group", "kind")


@dataclass(frozen=True, slots=True)
class Target:
    """What a rule is matched against: one occurrence."""

    path: str  # posix, relative to the occurrence's root
    kind: str
    host: str = ""
    groups: frozenset[str] = field(default_factory=frozenset)


def _patterns(value: Any, key: str, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item for item in items):
        raise ConfigError(f"{where}: match {key!r} must be a pattern or a list of patterns")
    return tuple(items)


class Matcher:
    """A compiled ``match`` mapping."""

    def __init__(self, match: Mapping[str, Any], where: str) -> None:
        if not isinstance(match, Mapping):
            raise ConfigError(f"{where}: 'match' must be a mapping")
        unknown = sorted(str(k) for k in match if k not in MATCH_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown match key {unknown[0]!r} (use {', '.join(MATCH_KEYS)})")
        self.path: GitIgnoreSpec | None = None
        if "path" in match:
            patterns = _patterns(match["path"], "path", where)
            try:
                self.path = GitIgnoreSpec.from_lines(patterns)
            except ValueError:
                raise ConfigError(f"{where}: match 'path': not a valid gitignore-style pattern "
                                  f"in {list(patterns)!r}") from None
        self.hosts = _patterns(match["host"], "host", where) if "host" in match else None
        self.host_groups = _patterns(match["host_group"], "host_group", where) if "host_group" in match else None
        self.kinds = _patterns(match["kind"], "kind", where) if "kind" in match else None

    def matches(self, target: Target) -> bool:
        if self.path is not None and not self.path.match_file(target.path):
            return False
        if self.hosts is not None and not (target.host and _any(target.host, self.hosts)):
            return False
        if self.host_groups is not None and not any(_any(g, self.host_groups) for g in target.groups):
            return False
        return self.kinds is None or _any(target.kind, self.kinds)


def _any(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


@dataclass(frozen=True, slots=True)
class Route:
    """A route of the configuration (``number`` 1-based), or the default (``number`` 0)."""

    number: int
    backend: str

    def __str__(self) -> str:
        return f"route {self.number}" if self.number else "default_backend"


class Router:
    """The configuration's routes, compiled; ConfigError (one line) when one cannot be used."""

    def __init__(self, config: Config) -> None:
        self.default = Route(0, config.default_backend)
        self.routes: list[tuple[Route, Matcher]] = []
        for number, route in enumerate(config.routes, 1):
            where = f"{config.source}: route {number}"
            backend = route.get("backend")
            if backend not in config.backends:
                raise ConfigError(f"{where}: backend {backend!r} is not configured")
            unknown = sorted(str(k) for k in route if k not in ("match", "backend"))
            if unknown:
                raise ConfigError(f"{where}: unknown key {unknown[0]!r} (a route has match and backend)")
            self.routes.append((Route(number, str(backend)), Matcher(route.get("match") or {}, where)))

    def route(self, target: Target) -> Route:
        for route, matcher in self.routes:
            if matcher.matches(target):
                return route
        return self.default
