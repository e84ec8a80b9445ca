"""Vault paths and field names: the ``naming`` scheme of the configuration, and safe segments.

A scheme is a path with placeholders, ``apps/{app}/{key}`` by default. Each placeholder is
filled from the secret's first occurrence (the first by root, file and byte offset):

``{app}``       the nearest directory above the file (inside its tree, or inside its host's
                directory) whose name is not a generic one (``etc``, ``conf``, ``config``,
                ``srv``, ``opt``, ``group_vars``, ``defaults``, ... see ``GENERIC_DIRS``); the
                tree's own directory name when there is none
``{host}``      the inventory host the file was found on (empty for local files)
``{group}``     the host's first group in the inventory (empty without one)
``{dir}``       the name of the file's directory (the tree's name for a file at its top)
``{file}``      the file's name without its last extension (``config.yml`` -> ``config``)
``{key}``       the last segment of the key path (``database.primary.password`` ->
                ``password``; list indices skipped), snake_case; the finding's kind when the
                value has no key
``{key_path}``  every segment of the key path, snake_case, one path level each
``{kind}``      the finding's kind (``password``, ``github_token``, ...)

The field (``SecretRef.field``) is always the ``{key}`` value, so ``apps/{app}`` puts all of an
app's secrets in one vault secret, one field each.

Every path is made safe for Vault KV and AWS Secrets Manager: lower case; characters other
than ``a-z 0-9 . _ -`` become ``-``; a segment never starts or ends with ``.`` or ``-`` and never
holds ``..``; segments are at most 64 characters; empty segments (``{host}`` of a local file)
are dropped; a path left empty is the field.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from migrator.config import DEFAULT_NAMING, ConfigError

PLACEHOLDERS = ("app", "host", "group", "dir", "file", "key", "key_path", "kind")
MAX_SEGMENT = 64

# Directory names that say where configuration lives, not whose it is: {app} skips them.
GENERIC_DIRS = frozenset({
    "etc", "conf", "conf.d", "config", "configs", "configuration", "cfg", "settings", "srv", "opt", "usr",
    "local", "var", "lib", "share", "home", "src", "source", "files", "templates", "template", "vars",
    "defaults", "group_vars", "host_vars", "inventory", "inventories", "env", "envs", "environments",
    "secrets", "private", "resources", "deploy", "deployment", "roles", "playbooks",
})

_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_KEY_SEGMENTS = re.compile(r"\[[^\]]*\]|[^.\[\]]+")


def segment(text: str) -> str:
    """One safe path segment ("" when nothing usable is left)."""
    text = _DOTS.sub(".", _UNSAFE.sub("-", text.lower())).strip(".-")
    return text[:MAX_SEGMENT].strip(".-")


def key_name(text: str) -> str:
    """snake_case of a key (``dbPassword``, ``DB-PASSWORD`` -> ``db_password``; "" when none)."""
    text = _NOT_WORD.sub("_", _CAMEL.sub("_", text).lower()).strip("_")
    return text[:MAX_SEGMENT].strip("_")


def key_segments(key_path: str) -> list[str]:
    """The names in a key path, list indices (``[0]``) left out: ``a.b[0].c`` -> ``[a, b, c]``."""
    return [part for part in _KEY_SEGMENTS.findall(key_path) if not part.startswith("[")]


def field_name(key_path: str, kind: str) -> str:
    """The field a secret is stored under: the key path's last name, else the kind, else ``value``."""
    for candidate in (*reversed(key_segments(key_path)), kind):
        name = key_name(candidate)
        if name:
            return name
    return "value"


def stem(name: str) -> str:
    """A file name without its last extension (``.env`` stays ``.env``)."""
    head, dot, _ = name.rpartition(".")
    return head if dot and head else name


@dataclass(frozen=True, slots=True)
class NamingContext:
    """What a scheme's placeholders are filled from (one occurrence of a secret)."""

    root_name: str  # the name of the directory the path is relative to
    path: str  # posix path of the file, relative to that directory
    key_path: str
    kind: str
    host: str = ""
    group: str = ""

    def values(self) -> dict[str, str]:
        parts = self.path.split("/")
        dirs = parts[:-1]
        app = next((d for d in reversed(dirs) if d.lower() not in GENERIC_DIRS), self.root_name)
        field = field_name(self.key_path, self.kind)
        return {
            "app": segment(app),
            "host": segment(self.host),
            "group": segment(self.group),
            "dir": segment(dirs[-1] if dirs else self.root_name),
            "file": segment(stem(parts[-1])),
            "key": field,
            "key_path": "/".join(n for n in (key_name(s) for s in key_segments(self.key_path)) if n) or field,
            "kind": segment(self.kind),
        }


class NamingScheme:
    """A validated ``naming`` scheme; ``render`` gives a secret's (path, field)."""

    def __init__(self, scheme: str = DEFAULT_NAMING, source: str = "(defaults)") -> None:
        self.scheme = scheme
        try:
            parsed = list(string.Formatter().parse(scheme))
        except ValueError as exc:
            raise ConfigError(f"{source}: naming {scheme!r}: {exc}") from None
        names: list[str] = []
        for _, name, spec, conversion in parsed:
            if name is None:
                continue
            if name not in PLACEHOLDERS:
                raise ConfigError(f"{source}: naming {scheme!r}: unknown placeholder {{{name}}} "
                                  f"(use {', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
            if spec or conversion:
                raise ConfigError(f"{source}: naming {scheme!r}: write {{{name}}} without a format or conversion")
            names.append(name)
        self.placeholders = tuple(names)

    @property
    def keyed(self) -> bool:
        """Whether each key gets its own path (the scheme holds {key} or {key_path}): a clash is
        then settled on the path; otherwise the secrets share a path and differ by field."""
        return "key" in self.placeholders or "key_path" in self.placeholders

    def render(self, context: NamingContext) -> tuple[str, str]:
        values = context.values()
        return self.render_values(values), values["key"]

    def render_values(self, values: Mapping[str, str]) -> str:
        text = self.scheme.format_map(values)
        path = "/".join(s for s in (segment(part) for part in text.split("/")) if s)
        return path or values["key"]
