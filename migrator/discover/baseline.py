"""Baselines: the fingerprints a team has reviewed and accepted.

Entries are keyed on the secret's fingerprint and its logical location (file and key path),
never on line numbers, so edits elsewhere in a file do not churn the baseline. The file is
sorted, stable JSON that merges cleanly, and holds no plaintext.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from migrator.discover.models import Finding

FORMAT_VERSION = 1


class BaselineError(ValueError):
    pass


@dataclass(frozen=True, order=True, slots=True)
class BaselineEntry:
    fingerprint: str
    path: str
    key_path: str
    rule: str

    def to_dict(self) -> dict[str, str]:
        return {"fingerprint": self.fingerprint, "path": self.path, "key_path": self.key_path, "rule": self.rule}


def entries_from_findings(findings: Iterable[Finding]) -> list[BaselineEntry]:
    return sorted({BaselineEntry(f.fingerprint, f.path, f.key_path, f.rule) for f in findings})


def load(path: str | os.PathLike[str]) -> list[BaselineEntry]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read baseline: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}: baseline is not valid JSON (line {exc.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise BaselineError(f"{path}: not a vaultshift baseline (no 'entries' list)")
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise BaselineError(f"{path}: baseline format version {version} is not supported")
    entries = []
    for number, item in enumerate(data["entries"], 1):
        if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
            raise BaselineError(f"{path}: entry {number} has no fingerprint")
        entries.append(BaselineEntry(item["fingerprint"], str(item.get("path", "")),
                                     str(item.get("key_path", "")), str(item.get("rule", ""))))
    return entries


def fingerprints(entries: Iterable[BaselineEntry]) -> frozenset[str]:
    return frozenset(entry.fingerprint for entry in entries)


def save(path: str | os.PathLike[str], entries: Iterable[BaselineEntry]) -> None:
    """Write atomically: a temporary file beside the target, fsync, rename."""
    target = Path(path)
    body = json.dumps({"version": FORMAT_VERSION, "entries": [e.to_dict() for e in sorted(set(entries))]},
                      indent=2, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
