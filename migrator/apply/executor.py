"""``vaultshift apply``: carry out a plan, one verified step at a time.

Per secret: read its value from the planned spans (refusing files that changed since the plan),
write it to its backend, read it back and compare. Per file, once every secret it holds is
stored: rewrite the spans to runtime references, check the result still parses and holds no
finding there, write the generated companions (agent template, configuration, unit) and then the
file, atomically. The journal records an intent before each file is replaced and the outcome
after, so a crash at any point leaves each file either original or rewritten to references of
stored, verified secrets, and a re-run finishes the job (a file already rewritten is recognised
by its digest, a stored secret by the journal and a read-back).

Secrets are stored by a bounded pool of threads (``concurrency``), each with its own clone of
the backends; the secrets of one vault path go to one thread, one after another, so threads
never race on a path. Meanwhile the files are rewritten and checked in memory: by a forked child
process when they are this machine's files and there are many (its own interpreter lock, and the
second CPU, while the threads and the server share the first), else on the main thread. Once the
secrets are stored, the files are written in batches: ``concurrency`` agent renders at a time
when the render check is on, then the batch through the file access (the local one makes the
whole batch durable at once). The journal is written by the main thread only, in batched
commits: every secret's record is committed before any file is rewritten, and every file's
intent before the file (or a companion) is touched.

No value is ever logged, journalled or put in an error: values live in memory between the read
of the file and the write to the backend, and the values read back are kept until the end of the
run to check each rewritten file against them.

Files are read and written through a :class:`~migrator.apply.files.FileAccess` (the local disk
by default; a managed host's files for the Ansible collection). ``check=True`` does everything
that changes nothing: files read and checked, each secret looked up in its backend (read, never
written), each file rewritten and verified in memory; nothing is stored, written or journalled,
and the result says what a run would do. ``preview=True`` adds, for each file rewritten (or that
would be), its text before with every secret replaced by its redacted hint, and after.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from migrator.apply.checkpoints import checkpoint
from migrator.apply.files import LOCAL_FILES, FileAccess, FileWrite, LocalFiles
from migrator.backends.base import AuthError, Backend, BackendError, Sealed, Unavailable
from migrator.fingerprint import Fingerprinter
from migrator.plan.digest import FileDigester
from migrator.plan.models import Occurrence, Plan, PlannedSecret, ReferenceStyle, SecretRef
from migrator.rewrite import Replacement, RewriteContext, RewriteError, RewriteResult, rewrite
from migrator.rewrite.agent_env import env_templates
from migrator.rewrite.base import AgentOptions, KvMount
from migrator.rewrite.terraform import GENERATED_FILE, module_directory, rewrite_module
from migrator.rewrite.verify import VerifyError, verify_env, verify_parses, verify_render
from migrator.state.journal import Journal


@dataclass(frozen=True, slots=True)
class ApplyProblem:
    """One item that was not done, and why (one line, never a value)."""

    item: str
    reason: str

    def __str__(self) -> str:
        return f"{self.item}: {self.reason}"


@dataclass(frozen=True, slots=True)
class FilePreview:
    """A file's text before and after (decoded for display): never a value, secrets show as
    their redacted hints."""

    path: str
    before: str
    after: str


@dataclass(slots=True)
class ApplyResult:
    """What a run did (with ``check``: what it would do; ``run_id`` is then empty). ``stored``
    names the secrets written (``path#field``), ``rewritten`` the files."""

    run_id: str
    secrets_stored: int = 0
    secrets_already_stored: int = 0
    files_rewritten: int = 0
    files_already_done: int = 0
    problems: list[ApplyProblem] = field(default_factory=list)
    seconds: float = 0.0
    check: bool = False
    stored: list[str] = field(default_factory=list)
    rewritten: list[str] = field(default_factory=list)
    previews: list[FilePreview] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(slots=True)
class _File:
    """A planned file as found now: its bytes, and whether it is as planned or already done."""

    path: str
    data: bytes = b""
    state: str = "original"  # original | done | changed | unreadable
    occurrences: list[tuple[PlannedSecret, Occurrence]] = field(default_factory=list)


@dataclass(slots=True)
class _Stored:
    """What storing one secret gave: whether it was written, the value verified in the backend
    (None when it failed), and the failure."""

    secret: PlannedSecret
    wrote: bool = False
    value: str | None = None
    error: str = ""


@dataclass(slots=True)
class _Rewrite:
    """A planned file rewritten in memory (or why it cannot be), before its secrets are stored."""

    planned: _File
    style: ReferenceStyle | None = None
    ordered: list[tuple[PlannedSecret, Occurrence]] = field(default_factory=list)
    replacements: list[Replacement] = field(default_factory=list)
    context: RewriteContext | None = None
    rewritten: RewriteResult | None = None
    error: str = ""
    module: str = ""  # a Terraform module's directory: its files are written together or not at all
    needs: list[PlannedSecret] = field(default_factory=list)  # secrets the new file reads besides its own
    created: bool = False  # the file is new: the journal lists it as its own companion, so rollback removes it


@dataclass(slots=True)
class _Prepared:
    """A file rewritten in memory and verified, waiting to be written."""

    planned: _File
    rewritten: RewriteResult
    original_digest: str
    new_digest: str
    edits: list[Any]
    companions: list[str]
    render_check: Callable[[], None] | None = None  # a real agent's rendering, checked before the write
    preview: FilePreview | None = None


class ThreadBackends:
    """Each thread's own clones of ``backends`` (a backend is not thread-safe), made on first use."""

    def __init__(self, backends: Mapping[str, Backend]) -> None:
        self.backends = backends
        self._local = threading.local()

    @staticmethod
    def workers(backends: Mapping[str, Backend], wanted: int) -> int:
        """``wanted`` threads when every backend can be cloned for them, else 1."""
        if wanted > 1:
            try:
                for backend in backends.values():
                    backend.clone()
            except NotImplementedError:
                return 1
        return max(1, wanted)

    def get(self) -> Mapping[str, Backend]:
        mine: dict[str, Backend] | None = getattr(self._local, "backends", None)
        if mine is None:
            mine = self._local.backends = {name: backend.clone() for name, backend in self.backends.items()}
        return mine


SECRET_BATCH = 200  # secret records per journal commit
FILE_BATCH = 50  # file intents (then outcomes) per journal commit
FORK_MIN_FILES = 50  # fewer files are rewritten in this process: a child is not worth its start


def plan_digest(plan: Plan) -> str:
    body = json.dumps(plan.to_dict(), sort_keys=True).encode()
    return "sha256:" + hashlib.sha256(body).hexdigest()


class Executor:
    """Applies ``plan`` with ``backends`` (by name), recording every step in ``journal``."""

    def __init__(self, plan: Plan, backends: Mapping[str, Backend], journal: Journal, fingerprint: Fingerprinter,
                 digest: FileDigester, mounts: Mapping[str, KvMount], agent: AgentOptions | None = None,
                 default_backend: str = "vault", host_root: str = "/",
                 render_check: tuple[str, str] | None = None, concurrency: int = 1,
                 files: FileAccess = LOCAL_FILES, check: bool = False, preview: bool = False) -> None:
        self.plan = plan
        self.backends = backends
        self.journal = journal
        self.fingerprint = fingerprint
        self.digest = digest
        self.mounts = mounts
        self.agent = agent or AgentOptions()
        self.default_backend = default_backend
        self.host_root = host_root  # where companions' absolute paths are written (a host tree in tests)
        # (address, token): render agent templates with a real agent (never in check mode: the
        # secrets are not in the vault for it to read)
        self.render_check = None if check else render_check
        self.concurrency = max(1, concurrency)  # secrets stored at a time (threads, each with its own backends)
        self.files = files  # where the planned files are read and written
        self.check = check  # change nothing: no store, no write, no journal record
        self.preview = preview  # each rewritten file's text before (redacted) and after, in the result
        # A store-wide failure (unreachable, sealed, rejected token) marks its backend down: its
        # other secrets are not tried again, each one waiting out the retries.
        self._down: dict[str, str] = {}
        self._down_lock = threading.Lock()
        self._verified: dict[str, str] = {}  # fingerprint -> value read back from its backend in this run

    # -- the run ------------------------------------------------------------------------------
    def apply(self) -> ApplyResult:
        started = time.perf_counter()
        run = ""
        if not self.check:
            run = self.journal.start_run("apply", plan_digest(self.plan))
            checkpoint()
        result = ApplyResult(run, check=self.check)
        try:
            if not self.check:
                self.files.remove_stale_temporaries({os.path.dirname(os.path.abspath(f))
                                                     for f in self._planned_paths()})
            files = self._load_files(result)
            # Rewriting the files in memory needs no stored secret: it is done while the secrets
            # are being stored (by a child process, when this machine's files are the ones
            # migrated), and each file is written once its secrets are stored.
            originals = [f for f in files.values() if f.state == "original" and not _is_terraform(f)]
            terraform = [f for f in files.values() if f.state == "original" and _is_terraform(f)]
            rewrites: list[_Rewrite] = []
            elsewhere = self._rewrite_elsewhere(originals)

            def rewrite_files() -> None:
                done = elsewhere() if elsewhere is not None else None
                rewrites.extend(done if done is not None else map(self._rewrite_file, originals))
                rewrites.extend(self._rewrite_terraform(terraform))

            stored = self._store_secrets(files, result, meanwhile=rewrite_files)
            batch: list[_Prepared] = []
            modules: dict[str, list[_Rewrite]] = {}
            for rewrite_ in rewrites:
                if rewrite_.module:
                    modules.setdefault(rewrite_.module, []).append(rewrite_)
                    continue
                prepared = self._prepare_file(rewrite_, stored, result)
                if prepared is not None:
                    batch.append(prepared)
                if len(batch) >= FILE_BATCH:
                    self._write_files(run, batch, result)
                    batch = []
            for members in modules.values():
                together = self._prepare_module(members, stored, result)
                if batch and len(batch) + len(together) > FILE_BATCH:
                    self._write_files(run, batch, result)
                    batch = []
                batch.extend(together)
            result.files_already_done += sum(f.state == "done" for f in files.values())
            self._write_files(run, batch, result)
            if self.check:
                return result
            with self.journal.transaction():
                for secret in self.plan.secrets:
                    if secret.fingerprint in stored and all(
                            files[o.file].state in ("done", "rewritten") for o in secret.occurrences):
                        self.journal.record_secret(run, secret.fingerprint, secret.ref.backend, secret.ref.path,
                                                   secret.ref.field, "referenced")
        finally:
            self._verified.clear()
            result.seconds = time.perf_counter() - started
            if not self.check:
                self.journal.finish_run(run, "done" if result.ok else "failed")
        return result

    def _planned_paths(self) -> set[str]:
        return {o.file for s in self.plan.secrets for o in s.occurrences}

    def _render_check(self, original: bytes, style: ReferenceStyle, rewritten: RewriteResult,
                      replacements: list[Replacement], context: RewriteContext) -> None:
        """A real agent renders what the runtime will: an agent template (a .env rendered as a
        file too) must give back the original bytes; env_template + exec must give each
        variable its original value."""
        assert self.render_check is not None
        address, token = self.render_check
        template = next((data for path, data in rewritten.companions.items() if str(path).endswith(".ctmpl")), None)
        if template is not None:
            verify_render(original, template, address=address, token=token)
        elif style is ReferenceStyle.AGENT_ENV:
            verify_env(context.path, original, env_templates(original, replacements, context),
                       address=address, token=token)

    def _rebuilds(self, new: bytes, edits: list[Any], original_digest: str) -> bool:
        from migrator.apply.rollback import rebuild_original

        # The values are those this run read back from their backends after storing them (or
        # found there already); a secret this run did not store is read from its backend.
        return rebuild_original(new, edits, self.backends, self.fingerprint, self.digest, original_digest,
                                known=self._verified) is not None

    # -- 1. what the files hold now -------------------------------------------------------------
    def _load_files(self, result: ApplyResult) -> dict[str, _File]:
        files: dict[str, _File] = {}
        for secret in self.plan.secrets:
            for occurrence in secret.occurrences:
                files.setdefault(occurrence.file, _File(occurrence.file)).occurrences.append((secret, occurrence))
        contents = self.files.read(list(files))
        with self.journal.transaction():
            for planned in files.values():
                self._load_file(planned, contents.pop(planned.path), result)
        return files

    def _load_file(self, planned: _File, content: bytes | OSError, result: ApplyResult) -> None:
        """Say what one planned file is now: as planned, already done, changed, unreadable."""
        expected = planned.occurrences[0][1].file_digest
        if isinstance(content, OSError):
            planned.state = "unreadable"
            result.problems.append(ApplyProblem(planned.path, f"cannot read: {content.strerror or content}"))
            return
        planned.data = content
        if self.digest.matches(planned.data, expected):
            return
        current = self.digest(planned.data)
        record = self.journal.file_by_digest(planned.path, current)
        if record is not None and record.original_digest == expected:
            # Rewritten by an earlier run of this plan (perhaps one that was killed): this run
            # takes it over, so that rolling back the last run puts back every file of the plan.
            planned.state = "done"
            if record.run_id != result.run_id and not self.check:
                self.journal.record_file(result.run_id, planned.path, record.original_digest,
                                         record.rewritten_digest, list(record.edits), list(record.companions),
                                         "rewritten")
                self.journal.set_file_state(record.run_id, planned.path, "superseded")
        else:
            planned.state = "changed"
            result.problems.append(ApplyProblem(planned.path, "changed since the plan was made; "
                                                              "make the plan again"))

    # -- 2. store and read back ----------------------------------------------------------------
    def _store_secrets(self, files: Mapping[str, _File], result: ApplyResult,
                       meanwhile: Callable[[], None] = lambda: None) -> set[str]:
        """Fingerprints of the secrets that are in their backend, verified by a read-back.
        ``meanwhile`` runs on this thread once the stores are under way (after them, when they
        are stored one after another on this thread)."""
        stored: set[str] = set()
        run = result.run_id
        by_path: dict[tuple[str, str], list[tuple[PlannedSecret, str]]] = {}
        for secret in self.plan.secrets:
            value = self._value_of(secret, files, result)
            ref = secret.ref
            if value is None:
                if any(files[o.file].state == "done" for o in secret.occurrences) and \
                        self.journal.stored_secret(secret.fingerprint, ref.backend, ref.path, ref.field):
                    stored.add(secret.fingerprint)
                    result.secrets_already_stored += 1
                continue
            if ref.backend not in self.backends:
                result.problems.append(ApplyProblem(str(ref), f"backend {ref.backend!r} is not configured"))
                continue
            by_path.setdefault((ref.backend, ref.path), []).append((secret, value))
        known = self.journal.known_paths()
        jobs = [(items, place not in known) for place, items in by_path.items()]
        by_path.clear()
        pending: list[_Stored] = []
        for outcomes in self._run_jobs(jobs, meanwhile):
            pending.extend(outcomes)
            if len(pending) >= SECRET_BATCH:
                self._record_stored(run, pending, stored, result)
                pending = []
        self._record_stored(run, pending, stored, result)
        return stored

    def _record_stored(self, run: str, outcomes: Sequence[_Stored], stored: set[str], result: ApplyResult) -> None:
        """Journal what storing these secrets gave, in one commit."""
        if not outcomes:
            return
        if self.check:
            for outcome in outcomes:
                self._count_stored(outcome, stored, result)
            return
        with self.journal.transaction():
            for outcome in outcomes:
                secret, ref = outcome.secret, outcome.secret.ref
                if outcome.value is None:
                    self.journal.record_secret(run, secret.fingerprint, ref.backend, ref.path, ref.field, "failed",
                                               error=outcome.error)
                else:
                    self.journal.record_secret(run, secret.fingerprint, ref.backend, ref.path, ref.field, "stored")
                self._count_stored(outcome, stored, result)
        checkpoint()

    def _count_stored(self, outcome: _Stored, stored: set[str], result: ApplyResult) -> None:
        secret, ref = outcome.secret, outcome.secret.ref
        if outcome.value is None:
            result.problems.append(ApplyProblem(str(ref), outcome.error))
            return
        if outcome.wrote:
            result.secrets_stored += 1
            result.stored.append(str(ref))
        else:
            result.secrets_already_stored += 1
        stored.add(secret.fingerprint)
        self._verified[secret.fingerprint] = outcome.value

    def _run_jobs(self, jobs: list[tuple[list[tuple[PlannedSecret, str]], bool]],
                  meanwhile: Callable[[], None]) -> Iterator[list[_Stored]]:
        """Each job (the secrets of one path) stored, in order; by ``concurrency`` threads when
        every backend can be cloned for them, else one after another. ``meanwhile`` runs on
        this thread once every job is handed to the threads (last, without threads)."""
        workers = ThreadBackends.workers(self.backends, min(self.concurrency, len(jobs)))
        if workers <= 1:
            for items, absent in jobs:
                yield self._store_path(items, absent, self.backends)
            meanwhile()
            return
        mine = ThreadBackends(self.backends)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vaultshift-store") as pool:
            outcomes = pool.map(lambda job: self._store_path(job[0], job[1], mine.get()), jobs)
            meanwhile()
            yield from outcomes

    def _store_path(self, items: list[tuple[PlannedSecret, str]], absent: bool,
                    backends: Mapping[str, Backend]) -> list[_Stored]:
        """Store each secret of one path, in order, and read it back. ``absent``: no run of this
        journal ever stored anything at the path (the first write may then skip its read)."""
        out: list[_Stored] = []
        for secret, value in items:
            ref = secret.ref
            backend = backends[ref.backend]
            first = secret.occurrences[0]
            outcome = _Stored(secret)
            with self._down_lock:
                down = self._down.get(ref.backend)
            if down is not None:
                outcome.error = f"not stored: backend {ref.backend!r} is down ({down})"
                out.append(outcome)
                continue
            try:
                if self.check:  # what a store would do: nothing when the field holds the value already
                    back = backend.read(ref)
                    outcome.wrote = back is None or not hmac.compare_digest(back.encode(), value.encode())
                    outcome.value = value
                    out.append(outcome)
                    continue
                stored = backend.store(ref, value, {"source": f"{first.path}:{first.line}",
                                                    "first_seen": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                                    "fingerprint": secret.fingerprint}, absent=absent)
                absent = False  # the path holds this secret now
                if stored.wrote:
                    checkpoint()
                    back = backend.read(ref)
                    if back is None or not hmac.compare_digest(back.encode(), value.encode()):
                        raise BackendError(ref.backend, "read back", str(ref), "differs from what was written")
                outcome.wrote, outcome.value = stored.wrote, value
            except (BackendError, ValueError) as exc:
                outcome.error = str(exc)
                if isinstance(exc, AuthError | Sealed | Unavailable):
                    with self._down_lock:
                        self._down.setdefault(ref.backend, exc.reason or type(exc).__name__)
            out.append(outcome)
        return out

    def _value_of(self, secret: PlannedSecret, files: Mapping[str, _File], result: ApplyResult) -> str | None:
        """The value at the secret's first span in a file as planned, checked against its fingerprint."""
        for occurrence in secret.occurrences:
            planned = files[occurrence.file]
            if planned.state != "original":
                continue
            raw = planned.data[occurrence.start_byte:occurrence.end_byte]
            try:
                value = raw.decode("utf-8")
            except UnicodeDecodeError:
                value = raw.decode("latin-1")
            if self.fingerprint(value) == secret.fingerprint:
                return value
            result.problems.append(ApplyProblem(f"{occurrence.path}:{occurrence.line}",
                                                "the value there is not the planned one; make the plan again"))
        return None

    # -- 3. rewrite ----------------------------------------------------------------------------
    def _rewrite_elsewhere(self, originals: Sequence[_File]) -> Callable[[], list[_Rewrite] | None] | None:
        """Start rewriting ``originals`` in a forked child process (its own interpreter lock and
        the second CPU, while this process stores the secrets); return what collects the
        results (None from it: the child failed, and the caller rewrites here). None when the
        files are not this machine's (a remote host's file access is not for a child to use),
        when there are few, or where processes cannot be forked."""
        if not isinstance(self.files, LocalFiles) or len(originals) < FORK_MIN_FILES or \
                "fork" not in multiprocessing.get_all_start_methods():
            return None
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=self._rewrite_child, args=(originals, sender), daemon=True,
                                name="vaultshift-rewrite")
        child.start()
        sender.close()

        def collect() -> list[_Rewrite] | None:
            try:
                done = receiver.recv()
            except (EOFError, OSError):
                done = None
            finally:
                receiver.close()
                child.join()
            if not isinstance(done, list) or len(done) != len(originals):
                return None
            return [self._rewrite_received(planned, *item) for planned, item in zip(originals, done, strict=True)]

        return collect

    def _rewrite_child(self, originals: Sequence[_File], sender: Any) -> None:
        """In the child: each file's rewrite sent back as plain data (the file's mode and owner,
        the result's fields, the error); on any failure nothing (the parent then rewrites
        itself). The child prints nothing."""
        self.journal.let_go_in_child()
        try:
            done = []
            for item in map(self._rewrite_file, originals):
                context, result = item.context, item.rewritten
                info = None if context is None else (context.mode, context.uid, context.gid)
                fields = None if result is None else tuple(getattr(result, f.name) for f in dataclasses.fields(result))
                done.append((info, fields, item.error))
        except BaseException:  # the parent meets (and reports) the same failure itself
            done = None
        with contextlib.suppress(OSError):
            sender.send(done)
        sender.close()

    def _rewrite_received(self, planned: _File, info: tuple[int, int | None, int | None] | None,
                          fields: tuple[Any, ...] | None, error: str) -> _Rewrite:
        """A file's rewrite as the child sent it, whole again."""
        if error or info is None or fields is None:
            return _Rewrite(planned, error=error or "not rewritten: the rewrite gave no result")
        return dataclasses.replace(self._rewrite_inputs(planned), context=self._context(planned.path, *info),
                                   rewritten=RewriteResult(*fields))

    def _context(self, path: str, mode: int, uid: int | None, gid: int | None) -> RewriteContext:
        return RewriteContext(path=os.path.abspath(path), mounts=self.mounts, default_backend=self.default_backend,
                              mode=mode & 0o7777, uid=uid, gid=gid, agent=self.agent)

    def _rewrite_inputs(self, planned: _File) -> _Rewrite:
        """The file's reference style and replacements, in file order (an error when the plan
        gives it several styles)."""
        styles = {o.style for _, o in planned.occurrences}
        if len(styles) != 1:
            return _Rewrite(planned, error="the plan gives this file several reference styles")
        ordered = sorted(planned.occurrences, key=lambda pair: pair[1].start_byte)
        return _Rewrite(planned, styles.pop(), ordered, [Replacement.from_occurrence(o, s.ref) for s, o in ordered])

    def _rewrite_file(self, planned: _File) -> _Rewrite:
        """The file rewritten in memory and checked to parse (needs no stored secret: this runs
        while the secrets are being stored)."""
        inputs = self._rewrite_inputs(planned)
        if inputs.error:
            return inputs
        style, ordered, replacements = inputs.style, inputs.ordered, inputs.replacements
        assert style is not None
        try:
            info = self.files.stat(planned.path)
            context = self._context(planned.path, info.mode, info.uid, info.gid)
            rewritten = rewrite(style, planned.data, replacements, context)
            if not rewritten.unchanged:
                verify_parses(planned.path, rewritten.new_bytes, rewritten.spans, planned.data)
        except (RewriteError, VerifyError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            reason = reason.removeprefix(f"{os.path.abspath(planned.path)}: ").removeprefix(f"{planned.path}: ")
            return _Rewrite(planned, error=f"not rewritten: {reason}")
        return _Rewrite(planned, style, ordered, replacements, context, rewritten)

    def _rewrite_terraform(self, planned_files: Sequence[_File]) -> list[_Rewrite]:
        """Terraform files rewritten a module at a time (:mod:`migrator.rewrite.terraform`): for
        each module, a rewrite of every file that changes (the planned ones, the ones whose
        ``var.NAME`` changes, ``vaultshift.tf``), in the order they are to be written: the files
        that gain references first, the files that lose values last."""
        if not planned_files:
            return []
        if not isinstance(self.files, LocalFiles):
            return [_Rewrite(f, error="not rewritten: Terraform code is rewritten by `vaultshift apply` on the "
                                      "machine that holds it, not on managed hosts") for f in planned_files]
        by_module: dict[str, list[_File]] = {}
        for planned in planned_files:
            directory = module_directory(os.path.abspath(planned.path), _has_terraform_code)
            by_module.setdefault(directory, []).append(planned)
        secrets = {s.ref: s for s in self.plan.secrets}
        out: list[_Rewrite] = []
        for directory, members in sorted(by_module.items()):
            out.extend(self._rewrite_module(directory, members, secrets))
        return out

    def _rewrite_module(self, directory: str, members: Sequence[_File],
                        secrets: Mapping[SecretRef, PlannedSecret]) -> list[_Rewrite]:
        inputs = {os.path.abspath(m.path): self._rewrite_inputs(m) for m in members}
        failed = next((i.error for i in inputs.values() if i.error), "")
        try:
            names = sorted(n for n in os.listdir(directory) if n.endswith(".tf"))
        except OSError as exc:
            failed = failed or f"not rewritten: cannot list the module at {directory}: {exc.strerror or exc}"
            names = []
        code_paths = [os.path.join(directory, n) for n in names if os.path.join(directory, n) not in inputs]
        read = self.files.read(code_paths)
        code: dict[str, bytes] = {path: inputs[path].planned.data for path in inputs if path.endswith(".tf")}
        for path, content in read.items():
            if isinstance(content, OSError):
                failed = failed or f"not rewritten: cannot read {path} of its module: {content.strerror or content}"
            else:
                code[path] = content
        if not failed:
            try:
                done = rewrite_module(directory, code, {path: (i.planned.data, i.replacements)
                                                        for path, i in inputs.items()}, self.default_backend)
                for path, change in done.changes.items():
                    verify_parses(path, change.new_bytes, change.spans, change.original or None)
            except (RewriteError, VerifyError) as exc:
                failed = f"not rewritten: {exc}"
        if failed:
            return [dataclasses.replace(i, error=failed) for i in inputs.values()]
        needs = [secrets[ref] for ref in sorted(done.refs, key=str) if ref in secrets]
        out = []
        for path, change in done.changes.items():
            own = inputs.get(path)
            planned = own.planned if own is not None else _File(path, change.original)
            result = RewriteResult(change.new_bytes, {}, done.description, change.spans, originals=change.originals)
            context = self._context(path, 0o644, None, None)
            base = own if own is not None else _Rewrite(planned, ReferenceStyle.TERRAFORM)
            out.append(dataclasses.replace(base, context=context, rewritten=result, module=directory, needs=needs,
                                           created=path not in code and own is None))
        for path, own in inputs.items():
            if path not in done.changes:  # nothing to change: every span already reads the vault
                out.append(dataclasses.replace(own, error="not rewritten: the module's rewrite left it unchanged",
                                               module=directory))
        # References first, then the files that lose their values: a crash between two of them
        # leaves values that are also in the vault, never a reference without its block.
        out.sort(key=lambda r: (r.planned.occurrences != [], os.path.basename(r.planned.path) != GENERATED_FILE))
        return out

    def _prepare_module(self, members: Sequence[_Rewrite], stored: set[str], result: ApplyResult) -> list[_Prepared]:
        """A Terraform module's files ready to be written, all of them or none."""
        prepared = [self._prepare_file(member, stored, result) for member in members]
        if all(item is not None for item in prepared):
            return [item for item in prepared if item is not None]
        failed = next(m.planned.path for m, item in zip(members, prepared, strict=True) if item is None)
        for item in prepared:
            if item is not None:
                result.problems.append(ApplyProblem(item.planned.path, f"not rewritten: {failed} of the same "
                                                                       "Terraform module could not be"))
        return []

    def _prepare_file(self, done: _Rewrite, stored: set[str], result: ApplyResult) -> _Prepared | None:
        """The rewritten file verified against the stored secrets, ready to be written (None, and
        a problem, when it cannot be)."""
        planned = done.planned
        missing = sorted({str(s.ref) for s in [*(s for s, _ in planned.occurrences), *done.needs]
                          if s.fingerprint not in stored})
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            result.problems.append(ApplyProblem(planned.path, f"not rewritten: {missing[0]} is not stored{more}"))
            return None
        if done.error:
            result.problems.append(ApplyProblem(planned.path, done.error))
            return None
        rewritten, ordered, context = done.rewritten, done.ordered, done.context
        assert rewritten is not None and context is not None and done.style is not None
        if rewritten.unchanged:
            result.files_already_done += 1
            return None
        edits = _edits(planned.data, rewritten.new_bytes, rewritten.spans, ordered, rewritten.originals)
        original_digest = self.digest(planned.data)
        try:
            # What rollback will do, done now: the new file and the vault's values give back the
            # original bytes. Then (_checked), for agent-rendered files, a real agent renders them.
            if not self._rebuilds(rewritten.new_bytes, edits, original_digest):
                raise VerifyError("the rewritten file and the stored values do not give back the original")
        except (VerifyError, BackendError, ValueError) as exc:
            result.problems.append(ApplyProblem(planned.path, f"not rewritten: verification failed: {exc}"))
            return None
        style, replacements = done.style, done.replacements

        def render_check() -> None:
            self._render_check(planned.data, style, rewritten, replacements, context)

        preview = None
        if self.preview:
            preview = FilePreview(planned.path, redacted(planned.data, [(o.start_byte, o.end_byte, s.hint)
                                                                        for s, o in ordered]),
                                  rewritten.new_bytes.decode("utf-8", errors="replace"))
        return _Prepared(planned, rewritten, original_digest, self.digest(rewritten.new_bytes), edits,
                         sorted([*(str(p) for p in rewritten.companions), *([planned.path] if done.created else [])]),
                         render_check if self.render_check is not None else None, preview)

    def _checked(self, batch: Sequence[_Prepared], result: ApplyResult) -> list[_Prepared]:
        """The files of the batch a real agent renders as the originals (each render is a process
        of its own: ``concurrency`` of them at a time); the others are problems."""
        def check(item: _Prepared) -> str | None:
            if item.render_check is None:
                return None
            try:
                item.render_check()
            except (VerifyError, BackendError, ValueError) as exc:
                return str(exc)
            return None

        workers = min(self.concurrency, sum(item.render_check is not None for item in batch))
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vaultshift-render") as pool:
                errors = list(pool.map(check, batch))
        else:
            errors = [check(item) for item in batch]
        passed = []
        for item, error in zip(batch, errors, strict=True):
            if error is None:
                passed.append(item)
            else:
                result.problems.append(ApplyProblem(item.planned.path, f"not rewritten: verification failed: "
                                                                       f"{error}"))
        return passed

    def _write_files(self, run: str, batch: Sequence[_Prepared], result: ApplyResult) -> None:
        """Write prepared files: those a real agent renders as the originals (when the check is
        on), their intents committed first (a crash after a rename is then recognised by the new
        file's digest), then each file's companions and the file itself, then their outcomes."""
        batch = self._checked(batch, result)
        if not batch:
            return
        if self.check:
            for item in batch:
                self._rewrote(item, result)
            return
        with self.journal.transaction():
            for item in batch:
                self.journal.record_file(run, item.planned.path, item.original_digest, item.new_digest, item.edits,
                                         item.companions, "rewriting")
        checkpoint()
        failed: dict[str, str] = {}
        # Files are independent once their intents are durable: the file access writes the batch
        # as it best can (the local one: staged, made durable at once, then renamed).
        errors = self.files.write([self._file_write(item) for item in batch], workers=self.concurrency)
        for item, error in zip(batch, errors, strict=True):
            planned = item.planned
            if error is not None:
                failed[planned.path] = error
                result.problems.append(ApplyProblem(planned.path, f"not rewritten: {error}"))
                continue
            self._rewrote(item, result)
        with self.journal.transaction():
            for item in batch:
                path = item.planned.path
                if path in failed:
                    self.journal.set_file_state(run, path, "failed", failed[path])
                else:
                    self.journal.set_file_state(run, path, "rewritten")
        checkpoint()

    def _rewrote(self, item: _Prepared, result: ApplyResult) -> None:
        item.planned.state = "rewritten"
        result.files_rewritten += 1
        result.rewritten.append(item.planned.path)
        if item.preview is not None:
            result.previews.append(item.preview)

    def _file_write(self, item: _Prepared) -> FileWrite:
        """The file's companions (at their absolute paths below ``host_root``), then the file,
        replacing the bytes it was rewritten from."""
        rewritten = item.rewritten
        return FileWrite(item.planned.path, rewritten.new_bytes,
                         {self._rooted(path): data for path, data in rewritten.companions.items()},
                         {self._rooted(path): mode for path, mode in rewritten.modes.items()},
                         expected=item.planned.data)

    def _rooted(self, path: PurePath) -> str:
        """``path`` (absolute, as the host sees it) below ``host_root``."""
        return self.host_root.rstrip("/") + str(path)


def _is_terraform(planned: _File) -> bool:
    return any(o.style is ReferenceStyle.TERRAFORM for _, o in planned.occurrences)


def _has_terraform_code(directory: str) -> bool:
    try:
        return any(name.endswith(".tf") for name in os.listdir(directory))
    except OSError:
        return False


def redacted(data: bytes, spans: Sequence[tuple[int, int, str]]) -> str:
    """``data`` as text (for display) with each span ``(start_byte, end_byte, hint)`` replaced by
    its redacted hint."""
    out = bytearray()
    cursor = 0
    for start, end, hint in sorted(spans):
        if start < cursor:
            continue  # overlapping spans: the first one's hint stands for both
        out += data[cursor:start]
        out += hint.encode("utf-8", errors="replace")
        cursor = end
    out += data[cursor:]
    return out.decode("utf-8", errors="replace")


def _edits(original: bytes, new: bytes, spans: Sequence[tuple[int, int]],
           ordered: Sequence[tuple[PlannedSecret, Occurrence]], originals: Sequence[tuple[int, int]] = ()) -> list[Any]:
    """How to turn ``new`` back into ``original`` without keeping a value: for each edited region
    of ``new``, the original region as literal pieces (bytes that are not secrets, as latin-1
    text) and references to the secrets that filled the spans. ``originals``: each region's
    span in ``original`` when the rewriter gave them; else worked out from the unchanged text."""
    edits: list[Any] = []
    delta = 0
    pending = list(ordered)
    for index, (new_start, new_end) in enumerate(spans):
        if originals:
            orig_start, orig_end = originals[index]
        else:
            orig_start = new_start - delta
            # The region ends where the unchanged text resumes: the next edit's start, or the file's end.
            next_unchanged = new[new_end:spans[index + 1][0]] if index + 1 < len(spans) else new[new_end:]
            orig_end = _find_end(original, orig_start, next_unchanged, pending)
        pieces: list[Any] = []
        cursor = orig_start
        while pending and pending[0][1].start_byte < orig_end:
            secret, occurrence = pending.pop(0)
            if occurrence.start_byte > cursor:
                pieces.append({"text": original[cursor:occurrence.start_byte].decode("latin-1")})
            pieces.append({"ref": secret.ref.to_dict(), "fingerprint": secret.fingerprint})
            cursor = occurrence.end_byte
        if orig_end > cursor:
            pieces.append({"text": original[cursor:orig_end].decode("latin-1")})
        edits.append([new_start, new_end, pieces])
        delta += (new_end - new_start) - (orig_end - orig_start)
    return edits


def _find_end(original: bytes, orig_start: int, unchanged: bytes,
              pending: Sequence[tuple[PlannedSecret, Occurrence]]) -> int:
    """Where the original region of an edit ends: after the last span it covers, at the first
    place the unchanged text that follows the edit matches."""
    if not pending:
        return orig_start
    floor = pending[0][1].end_byte
    probe = unchanged[:64]
    position = original.find(probe, floor) if probe else len(original)
    return floor if position < 0 else position

