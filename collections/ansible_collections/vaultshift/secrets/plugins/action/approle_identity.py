# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
"""The controller side of ``vaultshift.secrets.approle_identity`` (documented in
``plugins/modules/approle_identity.py``): secret zero for one host.

On the controller, with the operator's vault credentials, the engine's
:func:`migrator.access.secret_zero.deliver_secret_id` gets the app's role id and a fresh secret
id, response-wrapped for a short TTL: the controller holds the single-use wrapping token, never
the secret id. The module ``vaultshift.secrets.approle_unwrap`` (always ``no_log``; over
pipelining when the connection can) unwraps it on the host and writes the files. Then the secret
id the files held before is destroyed (if it was never used, it would stay valid until its TTL).

When the host cannot write the files, the new secret id is destroyed; when the wrapping token
was unwrapped before it reached the host, the secret id is destroyed and the task fails saying
so: someone else held the token. Nothing here returns or shows the token or a secret id.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ansible.errors import AnsibleActionFail
from ansible_collections.vaultshift.secrets.plugins.plugin_utils.host_files import HostFilesAction

if TYPE_CHECKING:
    from migrator.access.model import AccessModel
    from migrator.backends.vault import VaultBackend

MODULE = "vaultshift.secrets.approle_unwrap"
ARGUMENT_SPEC = dict(
    plan=dict(type="path", required=True),
    config=dict(type="path"),
    app=dict(type="str"),
    wrap_ttl=dict(type="str"),
    vault_addr=dict(type="str"),
    ca_cert=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
    role_id_file=dict(type="path", default="/etc/vaultshift/approle/role_id", no_log=False),
    secret_id_file=dict(type="path", default="/etc/vaultshift/approle/secret_id", no_log=False),
    owner=dict(type="str"),
    group=dict(type="str"),
    timeout=dict(type="int", default=10),
)


class ActionModule(HostFilesAction):
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    NAME = "vaultshift.secrets.approle_identity"

    def run(self, tmp=None, task_vars=None):
        return self._run_action(tmp, task_vars, self._deliver, ARGUMENT_SPEC)

    def _deliver(self, args: dict[str, Any], task_vars: Mapping[str, Any]) -> dict[str, Any]:
        from migrator.access.engine import load_model, vault_backend
        from migrator.access.model import AccessError
        from migrator.config import ConfigError
        from migrator.plan.planfile import PlanFileError, load

        host = self._host(task_vars)
        config = self._config(args["config"])
        try:
            model = load_model(load(self._plan_file(args["plan"])), config)
        except (PlanFileError, AccessError, ConfigError) as exc:
            raise AnsibleActionFail(str(exc)) from None
        app = args["app"] or self._app_of(model, host)
        if app is None:
            return {"changed": False, "skipped": True, "app": None,
                    "msg": f"{host}: no app of the plan runs here (give app to deliver one's identity anyway)"}
        backends = self._backends(config)
        try:
            try:
                backend = vault_backend(model.settings, backends)
                model.app(app)
            except AccessError as exc:
                raise AnsibleActionFail(str(exc)) from None
            if self._task.check_mode:
                return {"changed": True, "app": app, "role": f"{model.prefix}-{app}",
                        "msg": f"{host}: check mode: a fresh secret id of {app} would be delivered"}
            return self._deliver_to(host, model, app, backend, args, task_vars)
        finally:
            for one in backends.values():
                with contextlib.suppress(Exception):
                    one.close()

    @staticmethod
    def _app_of(model: AccessModel, host: str) -> str | None:
        """The app that runs on ``host``; None when none does; several: the task must say which."""
        apps = [app.name for app in model.apps if host in app.hosts]
        if len(apps) > 1:
            raise AnsibleActionFail(f"{host}: apps {', '.join(apps)} run here: give app (and files of its own "
                                    "for each, role_id_file and secret_id_file)")
        return apps[0] if apps else None

    def _deliver_to(self, host: str, model: AccessModel, app: str, backend: VaultBackend, args: Mapping[str, Any],
                    task_vars: Mapping[str, Any]) -> dict[str, Any]:
        from migrator.access.secret_zero import SecretZeroError, deliver_secret_id, destroy_secret_id

        def destroy(accessor: str) -> str:
            try:
                return "destroyed" if destroy_secret_id(backend, model, app, accessor) else "gone"
            except SecretZeroError as exc:
                return f"not destroyed ({exc})"

        try:
            wrapped = deliver_secret_id(backend, model, app, args["wrap_ttl"], host=host)
        except (SecretZeroError, ValueError) as exc:
            raise AnsibleActionFail(str(exc)) from None
        module_args = {
            "address": args["vault_addr"] or backend.addr, "wrapping_token": wrapped.token,
            "role_id": wrapped.role_id, "secret_id_accessor": wrapped.accessor,
            "creation_path": wrapped.creation_path, "role_id_file": args["role_id_file"],
            "secret_id_file": args["secret_id_file"], "owner": args["owner"], "group": args["group"],
            "ca_cert": args["ca_cert"], "validate_certs": args["validate_certs"],
            "namespace": backend.namespace, "timeout": args["timeout"],
        }
        self._pipelined()  # the token goes over the connection, not into a file on the host, when it can
        try:
            raw = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
        except Exception:
            outcome = destroy(wrapped.accessor)
            raise AnsibleActionFail(f"{host}: {app}: the host could not take the secret id; the secret id "
                                    f"{wrapped.accessor} was {outcome}") from None
        finally:
            del module_args
        if raw.get("failed") or raw.get("unreachable") or raw.get("_ansible_parsed") is False:
            outcome = destroy(wrapped.accessor)
            if raw.get("spent") and time.time() <= wrapped.expires_at:
                raise AnsibleActionFail(
                    f"{host}: {app}: the wrapped secret id was unwrapped before it reached the host: someone else "
                    f"held the wrapping token and may hold the secret id; the secret id accessor {wrapped.accessor} "
                    f"was {outcome}; investigate (the audit log has who unwrapped it)")
            if raw.get("spent"):
                raise AnsibleActionFail(f"{host}: {app}: the wrapped secret id expired before the host unwrapped it "
                                        f"(wrap TTL {wrapped.ttl} s): give a longer wrap_ttl; the secret id "
                                        f"{wrapped.accessor} was {outcome}")
            lines = str(raw.get("msg") or "no message").strip().splitlines()
            raise AnsibleActionFail(f"{host}: {app}: {(lines or [''])[0][:300]}; the secret id {wrapped.accessor} "
                                    f"was {outcome}")
        previous = str(raw.get("previous_accessor") or "")
        replaced = destroy(previous) if previous and previous != wrapped.accessor else ""
        out = {
            "changed": True, "app": app, "role": wrapped.role, "secret_id_accessor": wrapped.accessor,
            "role_id_file": raw.get("role_id_file"), "secret_id_file": raw.get("secret_id_file"),
            "previous_accessor": previous, "previous": replaced or "none",
            "msg": f"{host}: {app}: a fresh secret id ({wrapped.accessor}) delivered"
                   + (f"; the previous one ({previous}) was {replaced}" if replaced else ""),
        }
        del raw
        return out
