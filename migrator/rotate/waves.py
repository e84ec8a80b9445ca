"""Running rotation over a wave of secrets: the vault side first, then the references, then proof.

``enable`` (static rotation), per secret of the wave:

1. the checks that change nothing: the admin user (read from the vault) may change the app
   user's password, the stored password still logs in, every file's references can be switched
   (computed in memory now, written later);
2. the database registered in the engine (verified by the engine at once) and the user put under
   a static role: from here the engine owns the password (it changes now);
3. proof on the vault side: the static role's password logs in, the old one is refused; on
   failure the old password is put back and the role removed, before any file changed;
4. the references switched (each file written atomically, its companions too);
5. the switched files read back holding the new references.

With a dual-credential database (``dual: true``) the static role takes a twin login role of the
user instead, both logins work until the references are switched, and the finish step (after the
agents restarted) retires the old password, proved refused: no request fails during the switch.

``dynamic``: a dynamic role whose creation statements grant exactly what the static user holds,
one lease taken and proved to log in (then revoked), the references switched to
``creds/ROLE`` (the username too), read back. Secrets in AWS Secrets Manager are rotated in place
by vaultshift's staged rotation (their references do not change).

A failure stops the wave: the secrets the wave already switched are rolled back (their files
first, then the vault side), the failing one is reported, the next waves do not run.
``rollback`` undoes the last step of each secret of a wave: dynamic -> static (references back,
leases revoked, role removed); static -> KV (the current password written to the KV path as a
new version, references back, static role removed: the leaked old password stays dead).

Every step is recorded in the journal (a ``rotate`` run; the ``rotations`` table says where each
secret stands). No value is ever written anywhere but to its vault and its database.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from migrator.apply.files import LOCAL_FILES, FileAccess, FileWrite
from migrator.backends.base import Backend, BackendError
from migrator.backends.vault import VaultBackend
from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers import ReaderError, reader_for
from migrator.plan.models import Occurrence, ReferenceStyle, SecretRef
from migrator.rewrite.agent_config import companions_for
from migrator.rewrite.base import KvMount
from migrator.rotate.aws_staged import generate_password
from migrator.rotate.classify import username_at
from migrator.rotate.database import DatabaseEngine
from migrator.rotate.errors import RotationError
from migrator.rotate.inventory import AWS_STAGED, DYNAMIC, STATIC, TRACK, RotationItem
from migrator.rotate.postgres import PostgresAdmin, can_log_in, dynamic_statements
from migrator.rotate.settings import RotationSettings
from migrator.rotate.switch import (
    Switch,
    SwitchError,
    env_template_of,
    replace_actions,
    replace_lookups,
    template_username,
    with_env_template,
)
from migrator.state.journal import Journal, RotationRecord

KV = "kv"
ENABLE, GO_DYNAMIC, ROLLBACK = "enable", "dynamic", "rollback"
VAULT, REFERENCES, FINISH = "vault", "references", "finish"
STEPS = (VAULT, REFERENCES, FINISH)


@dataclass(slots=True)
class SecretOutcome:
    """What happened to one secret (``error`` one line, never a value)."""

    ref: str
    mode: str  # where it stands after the run
    action: str  # enabled | dynamic | rolled back | skipped | failed | rotated
    detail: str = ""


@dataclass(slots=True)
class WaveResult:
    run_id: str
    action: str
    wave: str
    outcomes: list[SecretOutcome] = field(default_factory=list)
    failed: bool = False
    rolled_back: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # The agents whose template or configuration this run wrote: they render the switched
    # references once restarted (systemctl restart UNIT on their host).
    agent_units: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Place:
    """A file of a secret: where it is read and written, and its path on its host."""

    access: str
    host_path: str
    style: ReferenceStyle
    occurrences: tuple[Occurrence, ...]


@dataclass(slots=True)
class _Switched:
    """A secret's file changes, computed in memory: writes to do, and what reverses them."""

    writes: list[FileWrite] = field(default_factory=list)
    undo: list[FileWrite] = field(default_factory=list)
    expect: list[tuple[str, str]] = field(default_factory=list)  # (path, text it must hold after)
    units: set[str] = field(default_factory=set)  # agent units of the companions written


# An occurrence's file: (the path it is read and written at, its path on its host), or None
# when it is not reachable here (another host's, in a fleet run's per-host step).
Locate = Callable[[Occurrence], tuple[str, str] | None]


def local_place(occurrence: Occurrence) -> tuple[str, str] | None:
    """On this machine a file is read where its host (this one) has it."""
    path = os.path.abspath(occurrence.file)
    return path, path


class Rotator:
    """Runs rotation actions over waves. ``backends`` are the configured ones by name;
    ``mounts`` says how agent templates read each Vault backend (:func:`migrator.rewrite.base.kv_mounts`)."""

    def __init__(self, settings: RotationSettings, backends: Mapping[str, Backend], journal: Journal,
                 mounts: Mapping[str, KvMount], default_backend: str, files: FileAccess = LOCAL_FILES,
                 locate: Locate = local_place, timeout: float = 5.0,
                 rotations: Callable[[], Mapping[str, RotationRecord]] | None = None) -> None:
        self.settings = settings
        self.backends = backends
        self.journal = journal
        self.mounts = mounts
        self.default_backend = default_backend
        self.files = files
        self.locate = locate
        self.timeout = timeout
        # Where each secret stands: the journal's own records, or (a fleet's per-host steps, whose
        # journals are per host) the controller journal's, read without its lock.
        self.rotations = rotations or journal.rotations
        vault = backends[settings.vault]
        if not isinstance(vault, VaultBackend):
            raise RotationError(settings.vault, "rotation needs a Vault / OpenBao backend")
        self.vault = vault
        self.engine = DatabaseEngine(vault, settings.mount)
        self._enabled = False
        # Per run, per database: the admin's credentials (memory only), one admin session, and
        # whether the connection is registered in the engine this run. Dropped when the run ends.
        self._admins: dict[str, tuple[str, str]] = {}
        self._sessions: dict[str, PostgresAdmin] = {}
        self._registered: set[str] = set()
        self._units: set[str] = set()  # agent units whose files this run wrote
        self._modes: dict[str, str] = {}  # where each secret stands: read once a run, kept as it records

    # -- the run -----------------------------------------------------------------------------------
    def run(self, action: str, items: Sequence[RotationItem], wave: str,
            steps: Sequence[str] = STEPS) -> WaveResult:
        """``action`` on every item of one wave, each item through ``steps`` (all three: the CLI;
        one at a time: the Ansible collection, whose ``references`` step runs on each host). The
        first failure takes the item back to where it stood, then every item the run had done
        (the rollback's own steps), and stops."""
        try:
            return self._run(action, items, wave, steps)
        finally:
            self._let_go()

    def _let_go(self) -> None:
        """End the run's admin sessions and forget the admin credentials."""
        for session in self._sessions.values():
            session.__exit__(None, None, None)
        self._sessions.clear()
        self._admins.clear()
        self._registered.clear()

    def _run(self, action: str, items: Sequence[RotationItem], wave: str, steps: Sequence[str]) -> WaveResult:
        started = time.perf_counter()
        self._modes = {fingerprint: record.mode for fingerprint, record in self.rotations().items()}
        run_id = self.journal.start_run("rotate", f"{action}:{wave}:{'+'.join(steps)}")
        result = WaveResult(run_id, action, wave)
        done: list[RotationItem] = []
        for item in items:
            mode = self._mode(item)
            skipped = self._skip(action, item, mode) if steps[0] == VAULT else self._not_ready(action, item, mode)
            if skipped is not None:
                result.outcomes.append(skipped)
                continue
            try:
                for step in steps:
                    self._step(step, action, item, mode, run_id)
            except (RotationError, BackendError, SwitchError, OSError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                result.outcomes.append(SecretOutcome(str(item.secret.ref), mode, "failed", reason))
                self.journal.event(run_id, "secret failed", str(item.secret.ref))
                result.failed = True
                if action != ROLLBACK and tuple(steps) == STEPS:
                    self._take_back(item, mode, run_id, result, rolled_back=False)
                break
            result.outcomes.append(self._outcome(action, item, mode, steps))
            done.append(item)
        if result.failed and action != ROLLBACK:
            for item in reversed(done):
                if tuple(steps) == STEPS:
                    self._take_back(item, KV if action == ENABLE else STATIC, run_id, result)
                elif tuple(steps) == (VAULT,):
                    self._undo_vault(action, item, run_id, result)
                # A fleet's references step on one host: the playbook rolls the wave back.
        self.journal.finish_run(run_id, "failed" if result.failed else "done")
        result.agent_units, self._units = self._units, set()
        result.seconds = time.perf_counter() - started
        return result

    def _mode(self, item: RotationItem) -> str:
        return self._modes.get(item.secret.fingerprint, KV)

    def _now(self, item: RotationItem, mode: str, run_id: str) -> None:
        """Record that ``item`` stands at ``mode`` (the journal, and this run's view of it)."""
        self.journal.record_rotation(run_id, self._record(item, mode))
        self._modes[item.secret.fingerprint] = mode

    def _skip(self, action: str, item: RotationItem, mode: str) -> SecretOutcome | None:
        """Why ``action`` does nothing to ``item`` now (None: it has work to do)."""
        ref = str(item.secret.ref)
        if item.mode == TRACK:
            return SecretOutcome(ref, TRACK, "skipped", item.blocked)
        if action == ENABLE:
            if item.mode == AWS_STAGED and mode == AWS_STAGED:
                return self._not_due(item)
            if item.mode == AWS_STAGED or mode == KV:
                return None
            return SecretOutcome(ref, mode, "skipped", f"already {mode}")
        if action == GO_DYNAMIC:
            if item.mode != STATIC:
                return SecretOutcome(ref, mode, "skipped", "dynamic credentials are for Vault-stored database users")
            if item.dynamic_blocked:
                return SecretOutcome(ref, mode, "skipped", item.dynamic_blocked)
            if mode == DYNAMIC:
                return SecretOutcome(ref, mode, "skipped", "already dynamic")
            if mode != STATIC:
                return SecretOutcome(ref, mode, "skipped", "static rotation first (vaultshift rotate enable)")
            return None
        if action == ROLLBACK:
            if mode == KV:
                return SecretOutcome(ref, mode, "skipped", "nothing to roll back")
            if mode == AWS_STAGED:
                return SecretOutcome(ref, mode, "skipped", "Secrets Manager keeps the previous value as AWSPREVIOUS")
            return None
        raise RotationError(action, "unknown rotation action (enable, dynamic, rollback)")

    def _not_due(self, item: RotationItem) -> SecretOutcome | None:
        """A Secrets Manager secret vaultshift rotates: rotated again only when its schedule says
        it is due (so ``enable`` can be re-run, or run from cron, to keep the schedule)."""
        from migrator.backends.aws import AwsBackend
        from migrator.rotate.aws_staged import StagedRotation

        backend = self.backends[item.secret.ref.backend]
        if not isinstance(backend, AwsBackend):
            return None
        staged = StagedRotation(backend)
        if staged.due([item.secret.ref.path]):
            return None
        due = staged.schedule_of(item.secret.ref.path).next_due
        when = f"; next rotation due {due:%Y-%m-%d %H:%M} UTC" if due else ""
        return SecretOutcome(str(item.secret.ref), AWS_STAGED, "skipped", f"already aws-staged{when}")

    def _not_ready(self, action: str, item: RotationItem, mode: str) -> SecretOutcome | None:
        """For a run of the later steps alone (a fleet's hosts, after the vault step): why
        ``item`` has nothing to do (None: the vault step left it ready)."""
        ref = str(item.secret.ref)
        if item.mode == TRACK:
            return SecretOutcome(ref, TRACK, "skipped", item.blocked)
        if item.mode == AWS_STAGED:
            return SecretOutcome(ref, mode, "skipped", "Secrets Manager references do not change")
        ready = {ENABLE: (STATIC,), GO_DYNAMIC: (DYNAMIC,), ROLLBACK: (STATIC, DYNAMIC)}.get(action)
        if ready is None:
            raise RotationError(action, "unknown rotation action (enable, dynamic, rollback)")
        if action == GO_DYNAMIC and item.dynamic_blocked:
            return SecretOutcome(ref, mode, "skipped", item.dynamic_blocked)
        if mode not in ready:
            return SecretOutcome(ref, mode, "skipped", f"{mode}: the vault step has not made it {ready[0]}")
        return None

    def _undo_vault(self, action: str, item: RotationItem, run_id: str, result: WaveResult) -> None:
        """Undo a vault step no reference follows yet: a takeover's old password put back (it is
        still in KV) and the static role removed; a dynamic role's leases revoked and the role
        removed."""
        try:
            if action == ENABLE and item.mode == STATIC:
                assert item.target is not None and item.target.user
                admin_user, admin_password = self._admin(item)
                old = self._kv_value(item)
                self.engine.delete_static_role(item.static_role)
                with self._admin_session(item, admin_user, admin_password) as admin:
                    if item.dual:
                        admin.drop_twin(item.target.user, item.twin)
                    else:
                        admin.set_password(item.target.user, old)
                self._now(item, KV, run_id)
            elif action == GO_DYNAMIC:
                self.engine.revoke_leases(item.dynamic_role)
                self.engine.delete_role(item.dynamic_role)
                self._now(item, STATIC, run_id)
            else:
                return
            result.rolled_back.append(str(item.secret.ref))
        except (RotationError, BackendError, OSError) as exc:
            result.outcomes.append(SecretOutcome(str(item.secret.ref), self._mode(item), "failed",
                                                 f"rolling back: {exc}"))

    def _outcome(self, action: str, item: RotationItem, mode: str, steps: Sequence[str]) -> SecretOutcome:
        ref, partly = str(item.secret.ref), "" if tuple(steps) == STEPS else f" ({', '.join(steps)})"
        if action == ENABLE and item.mode == AWS_STAGED:
            return SecretOutcome(ref, AWS_STAGED, "rotated", "staged rotation done; AWSPREVIOUS keeps the old value")
        if action == ENABLE:
            return SecretOutcome(ref, STATIC, "enabled", f"static role {item.static_role}{partly}")
        if action == GO_DYNAMIC:
            return SecretOutcome(ref, DYNAMIC, "dynamic", f"dynamic role {item.dynamic_role}{partly}")
        back = STATIC if mode == DYNAMIC else KV
        return SecretOutcome(ref, back, "rolled back", f"{mode} -> {back}{partly}")

    def _step(self, step: str, action: str, item: RotationItem, mode: str, run_id: str) -> None:
        if step == VAULT:
            self._vault(action, item, mode, run_id)
        elif step == REFERENCES:
            if item.mode != AWS_STAGED:
                self._references(action, item, mode)
        elif step == FINISH:
            self._finish(action, item, mode, run_id)
        else:
            raise RotationError(step, "unknown step (vault, references, finish)")

    def _take_back(self, item: RotationItem, mode: str, run_id: str, result: WaveResult,
                   rolled_back: bool = True) -> None:
        """Take ``item`` back to ``mode`` by the rollback's steps (from wherever it stands now)."""
        try:
            while self._mode(item) != mode and self._mode(item) in (STATIC, DYNAMIC):
                now = self._mode(item)
                for step in STEPS:
                    self._step(step, ROLLBACK, item, now, run_id)
                if rolled_back and self._mode(item) == mode:
                    result.rolled_back.append(str(item.secret.ref))
        except (RotationError, BackendError, SwitchError, OSError) as exc:
            result.outcomes.append(SecretOutcome(str(item.secret.ref), self._mode(item), "failed",
                                                 f"rolling back: {exc}"))

    # -- the steps -------------------------------------------------------------------------------
    def _vault(self, action: str, item: RotationItem, mode: str, run_id: str) -> None:
        """The vault side: ``enable`` takes the user over (proved), ``dynamic`` makes the role
        (proved), ``rollback`` of a static secret stores its current password in KV."""
        if action == ENABLE and item.mode == AWS_STAGED:
            self._aws_rotate(item, run_id)
        elif action == ENABLE:
            self._take_over(item, run_id)
        elif action == GO_DYNAMIC:
            self._make_dynamic_role(item, run_id)
        elif mode == STATIC and item.dual:
            # The app goes back to its own user, whose old password was retired: it gets a new
            # one, stored in KV before any reference points there again.
            assert item.target is not None and item.target.user
            password = generate_password()
            admin_user, admin_password = self._admin(item)
            with self._admin_session(item, admin_user, admin_password) as admin:
                admin.set_password(item.target.user, password)
            self.backends[item.secret.ref.backend].write(item.secret.ref, password,
                                                         {"source": "vaultshift rotate rollback"})
        elif mode == STATIC:
            current = self.engine.static_credentials(item.static_role)
            self.backends[item.secret.ref.backend].write(item.secret.ref, current.password,
                                                         {"source": "vaultshift rotate rollback"})

    def _references(self, action: str, item: RotationItem, mode: str) -> None:
        """Every reachable place of ``item`` switched for ``action`` (a place already switched is
        left as it is), then read back."""
        if action == ENABLE:
            switched = self._switch(item, *self._static_switches(item))
        elif action == GO_DYNAMIC:
            switched = self._switch(item, *self._dynamic_switches(item))
        elif mode == DYNAMIC:
            switched = self._switch(item, *self._dynamic_switches(item), back=True)
        else:
            switched = self._switch(item, *self._static_switches(item), back=True)
        self._write(switched, str(item.secret.ref))
        self._units |= switched.units

    def _finish(self, action: str, item: RotationItem, mode: str, run_id: str) -> None:
        """What follows the references: a rollback's role removed (dynamic: its leases revoked
        first: every user it made is dropped), and the journal's record."""
        if action == ENABLE and item.dual:
            self._retire_old(item, run_id)
        if action != ROLLBACK:
            return
        if mode == DYNAMIC:
            self.engine.revoke_leases(item.dynamic_role)
            self.engine.delete_role(item.dynamic_role)
            self._now(item, STATIC, run_id)
        else:
            self.engine.delete_static_role(item.static_role)
            if item.dual:
                assert item.target is not None and item.target.user
                admin_user, admin_password = self._admin(item)
                with self._admin_session(item, admin_user, admin_password) as admin:
                    admin.drop_twin(item.target.user, item.twin)
            self._now(item, KV, run_id)

    # -- static ----------------------------------------------------------------------------------
    def _take_over(self, item: RotationItem, run_id: str) -> None:
        """Checks that change nothing, then the static role; its password proved before the
        record says static. Single credential: the app's user is taken over, the old password
        refused at once; on a failure after the takeover the old password is put back and the
        role removed (nothing refers to it yet). Dual credential: a twin login role of the user is
        taken over instead, and the old password keeps working until the finish step retires it
        (after the switched agents have restarted), so no request fails during the switch."""
        database, target = item.database, item.target
        assert database is not None and target is not None and target.user
        user, managed, role, where = target.user, item.managed_user, item.static_role, str(item.secret.ref)
        reach = database.reached_at(target)
        admin_user, admin_password = self._admin(item)
        old = self._kv_value(item)
        with self._admin_session(item, admin_user, admin_password) as admin:
            admin.check_can_manage(user)
        for name in {user, managed}:
            owner = self.engine.managed_by(name, database.name)
            if owner is not None and owner != role:
                raise RotationError(where, f"user {name} of {database.name} is already managed by static role "
                                           f"{owner}")
        if not can_log_in(reach, user, old, tls=database.tls, timeout=self.timeout):
            raise RotationError(where, f"the stored password does not log in as {user} on {database.name}: "
                                       "fix the stored value first")
        self._switch(item, *self._static_switches(item))
        self._enable_engine()
        if database.name not in self._registered:
            self.engine.register(database.name, reach, admin_user, admin_password, tls=database.tls)
            self._registered.add(database.name)
        if item.dual:
            with self._admin_session(item, admin_user, admin_password) as admin:
                admin.create_twin(user, managed)
        self.engine.take_over(role, database.name, managed, self.settings.rotation_period)
        try:
            new = self.engine.static_credentials(role)
            if not can_log_in(reach, managed, new.password, tls=database.tls, timeout=self.timeout):
                raise RotationError(where, f"the static role's password does not log in as {managed}")
            if can_log_in(reach, user, old, tls=database.tls, timeout=self.timeout) != item.dual:
                raise RotationError(where, f"the old password of {user} " + (
                    "stopped working before the switch" if item.dual else "still logs in after the takeover"))
        except BaseException:
            self.engine.delete_static_role(role)
            with self._admin_session(item, admin_user, admin_password) as admin:
                if item.dual:
                    admin.drop_twin(user, managed)
                else:
                    admin.set_password(user, old)
            raise
        self._now(item, STATIC, run_id)

    def _retire_old(self, item: RotationItem, run_id: str) -> None:
        """Dual credential, once the app uses the twin: the old (leaked) password replaced by one
        nobody is told, then proved refused while the twin logs in."""
        database, target = item.database, item.target
        assert database is not None and target is not None and target.user
        reach, where = database.reached_at(target), str(item.secret.ref)
        old = self._kv_value(item)
        admin_user, admin_password = self._admin(item)
        with self._admin_session(item, admin_user, admin_password) as admin:
            admin.set_password(target.user, generate_password())
        new = self.engine.static_credentials(item.static_role)
        if can_log_in(reach, target.user, old, tls=database.tls, timeout=self.timeout):
            raise RotationError(where, f"the old password of {target.user} still logs in after it was retired")
        if not can_log_in(reach, item.twin, new.password, tls=database.tls, timeout=self.timeout):
            raise RotationError(where, f"the static role's password does not log in as {item.twin}")
        self.journal.event(run_id, "old credential retired", where)

    def _static_switches(self, item: RotationItem) -> tuple[Switch, str, Switch | None]:
        """What ``enable`` switches: the password's references to the static role's, and for a
        dual-credential secret the literal username to the static role's username."""
        assert item.target is not None and item.target.user
        to_static = Switch(item.secret.ref, self._static_ref(item), self.mounts, self.default_backend)
        return to_static, item.target.user if item.dual else "", None

    def _dynamic_switches(self, item: RotationItem) -> tuple[Switch, str, Switch | None]:
        """What ``dynamic`` switches: the password's references from the static role to the
        dynamic one, and the username: a literal (single credential) made an action, or the
        static role's username action (dual) made the dynamic one's."""
        assert item.target is not None and item.target.user
        to_dynamic = Switch(self._static_ref(item), self._dynamic_ref(item), self.mounts, self.default_backend)
        if not item.dual:
            return to_dynamic, item.target.user, None
        usernames = Switch(replace(self._static_ref(item), field="username"),
                           replace(self._dynamic_ref(item), field="username"), self.mounts, self.default_backend)
        return to_dynamic, "", usernames

    # -- dynamic ---------------------------------------------------------------------------------
    def _make_dynamic_role(self, item: RotationItem, run_id: str) -> None:
        """A dynamic role granting exactly what the static user holds; one lease proved to log in
        (then revoked) before the record says dynamic."""
        database, target = item.database, item.target
        assert database is not None and target is not None and target.user
        where, role = str(item.secret.ref), item.dynamic_role
        reach = database.reached_at(target)
        self._switch(item, *self._dynamic_switches(item))
        admin_user, admin_password = self._admin(item)
        with self._admin_session(item, admin_user, admin_password) as admin:
            grants = admin.grants_of(target.user)
        creation, revocation = dynamic_statements(grants, reach.database or "postgres")
        self.engine.create_dynamic_role(role, database.name, creation, revocation,
                                        default_ttl=self.settings.default_ttl, max_ttl=self.settings.max_ttl)
        try:
            trial = self.engine.dynamic_credentials(role)
            logged_in = can_log_in(reach, trial.username, trial.password, tls=database.tls, timeout=self.timeout)
            self.engine.revoke_leases(role)
            if not logged_in:
                raise RotationError(where, f"a user of dynamic role {role} cannot log in")
        except BaseException:
            self.engine.revoke_leases(role)
            self.engine.delete_role(role)
            raise
        self._now(item, DYNAMIC, run_id)

    # -- AWS -------------------------------------------------------------------------------------
    def _aws_rotate(self, item: RotationItem, run_id: str) -> None:
        from migrator.backends.aws import AwsBackend
        from migrator.rotate.aws_staged import StagedRotation
        from migrator.rotate.postgres import PostgresPassword

        database, target = item.database, item.target
        assert database is not None and target is not None and target.user
        backend = self.backends[item.secret.ref.backend]
        if not isinstance(backend, AwsBackend):
            raise RotationError(str(item.secret.ref), "staged rotation is for Secrets Manager secrets")
        admin_user, admin_password = self._admin(item)
        setter = PostgresPassword(database.reached_at(target), admin_user, admin_password, user=target.user,
                                  field=item.secret.ref.field, tls=database.tls, timeout=self.timeout)
        staged = StagedRotation(backend)
        staged.rotate(item.secret.ref.path, item.secret.ref.field, setter)
        staged.schedule(item.secret.ref.path, max(1, self.settings.rotation_period // 86400))
        self._now(item, AWS_STAGED, run_id)

    # -- references --------------------------------------------------------------------------------
    def _static_ref(self, item: RotationItem) -> SecretRef:
        return SecretRef(self.settings.credentials, f"static-creds/{item.static_role}", "password")

    def _dynamic_ref(self, item: RotationItem) -> SecretRef:
        return SecretRef(self.settings.credentials, f"creds/{item.dynamic_role}", "password")

    def _places(self, item: RotationItem) -> list[_Place]:
        by_file: dict[str, list[Occurrence]] = {}
        for occurrence in item.secret.occurrences:
            by_file.setdefault(occurrence.file, []).append(occurrence)
        places = []
        for occurrences in by_file.values():
            where = self.locate(occurrences[0])
            if where is not None:
                places.append(_Place(where[0], where[1], occurrences[0].style, tuple(occurrences)))
        return places

    def _switch(self, item: RotationItem, switch: Switch, username: str = "", also: Switch | None = None,
                back: bool = False) -> _Switched:
        """Every file change the switch needs, computed from the files as they are now; a file
        that cannot be switched fails the secret before anything is written. ``username``: the
        literal user name made an action of the new reference (``back``: the other way);
        ``also``: a second reference switched in the same templates (a username action)."""
        out = _Switched()
        flow = switch.reversed() if back else switch
        second = None if also is None else (also.reversed() if back else also)
        for place in self._places(item):
            where = place.host_path
            if place.style == ReferenceStyle.ANSIBLE_LOOKUP:
                if username:
                    raise SwitchError(f"{where}: a deploy-time lookup cannot follow a dynamic user")
                data = self._read(place.access)
                text, count = replace_lookups(data.decode("utf-8"), flow)
                if not count and replace_lookups(text, flow.reversed())[1] >= len(place.occurrences):
                    continue  # switched already
                self._need(count, len(place.occurrences), where, "lookup")
                self._add(out, place.access, data, text.encode("utf-8"))
                out.expect.append((place.access, flow.lookups(flow.new)[0] if count else ""))
                continue
            if place.style not in (ReferenceStyle.AGENT_TEMPLATE, ReferenceStyle.AGENT_ENV):
                raise SwitchError(f"{where}: {place.style} references are not switched by this version")
            companions = companions_for(PurePosixPath(where))
            template_path = self._rooted(place.access, where, str(companions.template))
            config_path = self._rooted(place.access, where, str(companions.config))
            read = self.files.read([template_path, config_path])
            template, config = read[template_path], read[config_path]
            if isinstance(template, bytes):
                text, count = replace_actions(template.decode("utf-8"), flow)
                if not count and replace_actions(text, flow.reversed())[1] >= len(place.occurrences):
                    continue  # switched already
                self._need(count, len(place.occurrences), where, "agent template action")
                if username:
                    text = self._username(place, text, switch, username, back)
                if second is not None:
                    text = replace_actions(text, second)[0]
                self._add(out, template_path, template, text.encode("utf-8"))
                out.expect.append((template_path, flow.action_prefix(flow.new)))
                out.units.add(companions.unit_name)
            elif isinstance(config, bytes) and place.style == ReferenceStyle.AGENT_ENV:
                text, count = replace_actions(config.decode("utf-8"), flow, hcl=True)
                if not count and replace_actions(text, flow.reversed(), hcl=True)[1] >= len(place.occurrences):
                    continue  # switched already
                self._need(count, len(place.occurrences), where, "env_template action")
                if username:
                    text = self._env_username(place, text, switch, username, back)
                if second is not None:
                    text = replace_actions(text, second, hcl=True)[0]
                self._add(out, config_path, config, text.encode("utf-8"))
                out.units.add(companions.unit_name)
            else:
                missing = template if isinstance(template, OSError) else config
                raise SwitchError(f"{where}: its agent companions cannot be read ({_reason(missing)})")
        return out

    def _username(self, place: _Place, template: str, switch: Switch, username: str, back: bool) -> str:
        if back:
            return template.replace(switch.username_action(), username)
        live, entries, doc = self._parsed(place)
        found = username_at(place.occurrences[0], entries, doc, username)
        if found is None:
            raise SwitchError(f"{place.host_path}: the file does not name the user {username} literally; "
                              "a dynamic user's name cannot be templated")
        return template_username(live, found[1], username, template, switch.username_action(), place.host_path)

    def _env_username(self, place: _Place, config: str, switch: Switch, username: str, back: bool) -> str:
        if back:
            return config.replace(switch.username_action().replace('"', '\\"'), username)
        _, entries, doc = self._parsed(place)
        found = username_at(place.occurrences[0], entries, doc, username)
        own = found[0] if found else None
        if found is None or own is None or own.key_path != place.occurrences[0].key_path:
            raise SwitchError(f"{place.host_path}: the user is named in another variable than the password's; "
                              "the agent sets only variables that held secrets (use env_mode file)")
        _, _, contents = env_template_of(config, own.key_path)
        new = template_username(own.value, found[1] - own.start, username, contents, switch.username_action(),
                                place.host_path)
        return with_env_template(config, own.key_path, new)

    def _parsed(self, place: _Place) -> tuple[str, list[Entry], Document]:
        data = self._read(place.access)
        try:
            doc, _ = Document.from_bytes(place.host_path, data)
            return doc.text, list(reader_for(doc).read(doc)), doc
        except (ReaderError, UnicodeDecodeError) as exc:
            raise SwitchError(f"{place.host_path}: cannot be read to place the user: {exc}") from None

    def _read(self, path: str) -> bytes:
        data = self.files.read([path])[path]
        if isinstance(data, OSError):
            raise SwitchError(f"{path}: cannot be read ({_reason(data)})")
        return data

    @staticmethod
    def _rooted(access: str, host_path: str, companion: str) -> str:
        """A companion's path where the file is accessed (the host's path below the same root)."""
        root = access[: len(access) - len(host_path)] if access.endswith(host_path) else ""
        return root + companion

    @staticmethod
    def _need(count: int, occurrences: int, where: str, what: str) -> None:
        if count < occurrences:
            raise SwitchError(f"{where}: {occurrences} reference(s) expected, {count} {what}(s) found: "
                              "the file changed since it was migrated")

    @staticmethod
    def _add(out: _Switched, path: str, old: bytes, new: bytes) -> None:
        """A file (or an agent companion, written the same way: atomically, its mode kept) to change."""
        out.writes.append(FileWrite(path, new, expected=old))
        out.undo.append(FileWrite(path, old, expected=new))

    def _write(self, switched: _Switched, where: str) -> None:
        """Write a secret's changes; if one fails, put back the ones written and fail."""
        errors = self.files.write(switched.writes)
        failed = [e for e in errors if e is not None]
        if failed:
            written = [undo for undo, error in zip(switched.undo, errors, strict=True) if error is None]
            if written:
                self.files.write(written)
            raise RotationError(where, f"a reference could not be switched: {failed[0]}")
        for path, text in switched.expect:
            if text and text.encode("utf-8") not in self._read(path):
                raise RotationError(where, f"{path} does not hold the new reference after the write")

    # -- vault side helpers ----------------------------------------------------------------------
    def _enable_engine(self) -> None:
        if not self._enabled:
            self.engine.enable()
            self._enabled = True

    def _admin(self, item: RotationItem) -> tuple[str, str]:
        assert item.database is not None
        if item.database.name in self._admins:
            return self._admins[item.database.name]
        stored = self.vault.read_secret(item.database.admin)
        fields = stored.fields if stored is not None and not stored.deleted else {}
        if not fields.get("username") or not fields.get("password"):
            raise RotationError(item.database.name, f"the admin credentials at {self.vault.name}:"
                                                    f"{item.database.admin} need fields username and password")
        self._admins[item.database.name] = (fields["username"], fields["password"])
        return self._admins[item.database.name]

    def _kv_value(self, item: RotationItem) -> str:
        value = self.backends[item.secret.ref.backend].read(item.secret.ref)
        if value is None:
            raise RotationError(str(item.secret.ref), "not stored in the vault: migrate it first (vaultshift apply)")
        return value

    @contextmanager
    def _admin_session(self, item: RotationItem, user: str, password: str) -> Iterator[PostgresAdmin]:
        """The run's admin session to ``item``'s database (opened on first use, or again after
        a failure broke it; closed when the run ends)."""
        assert item.database is not None and item.target is not None
        name = item.database.name
        if name not in self._sessions:
            admin = PostgresAdmin(item.database.reached_at(item.target), user, password, tls=item.database.tls,
                                  timeout=self.timeout)
            self._sessions[name] = admin.__enter__()
        try:
            yield self._sessions[name]
        except (RotationError, OSError):
            self._sessions.pop(name).__exit__(None, None, None)
            raise

    def _record(self, item: RotationItem, mode: str) -> RotationRecord:
        ref = item.secret.ref
        return RotationRecord(item.secret.fingerprint, ref.backend, ref.path, ref.field, mode,
                              item.database.name if item.database else "",
                              item.static_role if mode in (STATIC, DYNAMIC) else "",
                              item.dynamic_role if mode == DYNAMIC else "",
                              item.target.user or "" if item.target else "", item.wave)


def _reason(exc: OSError | bytes) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return "unreadable"
