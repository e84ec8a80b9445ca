"""What each planned secret is, for rotation: a database credential (with the connection found
next to it), a cloud key, an API key or token, or something else.

A password is a database credential when the file that holds it says where the database is:
either the value sits inside a connection URL (``postgresql://app:PASSWORD@db:5432/shop``,
``mysql://...``), or its siblings do: the entries beside it in the same section
(``database.password`` beside ``database.host``, ``database.user``...) or with the same prefix
(``DB_PASSWORD`` beside ``DB_HOST``, ``spring.datasource.password`` beside
``spring.datasource.url``), a JDBC or URL sibling included. The engine comes from a URL's scheme,
a driver or adapter setting, the key names, or the port (5432 PostgreSQL, 3306 MySQL). Secrets
that cannot be rotated are classified all the same: the tracking still counts them and their age.

Nothing here holds a value: users, hosts, ports and database names are read from the files; the
password itself is only located, never kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers import ReaderError, reader_for
from migrator.plan.models import Occurrence, Plan, PlannedSecret
from migrator.rewrite.spans import char_offset

DATABASE, CLOUD, API_KEY, OTHER = "database", "cloud", "api-key", "other"
POSTGRESQL, MYSQL = "postgresql", "mysql"

CLOUD_KINDS = frozenset({"aws_access_key_id", "aws_secret_access_key", "azure_client_secret", "azure_storage_key",
                         "azure_sas_token", "google_api_key", "google_oauth_secret", "alibaba_access_key_id",
                         "tencent_secret_id", "digitalocean_token"})
PASSWORD_KINDS = frozenset({"password", "secret", "credential", "url_credentials", "connection_string"})

_SCHEMES = {"postgres": POSTGRESQL, "postgresql": POSTGRESQL, "pgsql": POSTGRESQL, "mysql": MYSQL, "mariadb": MYSQL,
            "mysql2": MYSQL, "mysqlx": MYSQL}
_ENGINE_WORDS = ((re.compile(r"postg|psql|pgsql|\bpg\b|(^|[_.\-])pg([_.\-]|$)"), POSTGRESQL),
                 (re.compile(r"mysql|maria"), MYSQL))
_PORTS = {5432: POSTGRESQL, 3306: MYSQL}
_ROLE_OF_KEY = (("host", re.compile(r"(^|[_.\-])(host|hostname|server|address|addr)$")),
                ("port", re.compile(r"(^|[_.\-])port$")),
                ("user", re.compile(r"(^|[_.\-])(user|username|user_name|login|uid|role)$")),
                ("database", re.compile(r"(^|[_.\-])(name|dbname|db_name|database|db|schema)$")),
                ("url", re.compile(r"(^|[_.\-])(url|uri|dsn|jdbc_?url|connection_?string|conn)$")),
                ("engine", re.compile(r"(^|[_.\-])(adapter|driver|engine|dialect|type|vendor|driver_?class_?name)$")))
_USER_KEY = dict(_ROLE_OF_KEY)["user"]
_PASSWORD_KEY = re.compile(r"(?i)(password|passwd|pwd|pass|secret)$")
_DATABASE_WORDS = re.compile(r"(^|[_.\-])(db|database|datasource|datasources|sql|rds)([_.\-]|$)")


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    """Where a database credential logs in (what its file says; None where it says nothing)."""

    engine: str | None
    host: str | None
    port: int | None
    user: str | None
    database: str | None
    found_in: str  # file:line of the occurrence it was read from

    @property
    def complete(self) -> bool:
        """Enough to register the connection in the vault: engine, host and user."""
        return bool(self.engine and self.host and self.user)


@dataclass(frozen=True, slots=True)
class Classified:
    """One planned secret's category, and for a database credential where it logs in."""

    secret: PlannedSecret
    category: str
    database: DatabaseTarget | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data without the secret itself (its fingerprint names it): what a fleet's hosts
        send back to be merged."""
        target = self.database
        return {"fingerprint": self.secret.fingerprint, "category": self.category, "reason": self.reason,
                "database": None if target is None else
                {"engine": target.engine, "host": target.host, "port": target.port, "user": target.user,
                 "database": target.database, "found_in": target.found_in}}


def merge_classified(plan: Plan, found: Iterable[Mapping[str, Any]]) -> list[Classified]:
    """One classification per secret of ``plan`` from what each host classified of its own
    files (:meth:`Classified.to_dict`): a database credential wherever a host found its
    database, the fullest description of it kept; a secret no host classified is "other"."""
    best: dict[str, Classified] = {}
    secrets = {s.fingerprint: s for s in plan.secrets}
    for data in found:
        secret = secrets.get(str(data.get("fingerprint")))
        if secret is None:
            continue
        raw = data.get("database")
        target = None if not isinstance(raw, Mapping) else DatabaseTarget(
            raw.get("engine"), raw.get("host"), int(raw["port"]) if raw.get("port") else None, raw.get("user"),
            raw.get("database"), str(raw.get("found_in") or ""))
        item = Classified(secret, str(data.get("category") or OTHER), target, str(data.get("reason") or ""))
        known = best.get(secret.fingerprint)
        fuller = target is not None and (known is None or known.database is None
                                         or _score(target) > _score(known.database))
        if known is None or fuller:
            best[secret.fingerprint] = item
    return [best.get(s.fingerprint) or Classified(s, OTHER, reason="no host classified it") for s in plan.secrets]


def classify_plan(plan: Plan, read: Callable[[str], bytes]) -> list[Classified]:
    """Every secret of ``plan`` classified; ``read(path)`` gives a planned file's bytes (a file
    that cannot be read or parsed is left out: the secret is classified from its other files)."""
    parsed: dict[str, tuple[list[Entry], Document] | None] = {}

    def entries_of(occurrence: Occurrence) -> tuple[list[Entry], Document] | None:
        path = occurrence.file
        if path not in parsed:
            parsed[path] = None
            try:
                doc, _ = Document.from_bytes(path, read(path))
                parsed[path] = (list(reader_for(doc).read(doc)), doc)
            except (OSError, ReaderError, UnicodeDecodeError):
                pass
        return parsed[path]

    return [classify_secret(secret, entries_of) for secret in plan.secrets]


def classify_secret(secret: PlannedSecret,
                    entries_of: Callable[[Occurrence], tuple[list[Entry], Document] | None]) -> Classified:
    """``secret``'s category, from its kind and (for passwords) the files around its occurrences."""
    if secret.kind in CLOUD_KINDS:
        return Classified(secret, CLOUD, reason=f"a {secret.kind}")
    if secret.kind not in PASSWORD_KINDS and not _PASSWORD_KEY.search(secret.occurrences[0].key_path):
        return Classified(secret, API_KEY if secret.kind not in ("", "unknown") else OTHER, reason=f"a {secret.kind}")
    best: DatabaseTarget | None = None
    for occurrence in secret.occurrences:
        found = entries_of(occurrence)
        if found is None:
            continue
        target = database_target(occurrence, *found)
        if target is not None and (best is None or _score(target) > _score(best)):
            best = target
    if best is None:
        return Classified(secret, OTHER, reason="a password with no database beside it")
    return Classified(secret, DATABASE, best, reason="a database password" if best.complete
                      else "a database password; its file does not say enough to register the connection")


def database_target(occurrence: Occurrence, entries: Sequence[Entry], doc: Document) -> DatabaseTarget | None:
    """The database the password at ``occurrence`` logs in to, from its own value (a URL) or
    its siblings; None when nothing around it names a database."""
    own = own_entry(occurrence, entries, doc)
    facts: dict[str, str] = {}
    engine_hints: list[str] = []
    if own is not None and "://" in own.value:
        _from_url(own.value, facts, engine_hints)
    for entry in _siblings(occurrence.key_path, entries):
        leaf = _leaf(entry.key_path).lower()
        for role, pattern in _ROLE_OF_KEY:
            if pattern.search(leaf) and role not in facts:
                if role == "url":
                    _from_url(entry.value, facts, engine_hints)
                elif role == "engine":
                    engine_hints.append(entry.value.lower())
                else:
                    facts[role] = entry.value
                break
        engine_hints.append(leaf)
    engine_hints.append(occurrence.key_path.lower())
    engine_hints.append(doc.name.lower())
    if not facts:
        return None
    port = int(facts["port"]) if facts.get("port", "").isdigit() else None
    engine = _engine(engine_hints, port)
    if engine is None and not _DATABASE_WORDS.search(occurrence.key_path.lower()):
        return None  # a host and a user, but nothing says database (a mail server's, say)
    return DatabaseTarget(engine, facts.get("host"), port, facts.get("user"), facts.get("database"),
                          f"{occurrence.path}:{occurrence.line}")


def own_entry(occurrence: Occurrence, entries: Sequence[Entry], doc: Document) -> Entry | None:
    """The entry holding the occurrence: the one at its span, or (in a file rewritten since the
    plan, where spans have moved) the entry of the same key nearest to where it was."""
    start = char_offset(doc.data, doc, occurrence.start_byte) if occurrence.start_byte <= len(doc.data) else -1
    at = next((e for e in entries if e.start <= start < max(e.end, e.start + 1)), None)
    if at is not None and at.key_path == occurrence.key_path:
        return at
    same = [e for e in entries if e.key_path == occurrence.key_path]
    return min(same, key=lambda e: abs(e.start - start)) if same else at


def username_at(occurrence: Occurrence, entries: Sequence[Entry], doc: Document, user: str) -> tuple[Entry, int] | None:
    """Where the password at ``occurrence`` names its user ``user`` in the file: the entry that
    holds the name and the name's character offset in the document (in the password's own
    connection URL, or a sibling user entry); None when the file does not say it literally."""
    own = own_entry(occurrence, entries, doc)
    if own is not None and "://" in own.value:
        scheme_end = own.value.index("://") + 3
        if own.value.startswith(user, scheme_end) and doc.text[own.start:own.end] == own.value:
            return own, own.start + scheme_end
    for entry in _siblings(occurrence.key_path, entries):
        if _USER_KEY.search(_leaf(entry.key_path).lower()) and entry.value == user \
                and doc.text[entry.start:entry.end] == user:
            return entry, entry.start
    return None


def _siblings(key_path: str, entries: Iterable[Entry]) -> list[Entry]:
    """Entries in the same section as ``key_path`` (same parent), or sharing its prefix before
    the password word (``DB_PASSWORD`` -> ``DB_*``), the password itself excluded."""
    parent, _, leaf = key_path.rpartition(".")
    match = _PASSWORD_KEY.search(leaf)
    prefix = leaf[:match.start()].lower() if match else ""
    out = []
    for entry in entries:
        if entry.key_path == key_path:
            continue
        other_parent, _, other_leaf = entry.key_path.rpartition(".")
        if other_parent != parent:
            continue
        if parent or not prefix or other_leaf.lower().startswith(prefix):
            out.append(entry)
    return out


def _from_url(text: str, facts: dict[str, str], engine_hints: list[str]) -> None:
    """Host, port, user and database from a connection URL (``jdbc:`` ones too)."""
    text = text.strip()
    if text.lower().startswith("jdbc:"):
        text = text[5:]
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return
    scheme = parts.scheme.lower().split("+")[0]
    if scheme not in _SCHEMES:
        return
    engine_hints.append(scheme)
    if parts.hostname:
        facts.setdefault("host", parts.hostname)
    if port:
        facts.setdefault("port", str(port))
    if parts.username:
        facts.setdefault("user", unquote(parts.username))
    database = parts.path.lstrip("/").split("/")[0]
    if database:
        facts.setdefault("database", unquote(database))


def _engine(hints: Sequence[str], port: int | None) -> str | None:
    for hint in hints:
        scheme = hint.split(":")[0].split("+")[0]
        if scheme in _SCHEMES:
            return _SCHEMES[scheme]
    for hint in hints:
        for pattern, engine in _ENGINE_WORDS:
            if pattern.search(hint):
                return engine
    return _PORTS.get(port) if port else None


def _leaf(key_path: str) -> str:
    return key_path.rpartition(".")[2]


def _score(target: DatabaseTarget) -> int:
    return sum(value is not None for value in (target.engine, target.host, target.port, target.user, target.database))


