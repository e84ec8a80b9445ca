# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
"""The controller side of ``vaultshift.secrets.rotate`` (documented in ``plugins/modules/rotate.py``).

Phase 3 over a fleet, one step per task, each the engine's own (:class:`migrator.rotate.waves.Rotator`
run with ``steps=(step,)``, as ``vaultshift rotate`` runs all three at once):

- ``classify``, on each host: the plan's files there read through the ``files`` module and
  classified (:func:`migrator.rotate.classify.classify_plan`); only what the files say of each
  database (engine, host, port, user, database name) comes back, never a value.
- ``vault``, once, on the controller: the hosts' classifications merged, each secret's mode and
  wave decided, the wave's vault side done; the controller's journal records where each secret
  stands. ``moved`` names the secrets whose record this step changed: what the playbook rolls
  back when a later step fails.
- ``references``, on each host holding a secret of the wave: that host's references switched
  through the ``files`` module (agent templates and lookups hold references, never values);
  where each secret stands is read from the controller's journal, the run is recorded in the
  host's own journal (hosts run in parallel, never waiting for one lock).
- ``finish``, once, on the controller: a rollback's roles removed and its records written.

A failed step does not roll the wave back (a failed vault step undoes its own vault side); the
playbook does, with the ``rollback`` action over the secrets the vault step moved.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible_collections.vaultshift.secrets.plugins.plugin_utils.host_files import (
    HostFiles,
    HostFilesAction,
    failure_message,
    host_plan,
    state_dir,
)

if TYPE_CHECKING:
    from migrator.apply.files import FileInfo, FileWrite
    from migrator.plan.models import Occurrence, Plan
    from migrator.rotate.inventory import RotationItem
    from migrator.rotate.waves import Rotator, WaveResult

CLASSIFY, VAULT, REFERENCES, FINISH = "classify", "vault", "references", "finish"
ACTIONS = ("enable", "dynamic", "rollback")

ARGUMENT_SPEC = dict(
    step=dict(type="str", required=True, choices=[CLASSIFY, VAULT, REFERENCES, FINISH]),
    action=dict(type="str", choices=list(ACTIONS)),
    wave=dict(type="str"),
    plan=dict(type="path", required=True),
    config=dict(type="path"),
    state_dir=dict(type="path"),
    classified=dict(type="list", elements="dict"),
    secrets=dict(type="list", elements="str", no_log=False),
)


@dataclass(frozen=True, slots=True)
class _Wave:
    """One step's share of a wave: its secrets (in order), the wave order, the hosts holding them."""

    action: str
    name: str
    items: list[RotationItem]
    order: list[str]
    hosts: list[str]
    config: Any
    settings: Any
    controller: str  # the controller journal's directory


class ActionModule(HostFilesAction):
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    NAME = "vaultshift.secrets.rotate"

    def run(self, tmp=None, task_vars=None):
        return self._run_action(tmp, task_vars, self._rotate, ARGUMENT_SPEC)

    def _rotate(self, args: dict[str, Any], task_vars: Mapping[str, Any]) -> dict[str, Any]:
        host = self._host(task_vars)
        plan = self._load_plan(args["plan"])
        relative = sorted({o.file for s in plan.secrets for o in s.occurrences if not o.file.startswith("/")})
        if relative:
            raise AnsibleActionFail(f"the plan names {relative[0]} relative to nothing: make it with HOST=DIR sources "
                                    "or absolute paths")
        if args["step"] == CLASSIFY:
            return self._classify(plan, host, task_vars)
        missing = [name for name in ("action", "wave", "classified") if args[name] is None]
        if missing:
            raise AnsibleActionFail(f"step {args['step']} needs {', '.join(missing)} (classified: the classify "
                                    "step's results of every host, merged)")
        wave = self._wave(plan, host, args)
        if self._task.check_mode:
            return self._would(args["step"], wave, host)
        if args["step"] == REFERENCES:
            return self._references(plan, wave, host, task_vars)
        return self._on_controller(args["step"], wave)

    # -- the plan and the wave -------------------------------------------------------------------
    def _load_plan(self, path: str) -> Plan:
        """The plan on the controller: as given, else looked up like a file of the play."""
        from migrator.plan.planfile import PlanFileError, load

        try:
            return load(self._plan_file(path))
        except PlanFileError as exc:
            raise AnsibleActionFail(str(exc)) from None

    def _wave(self, plan: Plan, host: str, args: Mapping[str, Any]) -> _Wave:
        """The secrets of the wave, decided as ``vaultshift rotate`` decides them, from the
        hosts' classifications; refused when a host holding one of them did not classify."""
        from migrator.config import ConfigError
        from migrator.rotate.classify import merge_classified
        from migrator.rotate.inventory import STATIC, decide_items, in_wave
        from migrator.rotate.settings import rotation_settings

        config = self._config(args["config"])
        try:
            settings = rotation_settings(config)
        except ConfigError as exc:
            raise AnsibleActionFail(str(exc)) from None
        classified: list[Mapping[str, Any]] = args["classified"]
        items = decide_items(plan, settings, config, merge_classified(plan, classified))
        order = settings.wave_names(sorted({h for i in items for h in i.hosts}))
        name = args["wave"]
        if name != "all" and name not in order:
            raise AnsibleActionFail(f"wave {name}: no such wave (the waves: {', '.join(order)}, or all)")
        chosen = in_wave(items, name, order)
        if args["action"] == "rollback":  # the last wave first, as the CLI rolls back
            chosen.sort(key=lambda i: order.index(i.wave), reverse=True)
        if args["secrets"] is not None:
            wanted = set(args["secrets"])
            chosen = [i for i in chosen if i.secret.fingerprint in wanted]
        hostless = not any(o.host for s in plan.secrets for o in s.occurrences)
        switched = [i for i in chosen if i.mode == STATIC]  # the secrets whose references move
        taking_part = {str(d["host"]) for d in classified if d.get("host")}
        if not hostless and taking_part:
            for item in switched:
                absent = sorted(set(item.hosts) - taking_part)
                if absent:
                    raise AnsibleActionFail(
                        f"{item.secret.ref}: also on {absent[0]}, which did not classify its files in this run; every "
                        "host holding a secret of the wave must take part (its references move with the password)")
        hosts = [host] if hostless and switched else sorted({h for i in switched for h in i.hosts})
        return _Wave(args["action"], name, chosen, order, hosts, config, settings,
                     args["state_dir"] or _controller_dir())

    # -- classify --------------------------------------------------------------------------------
    def _classify(self, plan: Plan, host: str, task_vars: Mapping[str, Any]) -> dict[str, Any]:
        from migrator.rotate.classify import DATABASE, classify_plan

        mine = host_plan(plan, host)
        paths = sorted({o.file for s in mine.secrets for o in s.occurrences})
        read = self._host_files(task_vars).read(paths) if paths else {}

        def contents(path: str) -> bytes:
            data = read.get(path)
            if isinstance(data, bytes):
                return data
            raise data if isinstance(data, OSError) else OSError(errno.ENOENT, os.strerror(errno.ENOENT))

        try:
            found = classify_plan(mine, contents)
        finally:
            unreadable = sorted(path for path, data in read.items() if isinstance(data, OSError))
            read.clear()  # the files' bytes, read and dropped
        databases = sum(one.category == DATABASE for one in found)
        return {"changed": False, "classified": [dict(one.to_dict(), host=host) for one in found],
                "unreadable": unreadable,
                "msg": f"{host}: {len(found)} secrets, {databases} database credentials"
                       + (f"; {len(unreadable)} files could not be read" if unreadable else "")}

    # -- vault, finish: once, on the controller ----------------------------------------------------
    def _on_controller(self, step: str, wave: _Wave) -> dict[str, Any]:
        from migrator.rewrite.base import kv_mounts
        from migrator.rotate.errors import RotationError
        from migrator.rotate.waves import Rotator
        from migrator.state.journal import Journal, JournalError

        backends = self._backends(wave.config)
        try:
            with Journal(wave.controller) as journal:
                try:
                    rotator = Rotator(wave.settings, backends, journal, kv_mounts(wave.config.backends),
                                      wave.config.default_backend, files=_NO_FILES, locate=_nowhere)
                except RotationError as exc:
                    raise AnsibleActionFail(str(exc)) from None
                before = _modes(journal.rotations())
                result, stopped = _run(rotator, wave, step)
                after = _modes(journal.rotations())
        except JournalError as exc:
            raise AnsibleActionFail(str(exc)) from None
        finally:
            for backend in backends.values():
                backend.close()
        moved = [i.secret.fingerprint for i in wave.items
                 if before.get(i.secret.fingerprint, "kv") != after.get(i.secret.fingerprint, "kv")]
        out = self._result(step, wave, result, stopped, f"wave {wave.name}")
        out.update(moved=moved, hosts=wave.hosts, waves=wave.order, state_dir=wave.controller)
        if step == FINISH and wave.action != "rollback":
            out["changed"] = False  # enable and dynamic have nothing to finish
        return out

    # -- references: each host ---------------------------------------------------------------------
    def _references(self, plan: Plan, wave: _Wave, host: str, task_vars: Mapping[str, Any]) -> dict[str, Any]:
        from migrator.rewrite.base import kv_mounts
        from migrator.rotate.errors import RotationError
        from migrator.rotate.waves import Rotator
        from migrator.state.journal import Journal, JournalError, read_rotations

        hostless = not any(o.host for s in plan.secrets for o in s.occurrences)

        def here(occurrence: Occurrence) -> bool:
            return hostless or occurrence.host == host

        def locate(occurrence: Occurrence) -> tuple[str, str] | None:
            return (occurrence.file, occurrence.file) if here(occurrence) else None

        mine = [i for i in wave.items if any(here(o) for o in i.secret.occurrences)]
        files = _Recorded(self._host_files(task_vars))
        directory = os.path.join(wave.controller, "hosts", os.path.basename(state_dir(None, host)))
        backends = self._backends(wave.config)
        try:
            with Journal(directory) as journal:
                try:
                    rotator = Rotator(wave.settings, backends, journal, kv_mounts(wave.config.backends),
                                      wave.config.default_backend, files=files, locate=locate,
                                      rotations=lambda: read_rotations(wave.controller))
                except RotationError as exc:
                    raise AnsibleActionFail(str(exc)) from None
                result, stopped = _run(rotator, _Wave(wave.action, wave.name, mine, wave.order, wave.hosts,
                                                      wave.config, wave.settings, wave.controller), REFERENCES)
        except JournalError as exc:
            raise AnsibleActionFail(str(exc)) from None
        finally:
            for backend in backends.values():
                backend.close()
        out = self._result(REFERENCES, wave, result, stopped, host)
        written = sorted(files.written)
        out.update(changed=bool(written), files=written, units=sorted(result.agent_units) if result else [],
                   hosts=wave.hosts, waves=wave.order, state_dir=directory)
        return out

    # -- results ---------------------------------------------------------------------------------
    def _result(self, step: str, wave: _Wave, result: WaveResult | None, stopped: str,
                where: str) -> dict[str, Any]:
        outcomes = [] if result is None else [
            {"ref": o.ref, "mode": o.mode, "action": o.action, "detail": o.detail} for o in result.outcomes]
        done = [o for o in outcomes if o["action"] not in ("skipped", "failed")]
        problems = [o["detail"] if o["detail"].startswith(o["ref"]) else f"{o['ref']}: {o['detail']}"
                    for o in outcomes if o["action"] == "failed"]  # the engine's errors mostly name the secret
        if stopped:
            problems.append(stopped)
        out: dict[str, Any] = {
            "changed": bool(done), "step": step, "action": wave.action, "wave": wave.name,
            "run_id": result.run_id if result else None, "outcomes": outcomes,
            "rolled_back": list(result.rolled_back) if result else [], "problems": problems,
            "msg": f"{where}: {wave.action} ({step} step): {len(done)} done, "
                   f"{sum(o['action'] == 'skipped' for o in outcomes)} skipped, {len(problems)} problems",
        }
        if problems:
            out["failed"] = True
            out["msg"] = failure_message(f"{where}: {wave.action} ({step} step)", problems)
            if out["rolled_back"]:
                out["msg"] += f"; its vault side undone for {len(out['rolled_back'])} secret(s)"
        return out

    def _would(self, step: str, wave: _Wave, host: str) -> dict[str, Any]:
        """Check mode: where each secret of the wave stands and how it would rotate; nothing is
        changed (a database password cannot be changed for pretend)."""
        from migrator.state.journal import JournalError, read_rotations

        try:
            modes = _modes(read_rotations(wave.controller))
        except JournalError as exc:
            raise AnsibleActionFail(str(exc)) from None
        items = wave.items if step != REFERENCES else [i for i in wave.items if host in i.hosts or not any(i.hosts)]
        planned = [{"ref": str(i.secret.ref), "wave": i.wave, "rotation": i.mode,
                    "mode": modes.get(i.secret.fingerprint, "kv"), "blocked": i.blocked} for i in items]
        where = host if step == REFERENCES else f"wave {wave.name}"
        return {"changed": False, "step": step, "action": wave.action, "wave": wave.name, "planned": planned,
                "hosts": wave.hosts, "waves": wave.order, "moved": [], "units": [], "outcomes": [], "problems": [],
                "msg": f"{where}: check mode: {wave.action} ({step} step) would take {len(planned)} secret(s); "
                       "nothing changed (a rotation cannot be simulated)"}


# -- helpers --------------------------------------------------------------------------------------


def _controller_dir() -> str:
    from migrator.cli.rotate import DEFAULT_STATE_DIR

    return DEFAULT_STATE_DIR


def _nowhere(occurrence: Occurrence) -> None:
    """On the controller no file of the fleet is reachable."""
    del occurrence


def _modes(records: Mapping[str, Any]) -> dict[str, str]:
    return {fingerprint: str(record.mode) for fingerprint, record in records.items()}


def _run(rotator: Rotator, wave: _Wave, step: str) -> tuple[WaveResult | None, str]:
    """The engine's run of one step; an exception the engine does not report per secret is
    named by its type only (its text is not known to be free of values)."""
    try:
        return rotator.run(wave.action, wave.items, wave.name, steps=(step,)), ""
    except AnsibleError:
        raise
    except Exception as exc:
        return None, f"the {step} step stopped: {type(exc).__name__} (the journal has the run)"


class _Recorded:
    """A host's files, remembering which paths were written (for the agents to restart)."""

    def __init__(self, files: HostFiles) -> None:
        self._files = files
        self.written: set[str] = set()

    def read(self, paths: Sequence[str]) -> dict[str, bytes | OSError]:
        return self._files.read(paths)

    def stat(self, path: str) -> FileInfo:
        return self._files.stat(path)

    def write(self, batch: Sequence[FileWrite], workers: int = 1) -> list[str | None]:
        errors = self._files.write(batch, workers)
        self.written.update(item.path for item, error in zip(batch, errors, strict=True) if error is None)
        return errors

    def remove_stale_temporaries(self, directories: Iterable[str]) -> int:
        return self._files.remove_stale_temporaries(directories)


class _NoFiles:
    """The controller's stand-in for a fleet's files: nothing to read or write here."""

    def read(self, paths: Sequence[str]) -> dict[str, bytes | OSError]:
        return {path: OSError(errno.ENOENT, "not on the controller") for path in paths}

    def stat(self, path: str) -> FileInfo:
        raise OSError(errno.ENOENT, "not on the controller")

    def write(self, batch: Sequence[FileWrite], workers: int = 1) -> list[str | None]:
        return ["not on the controller"] * len(batch)

    def remove_stale_temporaries(self, directories: Iterable[str]) -> int:
        return 0


_NO_FILES = _NoFiles()
