"""``vaultshift rollback``: put every file an apply run rewrote back as it was, rendered from the vault.

No plaintext copy of a file is ever kept: the journal holds, for each edited region, the
original's non-secret bytes and references to the secrets that filled it; rollback reads those
secrets from their backends, rebuilds the original bytes, checks them against the original's
keyed digest, writes them atomically and removes the companions the run generated. With
``concurrency`` above 1, every vault path the run's files refer to is read once, by that many
threads, before the first file is restored (the values stay in memory until the end); the
journal's records of restored files are committed in batches (a crash before a commit leaves
files that a re-run finds original already).

Files are read and written through a :class:`~migrator.apply.files.FileAccess` (the local disk
by default), a batch at a time: the batch's files read, each checked and rebuilt in memory, then
written. ``check=True`` reads and rebuilds but writes, removes and journals nothing: the result
says what a rollback would restore. ``preview=True`` adds each file's text before and after, the
secrets shown as their redacted hints.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from migrator.apply.checkpoints import checkpoint
from migrator.apply.executor import FILE_BATCH, ApplyProblem, FilePreview, ThreadBackends
from migrator.apply.files import LOCAL_FILES, FileAccess, FileWrite
from migrator.backends.base import Backend, BackendError
from migrator.fingerprint import Fingerprinter, hint
from migrator.plan.digest import FileDigester
from migrator.plan.models import SecretRef
from migrator.state.journal import FileRecord, Journal, JournalError

_LIVE = ("rewriting", "rewritten", "verified")  # file states a rollback restores


@dataclass(slots=True)
class RollbackResult:
    """What a rollback did (with ``check``: what it would do; ``run_id`` is then empty);
    ``restored`` names the files."""

    run_id: str
    of_run: str
    files_restored: int = 0
    files_already_original: int = 0
    problems: list[ApplyProblem] = field(default_factory=list)
    seconds: float = 0.0
    check: bool = False
    restored: list[str] = field(default_factory=list)
    previews: list[FilePreview] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Options:
    journal: Journal
    backends: Mapping[str, Backend]
    fingerprint: Fingerprinter
    digest: FileDigester
    files: FileAccess
    check: bool
    preview: bool


def rollback(journal: Journal, backends: Mapping[str, Backend], fingerprint: Fingerprinter, digest: FileDigester,
             run_id: str | None = None, concurrency: int = 1, files: FileAccess = LOCAL_FILES, check: bool = False,
             preview: bool = False) -> RollbackResult:
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
    own = "" if check else journal.start_run("rollback", run_id)
    result = RollbackResult(own, run_id, check=check)
    options = _Options(journal, backends, fingerprint, digest, files, check, preview)
    known: dict[str, str] = {}
    try:
        records = journal.files(run_id)
        if not check:
            files.remove_stale_temporaries({os.path.dirname(r.path) for r in records})
        restorable = [record for record in records if record.state in _LIVE]
        known = _prefetch(restorable, backends, concurrency)
        for start in range(0, len(restorable), FILE_BATCH):
            _restore_batch(restorable[start:start + FILE_BATCH], options, result, known)
    finally:
        known.clear()
        result.seconds = time.perf_counter() - started
        if not check:
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


def _restore_batch(records: Sequence[FileRecord], options: _Options, result: RollbackResult,
                   known: Mapping[str, str]) -> None:
    """Read a batch's files, rebuild each original in memory, then write them (their companions
    removed after each), and record them restored in one commit."""
    contents = options.files.read([record.path for record in records])
    writes: list[tuple[FileRecord, FileWrite]] = []
    try:
        for record in records:
            write = _restoring(record, contents.pop(record.path), options, result, known)
            if write is not None:
                writes.append((record, write))
        if not writes:
            return
        errors = options.files.write([write for _, write in writes])
        with options.journal.transaction():
            for (record, write), error in zip(writes, errors, strict=True):
                if error is not None:
                    result.problems.append(ApplyProblem(record.path, f"cannot write: {error}"))
                    continue
                options.journal.set_file_state(record.run_id, record.path, "rolled_back")
                if write.data is None:
                    result.files_already_original += 1
                else:
                    result.files_restored += 1
                    result.restored.append(record.path)
    finally:
        contents.clear()
        writes.clear()  # the originals: in memory no longer than their batch
    checkpoint()


def _restoring(record: FileRecord, data: bytes | OSError, options: _Options, result: RollbackResult,
               known: Mapping[str, str]) -> FileWrite | None:
    """What restoring one file takes (its original bytes, the companions to remove), or None
    (a problem, or check mode: what would be done is counted)."""
    path = record.path
    if isinstance(data, OSError):
        result.problems.append(ApplyProblem(path, f"cannot read: {data.strerror or data}"))
        return None
    if options.digest.matches(data, record.original_digest):  # a crash left it original
        if options.check:
            result.files_already_original += 1
            return None
        return FileWrite(path, None, remove=tuple(record.companions))
    if not options.digest.matches(data, record.rewritten_digest):
        result.problems.append(ApplyProblem(path, "changed since the apply run; not rolled back"))
        return None
    hints: dict[str, str] = {}
    try:
        original = rebuild_original(data, list(record.edits), options.backends, options.fingerprint, options.digest,
                                    record.original_digest, known=known, hints=hints if options.preview else None)
    except (BackendError, ValueError) as exc:
        result.problems.append(ApplyProblem(path, f"not rolled back: {exc}"))
        return None
    if original is None:
        result.problems.append(ApplyProblem(path, "the vault's values do not rebuild the original file; "
                                                  "not rolled back"))
        return None
    if options.preview:
        shown = _rebuild(data, list(record.edits), hints, "utf-8")
        result.previews.append(FilePreview(path, data.decode("utf-8", errors="replace"),
                                           shown.decode("utf-8", errors="replace") if shown is not None else ""))
    if options.check:
        result.files_restored += 1
        result.restored.append(path)
        return None
    return FileWrite(path, original, remove=tuple(record.companions), expected=data)


def rebuild_original(data: bytes, edits: Sequence[Any], backends: Mapping[str, Backend], fingerprint: Fingerprinter,
                     digest: FileDigester, original_digest: str, known: Mapping[str, str] | None = None,
                     hints: dict[str, str] | None = None) -> bytes | None:
    """The original file rebuilt from ``data`` (the rewritten file) and the values in the vault,
    or None when the result is not the original (checked by its keyed digest). ``known`` holds
    values (by fingerprint) the caller has just read from their backends: those are not read again.
    ``hints``, when given, receives each value's redacted hint (by fingerprint), for display."""
    values = _values(edits, backends, fingerprint, known or {})
    if hints is not None:
        hints.update({fp: hint(value) for fp, value in values.items()})
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
