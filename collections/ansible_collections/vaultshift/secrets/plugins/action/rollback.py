# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
"""The controller side of ``vaultshift.secrets.rollback`` (documented in ``plugins/modules/rollback.py``).

Per host: the engine's rollback (``migrator.apply.rollback``) of the last (or a named) apply run
in this host's journal on the controller, reading the host's files and writing their originals
back through the ``files`` module. The originals hold values, so they are sent only over a
pipelined connection (never into a temporary file on the host); the module's raw results are
asked for with ``no_log`` and never returned or shown.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible_collections.vaultshift.secrets.plugins.plugin_utils.host_files import (
    HostFilesAction,
    diff_entries,
    failure_message,
    state_dir,
)

ARGUMENT_SPEC = dict(
    run=dict(type="str"),
    config=dict(type="path"),
    state_dir=dict(type="path"),
    concurrency=dict(type="int", default=8),
    fingerprint_key_file=dict(type="path", no_log=False),
)


class ActionModule(HostFilesAction):
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    NAME = "vaultshift.secrets.rollback"

    def run(self, tmp=None, task_vars=None):
        return self._run_action(tmp, task_vars, self._rollback, ARGUMENT_SPEC)

    def _rollback(self, args: dict[str, Any], task_vars: Mapping[str, Any]) -> dict[str, Any]:
        from migrator.apply.rollback import rollback
        from migrator.state.journal import JOURNAL_NAME, Journal, JournalError

        host = self._host(task_vars)
        directory = state_dir(args["state_dir"], host)
        if not os.path.exists(os.path.join(directory, JOURNAL_NAME)):
            raise AnsibleActionFail(f"{os.path.join(directory, JOURNAL_NAME)}: no apply run to roll back")
        config = self._config(args["config"])
        fingerprinter, digest = self._keyed(args["fingerprint_key_file"])
        backends = self._backends(config)
        check, preview = bool(self._task.check_mode), bool(self._task.diff)
        try:
            with Journal(directory) as journal:
                result = rollback(journal, backends, fingerprinter, digest, args["run"], args["concurrency"],
                                  files=self._host_files(task_vars, private_writes=True), check=check,
                                  preview=preview)
        except JournalError as exc:
            raise AnsibleActionFail(str(exc)) from None
        problems = [str(problem) for problem in result.problems]
        out: dict[str, Any] = {
            "changed": bool(result.files_restored),
            "run_id": result.run_id or None,
            "rolled_back": result.of_run,
            "state_dir": directory,
            "files_restored": result.files_restored,
            "files_already_original": result.files_already_original,
            "restored": sorted(result.restored),
            "problems": problems,
            "msg": f"{host}: {'would restore' if check else 'restored'} {result.files_restored} files of run "
                   f"{result.of_run} ({result.files_already_original} already original), {len(problems)} problems",
        }
        if preview:
            out["diff"] = diff_entries(result.previews)
        if problems:
            out["failed"] = True
            out["msg"] = failure_message(host, problems)
        return out
