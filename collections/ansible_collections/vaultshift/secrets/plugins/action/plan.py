# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
"""The controller side of ``vaultshift.secrets.plan`` (documented in ``plugins/modules/plan.py``):
the engine's :func:`migrator.plan.fleet.plan_from_scans` and its plan file writer."""

from __future__ import annotations

import argparse
import collections
import os
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

ARGUMENT_SPEC: dict[str, Any] = {
    "scans": {"type": "list", "elements": "dict", "required": True},
    "dest": {"type": "path", "required": True},
    "config": {"type": "path"},
    "groups": {"type": "dict"},
    "fingerprint_key_file": {"type": "path"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        try:
            from migrator.cli.common import UsageError, make_keyed
            from migrator.config import ConfigError, load_config
            from migrator.plan import planfile, summary
            from migrator.plan.fleet import FleetScanError, plan_from_scans
        except ImportError:
            raise AnsibleActionFail("vaultshift.secrets.plan needs the vaultshift package on the controller") from None
        groups = args["groups"] if args["groups"] is not None else task_vars.get("groups") or {}
        try:
            config = load_config(args["config"]) if args["config"] else load_config()
            fingerprinter = make_keyed(argparse.Namespace(fingerprint_key_file=args["fingerprint_key_file"]))[0]
            outcome = plan_from_scans(args["scans"], config, fingerprinter.key_id, groups)
        except (ConfigError, FleetScanError, UsageError, ValueError) as exc:
            raise AnsibleActionFail(str(exc)) from None
        plan = outcome.plan
        text = planfile.dumps(plan)
        dest = args["dest"]
        try:
            with open(dest, encoding="utf-8") as existing:
                changed = existing.read() != text
        except OSError:
            changed = True
        if changed and not self._task.check_mode:
            try:
                planfile.save(dest, plan)
            except planfile.PlanFileError as exc:
                raise AnsibleActionFail(str(exc)) from None
        occurrences = [o for s in plan.secrets for o in s.occurrences]
        result.update(
            changed=changed, dest=os.path.abspath(dest), secrets=len(plan.secrets), occurrences=len(occurrences),
            files=len({(o.host, o.file) for o in occurrences}),
            backends=dict(sorted(collections.Counter(s.ref.backend for s in plan.secrets).items())),
            styles=dict(sorted(collections.Counter(str(o.style) for o in occurrences).items())),
            notes=list(plan.notes), errors=[f"{e['path']}: {e['reason']}" for e in plan.errors],
            summary=summary.render(plan, outcome.stats))
        return result
