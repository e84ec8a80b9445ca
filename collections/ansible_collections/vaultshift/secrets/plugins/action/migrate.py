# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
"""The controller side of ``vaultshift.secrets.migrate`` (documented in ``plugins/modules/migrate.py``).

Per host: the plan's occurrences on this host, and the engine's Executor exactly as
``vaultshift apply`` builds it (``migrator.cli.apply.make_executor``: backends, mounts, agent
options, render check, fingerprint key, journal), reading and writing the host's files through
the ``files`` module. The journal stays on the controller, one per host. The module's raw
results hold file contents: they are asked for with ``no_log`` and never returned or shown.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible_collections.vaultshift.secrets.plugins.plugin_utils.host_files import (
    HostFilesAction,
    diff_entries,
    failure_message,
    host_plan,
    state_dir,
)

ARGUMENT_SPEC = dict(
    plan=dict(type="path", required=True),
    config=dict(type="path"),
    state_dir=dict(type="path"),
    agent_check=dict(type="str", choices=["auto", "always", "never"], default="auto"),
    concurrency=dict(type="int", default=8),
    fingerprint_key_file=dict(type="path", no_log=False),
)


class ActionModule(HostFilesAction):
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    NAME = "vaultshift.secrets.migrate"

    def run(self, tmp=None, task_vars=None):
        return self._run_action(tmp, task_vars, self._migrate, ARGUMENT_SPEC)

    def _migrate(self, args: dict[str, Any], task_vars: Mapping[str, Any]) -> dict[str, Any]:
        from migrator.cli.apply import check_plan_key, make_executor
        from migrator.cli.common import UsageError
        from migrator.plan.planfile import PlanFileError, load
        from migrator.state.journal import JournalError

        host = self._host(task_vars)
        source = self._plan_file(args["plan"])
        try:
            plan = load(source)
        except PlanFileError as exc:
            raise AnsibleActionFail(str(exc)) from None
        fingerprinter, digest = self._keyed(args["fingerprint_key_file"])
        try:
            check_plan_key(plan, fingerprinter, source)
        except UsageError as exc:
            raise AnsibleActionFail(str(exc)) from None
        plan = host_plan(plan, host)
        if not plan.secrets:
            return {"changed": False, "skipped": True, "msg": f"{host}: the plan has nothing on this host"}
        relative = sorted({o.file for s in plan.secrets for o in s.occurrences if not o.file.startswith("/")})
        if relative:
            raise AnsibleActionFail(f"the plan names {relative[0]} relative to nothing: make it with HOST=DIR sources "
                                    "or absolute paths")
        config = self._config(args["config"])
        check, preview = bool(self._task.check_mode), bool(self._task.diff)
        directory = state_dir(args["state_dir"], host)
        try:
            with self._journal(directory, check) as journal:
                executor = make_executor(plan, config, journal, fingerprinter, digest, args["agent_check"],
                                         args["concurrency"], files=self._host_files(task_vars), check=check,
                                         preview=preview)
                result = executor.apply()
        except (UsageError, JournalError, ValueError) as exc:  # ConfigError is a ValueError
            raise AnsibleActionFail(str(exc)) from None
        problems = [str(problem) for problem in result.problems]
        out: dict[str, Any] = {
            "changed": bool(result.secrets_stored or result.files_rewritten),
            "run_id": result.run_id or None,
            "state_dir": directory,
            "secrets_stored": result.secrets_stored,
            "secrets_already_stored": result.secrets_already_stored,
            "files_rewritten": result.files_rewritten,
            "files_already_done": result.files_already_done,
            "stored": sorted(result.stored),
            "rewritten": sorted(result.rewritten),
            "problems": problems,
            "msg": _summary(host, result, check),
        }
        if preview:
            out["diff"] = diff_entries(result.previews)
        if problems:
            out["failed"] = True
            out["msg"] = failure_message(host, problems)
        return out

    @contextlib.contextmanager
    def _journal(self, directory: str, check: bool) -> Iterator[Any]:
        """The host's journal; in check mode, when it does not exist yet, an empty one that is
        thrown away (check mode leaves nothing behind, on the host or here)."""
        from migrator.state.journal import JOURNAL_NAME, Journal

        if check and not os.path.exists(os.path.join(directory, JOURNAL_NAME)):
            with tempfile.TemporaryDirectory(prefix="vaultshift-check-") as scratch, \
                    Journal(os.path.join(scratch, "state")) as journal:
                yield journal
            return
        with Journal(directory) as journal:
            yield journal


def _summary(host: str, result: Any, check: bool) -> str:
    """The CLI's summary line, for the host (what would be done, in check mode)."""
    stored = f"{result.secrets_stored} secrets ({result.secrets_already_stored} already there)"
    rewritten = f"{result.files_rewritten} files ({result.files_already_done} already done)"
    if check:
        return f"{host}: would store {stored} and rewrite {rewritten}, {len(result.problems)} problems"
    return f"{host}: stored {stored}, rewrote {rewritten}, {len(result.problems)} problems"
