"""Baselines: the findings a team has reviewed and accepted.

An entry is keyed on the secret's fingerprint and its logical location (file and key path), never
on a line number, so edits elsewhere in a file, moving the value, or a rebase do not churn the
baseline; the same value copied into another file is a new finding. The file is sorted, stable
JSON (grouped by path) that merges cleanly, and holds no plaintext: fingerprints are keyed, so the
file records the fingerprint key's id and refuses to be used with another key.

Version 1 files (no key id, no reasons) still load.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from migrator.discover.models import Finding
from migrator.fingerprint import ENV_KEY, PREFIX

FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
DEFAULT_FILE = ".vaultshift-baseline.json"
MAX_REASON = 200
_FINGERPRINT = re.compile(re.escape(PREFIX) + r"[0-9a-f]{32}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")


class BaselineError(ValueError):
    """A baseline that cannot be used, in one line naming the file."""


@dataclass(frozen=True, order=True, slots=True)
class BaselineEntry:
    """One accepted secret: its fingerprint where it is (file and key path), the rule that found
    it, and optionally why it is accepted. An empty key path accepts the value anywhere in the file."""

    fingerprint: str
    path: str
    key_path: str
    rule: str
    reason: str = ""

    @property
    def identity(self) -> tuple[str, str, str]:
        return self.fingerprint, self.path, self.key_path

    def sort_key(self) -> tuple[str, str, str, str, str]:
        return self.path, self.key_path, self.fingerprint, self.rule, self.reason

    def matches(self, fingerprint: str, path: str, key_path: str) -> bool:
        return (fingerprint == self.fingerprint and path == self.path
                and (not self.key_path or key_path == self.key_path))

    def with_reason(self, reason: str) -> BaselineEntry:
        return dataclasses.replace(self, reason=reason)

    def to_dict(self) -> dict[str, str]:
        data = {"fingerprint": self.fingerprint, "path": self.path, "key_path": self.key_path, "rule": self.rule}
        if self.reason:
            data["reason"] = self.reason
        return data


def _normalise(entries: Iterable[BaselineEntry]) -> tuple[BaselineEntry, ...]:
    """One entry per (fingerprint, path, key path), preferring one with a reason; sorted by path."""
    def preference(entry: BaselineEntry) -> tuple[bool, tuple[str, ...]]:
        return not entry.reason, entry.sort_key()

    chosen: dict[tuple[str, str, str], BaselineEntry] = {}
    for entry in entries:
        other = chosen.get(entry.identity)
        if other is None or preference(entry) < preference(other):
            chosen[entry.identity] = entry
    return tuple(sorted(chosen.values(), key=BaselineEntry.sort_key))


@dataclass(frozen=True, slots=True)
class Baseline:
    """An immutable set of accepted entries and the id of the fingerprint key that made them
    ("" when unknown: a version 1 file)."""

    entries: tuple[BaselineEntry, ...] = ()
    key_id: str = ""
    _index: dict[tuple[str, str], frozenset[str]] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        entries = _normalise(self.entries)
        index: dict[tuple[str, str], set[str]] = {}
        for entry in entries:
            index.setdefault((entry.fingerprint, entry.path), set()).add(entry.key_path)
        object.__setattr__(self, "entries", entries)
        object.__setattr__(self, "_index", {place: frozenset(keys) for place, keys in index.items()})

    @classmethod
    def from_findings(cls, findings: Iterable[Finding], key_id: str = "") -> Baseline:
        return cls(tuple(entries_from_findings(findings)), key_id)

    def accepts(self, fingerprint: str, path: str, key_path: str) -> bool:
        """True when an entry has this fingerprint and path, and the same key path or none."""
        key_paths = self._index.get((fingerprint, path))
        return key_paths is not None and ("" in key_paths or key_path in key_paths)

    def accepts_finding(self, finding: Finding) -> bool:
        return self.accepts(finding.fingerprint, finding.path, finding.key_path)

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(fingerprint for fingerprint, _ in self._index)

    def replace(self, entries: Iterable[BaselineEntry]) -> Baseline:
        return Baseline(tuple(entries), self.key_id)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[BaselineEntry]:
        return iter(self.entries)


EMPTY = Baseline()


def entries_from_findings(findings: Iterable[Finding]) -> list[BaselineEntry]:
    return list(_normalise(BaselineEntry(f.fingerprint, f.path, f.key_path, f.rule) for f in findings))


# -- maintenance: update and audit ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Update:
    """What ``update`` did: the new baseline, and which entries were added, kept and removed.

    ``stale`` entries matched nothing in the scan: they are ``removed`` unless kept on request;
    entries in files the scan could not read are kept as ``unverified``, never removed.
    """

    baseline: Baseline
    added: tuple[BaselineEntry, ...]
    kept: tuple[BaselineEntry, ...]
    stale: tuple[BaselineEntry, ...]
    removed: tuple[BaselineEntry, ...]
    unverified: tuple[BaselineEntry, ...]


def update(current: Baseline, findings: Iterable[Finding], key_id: str, keep_stale: bool = False,
           unscanned: Collection[str] = ()) -> Update:
    """Re-baseline on a fresh scan's ``findings`` (made without a baseline): keep the entries that
    still match a finding (with their reasons), add the findings no entry accepts, drop the rest.
    ``unscanned``: paths the scan could not read, whose entries are kept unverified."""
    findings = list(findings)
    items = audit(current, findings, unscanned)
    kept = tuple(item.entry for item in items if item.status == PRESENT)
    stale = tuple(item.entry for item in items if item.status == STALE)
    unverified = tuple(item.entry for item in items if item.status == UNSCANNED)
    added = Baseline.from_findings(f for f in findings if not current.accepts_finding(f)).entries
    retained = kept + unverified + (stale if keep_stale else ())
    baseline = Baseline(retained + added, key_id or current.key_id)
    return Update(baseline, added, kept, stale, () if keep_stale else stale, unverified)


PRESENT, STALE, UNSCANNED = "present", "stale", "unscanned"


@dataclass(frozen=True, slots=True)
class AuditItem:
    """One entry and what the scan says about it: ``present`` (with the findings it accepts),
    ``stale`` (nothing matches it any more) or ``unscanned`` (its file could not be read)."""

    entry: BaselineEntry
    status: str
    findings: tuple[Finding, ...] = ()


def audit(baseline: Baseline, findings: Iterable[Finding], unscanned: Collection[str] = ()) -> list[AuditItem]:
    by_place: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        by_place.setdefault((f.fingerprint, f.path), []).append(f)
    items = []
    for entry in baseline:
        matched = tuple(f for f in by_place.get((entry.fingerprint, entry.path), ())
                        if entry.matches(f.fingerprint, f.path, f.key_path))
        status = PRESENT if matched else UNSCANNED if entry.path in unscanned else STALE
        items.append(AuditItem(entry, status, matched))
    return items


def check_reason(reason: str) -> str:
    """A reason is one short line of text (it is shown in tables and diffs)."""
    reason = reason.strip()
    if not reason:
        raise BaselineError("a reason cannot be empty")
    if len(reason) > MAX_REASON or not reason.isprintable():
        raise BaselineError(f"a reason is one printable line of at most {MAX_REASON} characters")
    return reason


# -- the file ------------------------------------------------------------------------------------------


def _not_ours(path: str | os.PathLike[str], data: object) -> str:
    if isinstance(data, dict) and isinstance(data.get("results"), dict):
        return (f"{path}: this is a detect-secrets baseline; convert it with "
                f"`vaultshift baseline import --from detect-secrets {path}`")
    if isinstance(data, list) and data and isinstance(data[0], dict) and "RuleID" in data[0]:
        return f"{path}: this is a gitleaks report; convert it with `vaultshift baseline import --from gitleaks {path}`"
    return f"{path}: not a vaultshift baseline (no 'entries' list)"


def _entry(path: str | os.PathLike[str], number: int, item: object) -> BaselineEntry:
    if not isinstance(item, dict):
        raise BaselineError(f"{path}: entry {number} is not an object")
    fingerprint = item.get("fingerprint")
    if not isinstance(fingerprint, str) or not _FINGERPRINT.fullmatch(fingerprint):
        raise BaselineError(f"{path}: entry {number} has no fingerprint of the form {PREFIX}<32 hex digits>")
    fields = {name: item.get(name, "") for name in ("path", "key_path", "rule", "reason")}
    for name, value in fields.items():
        if not isinstance(value, str):
            raise BaselineError(f"{path}: entry {number}: '{name}' must be a string")
    if not fields["path"]:
        raise BaselineError(f"{path}: entry {number} has no path")
    return BaselineEntry(fingerprint, fields["path"], fields["key_path"], fields["rule"], fields["reason"])


def load(path: str | os.PathLike[str], key_id: str | None = None) -> Baseline:
    """Read a baseline; with ``key_id`` (the current Fingerprinter's), refuse one made with another key."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read baseline: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BaselineError(f"{path}: baseline is not UTF-8 text") from None
    return loads(text, path, key_id)


def loads(text: str, path: str | os.PathLike[str], key_id: str | None = None) -> Baseline:
    """Parse a baseline's text; ``path`` names it in errors (a file, or ``REV:PATH`` in git)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}: baseline is not valid JSON (line {exc.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise BaselineError(_not_ours(path, data))
    version = data.get("version", 1)
    if version not in _READABLE_VERSIONS or isinstance(version, bool):
        raise BaselineError(f"{path}: baseline format version {version} is not supported")
    stored_id = data.get("fingerprint_key_id", "")
    if not isinstance(stored_id, str) or (stored_id and not _KEY_ID.fullmatch(stored_id)):
        raise BaselineError(f"{path}: 'fingerprint_key_id' must be 16 hex digits")
    if key_id and stored_id and stored_id != key_id:
        raise BaselineError(
            f"{path}: baseline was made with another fingerprint key (key id {stored_id}, yours is {key_id}); "
            f"use the team's key ({ENV_KEY} or --fingerprint-key-file) or recreate the baseline")
    return Baseline(tuple(_entry(path, n, item) for n, item in enumerate(data["entries"], 1)), stored_id)


def dumps(baseline: Baseline) -> str:
    body: dict[str, object] = {"version": FORMAT_VERSION, "entries": [e.to_dict() for e in baseline]}
    if baseline.key_id:
        body["fingerprint_key_id"] = baseline.key_id
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def save(path: str | os.PathLike[str], baseline: Baseline | Iterable[BaselineEntry], key_id: str | None = None) -> bool:
    """Write atomically (a temporary file beside the target, fsync, rename); ``key_id`` overrides
    the baseline's. Returns False, touching nothing, when the file already holds exactly this."""
    if not isinstance(baseline, Baseline):
        baseline = Baseline(tuple(baseline), key_id or "")
    elif key_id is not None:
        baseline = Baseline(baseline.entries, key_id)
    target = Path(path)
    body = dumps(baseline).encode("utf-8")
    try:
        if target.exists() and not target.is_file():  # /dev/stdout, a FIFO: a rename would replace it
            with open(target, "wb") as stream:
                stream.write(body)
            return True
        if target.is_symlink():
            target = target.resolve()  # keep the link, replace what it names
        if target.read_bytes() == body:
            return False
    except OSError as exc:
        if target.exists() and not target.is_file():
            raise BaselineError(f"{path}: cannot write baseline: {exc.strerror or exc}") from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise BaselineError(f"{path}: cannot write baseline: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise BaselineError(f"{path}: cannot write baseline: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
