"""What a plan holds: secrets (one per distinct value), where each is stored, and its occurrences.

These are the contract between the planner (``migrator.plan``), the backends
(``migrator.backends``), the rewriters (``migrator.rewrite``) and the journal
(``migrator.state``). Nothing here ever holds a secret's value: a secret is known by its
fingerprint, an occurrence by its file and byte span.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

PLAN_FORMAT = 1


class ReferenceStyle(StrEnum):
    """What an occurrence becomes once its value is in the vault."""

    ANSIBLE_LOOKUP = "ansible-lookup"  # {{ lookup('vaultshift.secrets.secret', 'apps/web/db#password') }}
    AGENT_TEMPLATE = "agent-template"  # the file is rendered by a Vault/OpenBao agent (file mount)
    AGENT_ENV = "agent-env"  # .env: agent env_template + exec gives the process its variables
    TERRAFORM = "terraform"  # *.tf / *.tfvars: the vaultshift provider's vaultshift_secret, a module at a time


@dataclass(frozen=True, slots=True, order=True)
class SecretRef:
    """Where a secret lives in a backend: ``backend`` names a configured backend; ``path`` is the
    secret's path below the backend's mount and prefix (Vault) or its name (AWS); ``field`` is the
    key inside it (a KV v2 data key, a JSON key of the AWS SecretString)."""

    backend: str
    path: str
    field: str

    def __str__(self) -> str:
        return f"{self.path}#{self.field}"

    def to_dict(self) -> dict[str, str]:
        return {"backend": self.backend, "path": self.path, "field": self.field}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SecretRef:
        return cls(str(data["backend"]), str(data["path"]), str(data["field"]))


@dataclass(frozen=True, slots=True, order=True)
class Occurrence:
    """One place that holds a secret's value: a file, the value's exact byte span, and the
    reference style it will be rewritten to. ``file_digest`` is a keyed HMAC of the whole file as
    planned, so apply refuses a file that changed since (never a plain hash: a file is small
    enough to guess)."""

    path: str  # posix, relative to ``root`` (a host's directory: as on the host, below /)
    start_byte: int
    end_byte: int
    line: int
    key_path: str
    reader: str
    style: ReferenceStyle
    file_digest: str
    host: str = ""  # the inventory host it was found on ("" for local paths)
    # The absolute directory ``path`` is relative to (a scanned tree, or a host's directory in it);
    # "" when ``path`` stands alone (relative to the working directory, or absolute).
    root: str = ""

    @property
    def file(self) -> str:
        """The file to open: ``root`` joined with ``path``."""
        return os.path.join(self.root, self.path) if self.root else self.path

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "start_byte": self.start_byte, "end_byte": self.end_byte, "line": self.line,
                "key_path": self.key_path, "reader": self.reader, "style": str(self.style),
                "file_digest": self.file_digest, "host": self.host, "root": self.root}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Occurrence:
        return cls(str(data["path"]), int(data["start_byte"]), int(data["end_byte"]), int(data["line"]),
                   str(data["key_path"]), str(data["reader"]), ReferenceStyle(data["style"]),
                   str(data["file_digest"]), str(data.get("host", "")), str(data.get("root", "")))


@dataclass(frozen=True, slots=True)
class PlannedSecret:
    """One distinct value (one fingerprint), its vault location and every place that holds it."""

    fingerprint: str
    kind: str
    ref: SecretRef
    occurrences: tuple[Occurrence, ...]
    hint: str = ""  # the redacted hint, for the reviewer

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "kind": self.kind, "hint": self.hint, "ref": self.ref.to_dict(),
                "occurrences": [o.to_dict() for o in self.occurrences]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlannedSecret:
        return cls(str(data["fingerprint"]), str(data["kind"]), SecretRef.from_dict(data["ref"]),
                   tuple(Occurrence.from_dict(o) for o in data["occurrences"]), str(data.get("hint", "")))


@dataclass(frozen=True, slots=True)
class Plan:
    """What apply will do. ``roots`` are the scanned paths occurrences are relative to (each
    occurrence names its own directory in ``Occurrence.root``); ``fingerprint_key_id`` ties the
    plan to the key its fingerprints were made with. ``errors`` are the scan's one-line errors and
    notes (``path``, ``reason``, ``severity``); ``notes`` say what the planner decided that a
    reviewer should know (a vault path renamed to stay unique, a routing conflict)."""

    secrets: tuple[PlannedSecret, ...]
    roots: tuple[str, ...]
    fingerprint_key_id: str
    naming: str
    errors: tuple[dict[str, str], ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"version": PLAN_FORMAT, "fingerprint_key_id": self.fingerprint_key_id, "naming": self.naming,
                "roots": list(self.roots), "secrets": [s.to_dict() for s in self.secrets],
                "errors": list(self.errors), "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(tuple(PlannedSecret.from_dict(s) for s in data["secrets"]), tuple(data.get("roots", ())),
                   str(data.get("fingerprint_key_id", "")), str(data.get("naming", "")),
                   tuple(data.get("errors", ())), tuple(str(n) for n in data.get("notes", ())))
