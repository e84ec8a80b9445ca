"""``vaultshift rollback``: put every file an apply run rewrote back as it was, rendered from the vault.

No plaintext copy of a file is ever kept: the journal holds, for each edited region, the
original's non-secret bytes and references to the secrets that filled it; rollback reads those
secrets from their backends, rebuilds the original bytes, checks them against the original's
keyed digest, writes them atomically and removes the companions the run generated. With
``concurrency`` above 1, every vault path the run's files refer to is read once, by that many
threads, before the first file is restored (the values stay in memory until the end); the
journal's records of restored files are committed in batches (a crash before a commit leaves
files that a re-run finds original already).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.apply.checkpoints import checkpoint
from migrator.apply.executor import FILE_BATCH, ApplyProblem, ThreadBackends, remove_stale_temporaries
from migrator.backends.base import Backend, BackendError
from migrator.fingerprint import Fingerprinter
from migrator.plan.digest import FileDigester
from migrator.plan.models import SecretRef
from migrator.rewrite.atomic import read_exact, write_atomic
from migrator.state.journal import FileRecord, Journal, JournalError

_LIVE = ("rewriting", "rewritten", "verified")  # file states a rollback restores


@dataclass(slots=True)
class RollbackResult:
    run_id: str
    of_run: str
    files_restored: int = 0
    files_already_original: int = 0
    problems: list[ApplyProblem] = field(default_factory=list)
    seconds: float = 0.0


def rollback(journal: Journal, backends: Mapping[str, Backend], fingerprint: Fingerprinter, digest: FileDigester,
             run_id: str | None = None, concurrency: int = 1) -> RollbackResult:
    """Restore the files of apply run ``run_id``; when None, of the last apply run that rewrote
    files still in place (a re-run that found everything done rewrote none)."""
    started = time.perf_counter()
    if run_id is None:
        applied = [r.id for r in journal.runs("apply")]
        if not applied:
            raise JournalError(f"{journal.path}: no apply run to roll back")
        live = [run for run in applied if any(f.state in _LIVE for f in journal.files(run))]
        run_id = live[-1] if live else applied[-1]  # nothing live: a no-op (a finished rollback re-run)
    elif run_id not in {r.id for r in journal.runs("apply")}:
        raise JournalError(f"{journal.path}: no apply run {run_id!r}")
    own = journal.start_run("rollback", run_id)
    result = RollbackResult(own, run_id)
    known: dict[str, str] = {}
    try:
        records = journal.files(run_id)
        remove_stale_temporaries({os.path.dirname(r.path) for r in records})
        restorable = [record for record in records if record.state in _LIVE]
        known = _prefetch(restorable, backends, concurrency)
        for start in range(0, len(restorable), FILE_BATCH):
            with journal.transaction():
                for record in restorable[start:start + FILE_BATCH]:
                    _restore(record, journal, backends, fingerprint, digest, result, known)
            checkpoint()
    finally:
        known.clear()
        result.seconds = time.perf_counter() - started
        journal.finish_run(own, "done" if not result.problems else "failed")
    return result


def _prefetch(records: Sequence[FileRecord], backends: Mapping[str, Backend], concurrency: int) -> dict[str, str]:
    """fingerprint -> value of every secret the records' edits name, each path read once by
    ``concurrency`` threads; nothing with one thread (each file then reads its own, as it always
    did). A path that cannot be read is left out: the file that needs it reads it again and says why."""
    wanted: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (backend, path) -> [(fingerprint, field)]
    for record in records:
        for _, _, pieces in record.edits:
            for piece in pieces:
                if "ref" in piece:
                    ref = SecretRef.from_dict(piece["ref"])
                    if ref.backend in backends:
                        wanted.setdefault((ref.backend, ref.path), []).append((piece["fingerprint"], ref.field))
    workers = ThreadBackends.workers(backends, min(concurrency, len(wanted)))
    if workers <= 1:
        return {}
    mine = ThreadBackends(backends)

    def read(place: tuple[str, str]) -> list[tuple[str, str]]:
        try:
            stored = mine.get()[place[0]].read_secret(place[1])
        except BackendError:
            return []
        fields = stored.fields if stored is not None else {}
        return [(fp, fields[name]) for fp, name in wanted[place] if name in fields]

    known: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vaultshift-read") as pool:
        for found in pool.map(read, list(wanted)):
            known.update(found)
    return known


def _restore(record: FileRecord, journal: Journal, backends: Mapping[str, Backend], fingerprint: Fingerprinter,
             digest: FileDigester, result: RollbackResult, known: Mapping[str, str]) -> None:
    path = record.path
    try:
        data = read_exact(path)
    except OSError as exc:
        result.problems.append(ApplyProblem(path, f"cannot read: {exc.strerror or exc}"))
        return
    if digest.matches(data, record.original_digest):  # a crash left it original
        for companion in record.companions:
            Path(companion).unlink(missing_ok=True)
        journal.set_file_state(record.run_id, path, "rolled_back")
        result.files_already_original += 1
        return
    if not digest.matches(data, record.rewritten_digest):
        result.problems.append(ApplyProblem(path, "changed since the apply run; not rolled back"))
        return
    try:
        original = rebuild_original(data, list(record.edits), backends, fingerprint, digest, record.original_digest,
                                    known=known)
    except (BackendError, ValueError) as exc:
        result.problems.append(ApplyProblem(path, f"not rolled back: {exc}"))
        return
    if original is None:
        result.problems.append(ApplyProblem(path, "the vault's values do not rebuild the original file; "
                                                  "not rolled back"))
        return
    checkpoint()
    try:
        write_atomic(path, original)
    except OSError as exc:
        result.problems.append(ApplyProblem(path, f"cannot write: {exc.strerror or exc}"))
        return
    finally:
        del original
    checkpoint()
    for companion in record.companions:
        Path(companion).unlink(missing_ok=True)
    journal.set_file_state(record.run_id, path, "rolled_back")
    checkpoint()
    result.files_restored += 1


def rebuild_original(data: bytes, edits: Sequence[Any], backends: Mapping[str, Backend], fingerprint: Fingerprinter,
                     digest: FileDigester, original_digest: str,
                     known: Mapping[str, str] | None = None) -> bytes | None:
    """The original file rebuilt from ``data`` (the rewritten file) and the values in the vault,
    or None when the result is not the original (checked by its keyed digest). ``known`` holds
    values (by fingerprint) the caller has just read from their backends: those are not read again."""
    values = _values(edits, backends, fingerprint, known or {})
    try:
        for encoding in ("utf-8", "latin-1"):
            candidate = _rebuild(data, edits, values, encoding)
            if candidate is not None and digest.matches(candidate, original_digest):
                return candidate
        return None
    finally:
        values.clear()


def _values(edits: Sequence[Any], backends: Mapping[str, Backend], fingerprint: Fingerprinter,
            known: Mapping[str, str]) -> dict[str, str]:
    """The value of every secret the edits name, read from its backend (unless ``known``) and
    checked against its fingerprint (so a secret rotated since is never written back as if it
    were the original)."""
    values: dict[str, str] = {}
    for _, _, pieces in edits:
        for piece in pieces:
            if "ref" not in piece or piece["fingerprint"] in values:
                continue
            ref = SecretRef.from_dict(piece["ref"])
            backend = backends.get(ref.backend)
            if backend is None:
                raise ValueError(f"backend {ref.backend!r} is not configured")
            value = known.get(piece["fingerprint"])
            if value is None:
                value = backend.read(ref)
            if value is None:
                raise ValueError(f"{ref} is no longer in {ref.backend}")
            if fingerprint(value) != piece["fingerprint"]:
                raise ValueError(f"{ref} holds another value now (rotated?)")
            values[piece["fingerprint"]] = value
    return values


def _rebuild(data: bytes, edits: Sequence[Any], values: Mapping[str, str], encoding: str) -> bytes | None:
    out = bytearray()
    cursor = 0
    try:
        for new_start, new_end, pieces in edits:
            out += data[cursor:new_start]
            for piece in pieces:
                if "text" in piece:
                    out += piece["text"].encode("latin-1")
                else:
                    out += values[piece["fingerprint"]].encode(encoding)
            cursor = new_end
    except UnicodeEncodeError:
        return None
    out += data[cursor:]
    return bytes(out)
