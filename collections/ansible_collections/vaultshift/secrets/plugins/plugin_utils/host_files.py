# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
"""What the actions ``vaultshift.secrets.migrate`` and ``vaultshift.secrets.rollback`` share.

:class:`HostFiles` is the engine's :class:`migrator.apply.files.FileAccess` over the module
``vaultshift.secrets.files`` on one managed host. The engine (``migrator.apply``) runs in the
action plugin, on the controller, with its journal there; only the bytes of the planned files
travel, and every decision is the engine's. ``call`` runs the module with the given arguments
(with ``no_log``) and returns its raw result, which holds file contents: it is read here and
dropped, never returned, shown or logged.

Also here: a plan narrowed to one host's occurrences, the per-host state directory, the
fingerprint key as the CLI reads it, and the diff entries of a task's result.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import errno
import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase

if TYPE_CHECKING:
    from migrator.apply.executor import FilePreview
    from migrator.apply.files import FileInfo, FileWrite
    from migrator.fingerprint import Fingerprinter
    from migrator.plan.digest import FileDigester
    from migrator.plan.models import Plan

MODULE = "vaultshift.secrets.files"
READ_BATCH = 200  # files per read request (their contents come back in one result)
STATE_ROOT = os.path.join(".vaultshift", "hosts")  # the default state directory's parent, on the controller
ENGINE_MISSING = ("{name} needs the vaultshift engine on the controller: install the Python package vaultshift "
                  "into the Python that runs ansible-playbook")

# (module arguments, private) -> the module's raw result. ``private``: the arguments carry file
# contents that must not be written to a file on the host (Ansible's remote temporary directory).
Call = Callable[[dict[str, Any], bool], Mapping[str, Any]]


class HostFiles:
    """The files of one managed host, read and written by the ``files`` module (see
    :class:`migrator.apply.files.FileAccess`). ``private_writes``: the files written hold
    values (a rollback's originals), so their contents must travel privately."""

    def __init__(self, call: Call, private_writes: bool = False) -> None:
        self._call = call
        self._private_writes = private_writes
        self._info: dict[str, FileInfo] = {}

    def read(self, paths: Sequence[str]) -> dict[str, bytes | OSError]:
        from migrator.apply.files import FileInfo

        out: dict[str, bytes | OSError] = {}
        for start in range(0, len(paths), READ_BATCH):
            asked = list(paths[start:start + READ_BATCH])
            answer = self._call({"state": "read", "paths": asked}, False)
            items = _items(answer, len(asked))
            for path, item in zip(asked, items, strict=True):
                if "error" in item:
                    out[path] = host_error(item)
                    continue
                try:
                    out[path] = base64.b64decode(item["content"], validate=True)
                    self._info[path] = FileInfo(int(str(item["mode"]), 8), int(item["uid"]), int(item["gid"]))
                except (KeyError, TypeError, ValueError):
                    raise AnsibleActionFail(f"the {MODULE} module returned an unexpected answer") from None
            del answer, items
        return out

    def stat(self, path: str) -> FileInfo:
        info = self._info.get(path)
        if info is None:
            raise OSError(errno.ENOENT, "not read from the host")
        return info

    def write(self, batch: Sequence[FileWrite], workers: int = 1) -> list[str | None]:
        """One request for the batch (the host writes its files one after another). A request
        that fails as a whole fails the task: which of its files were written is not known, and
        the journal's intents let the next run find out."""
        del workers
        if not batch:
            return []
        request = {"state": "written", "files": [_entry(item) for item in batch]}
        answer = self._call(request, self._private_writes and any(item.data is not None for item in batch))
        del request
        return [None if "error" not in item else str(host_error(item).strerror) for item in _items(answer, len(batch))]

    def remove_stale_temporaries(self, directories: Iterable[str]) -> int:
        wanted = sorted(set(directories))
        if not wanted:
            return 0
        answer = self._call({"state": "written", "files": [], "clean": wanted}, False)
        return int(answer.get("removed") or 0)


def _entry(item: FileWrite) -> dict[str, Any]:
    companions = [{"path": path, "content": base64.b64encode(data).decode("ascii"),
                   "mode": f"{item.modes.get(path, 0o600):04o}"} for path, data in sorted(item.companions.items())]
    entry: dict[str, Any] = {"path": item.path, "companions": companions, "remove": list(item.remove)}
    if item.data is not None:
        entry["content"] = base64.b64encode(item.data).decode("ascii")
        if item.expected is not None:  # without it, the module refuses to write the file
            entry["sha256"] = hashlib.sha256(item.expected).hexdigest()
    return entry


def _items(answer: Mapping[str, Any], count: int) -> list[Mapping[str, Any]]:
    items = answer.get("files")
    if not isinstance(items, list) or len(items) != count or not all(isinstance(i, Mapping) for i in items):
        raise AnsibleActionFail(f"the {MODULE} module returned an unexpected answer")
    return items


def host_error(item: Mapping[str, Any]) -> OSError:
    """The host's error as an OSError: this machine's wording of its errno when it has one (as a
    local read would say it), else the host's one line."""
    code = getattr(errno, str(item.get("errno") or ""), None)
    if isinstance(code, int):
        return OSError(code, os.strerror(code))
    return OSError(None, str(item.get("error") or "i/o error").splitlines()[0][:300])


# -- what both actions need of the engine ----------------------------------------------------------


def host_plan(plan: Plan, host: str) -> Plan:
    """The plan's occurrences on ``host`` (every occurrence when the plan names no host); a
    secret with none there is left out."""
    if not any(o.host for s in plan.secrets for o in s.occurrences):
        return plan
    secrets = []
    for secret in plan.secrets:
        mine = tuple(o for o in secret.occurrences if o.host == host)
        if mine:
            secrets.append(dataclasses.replace(secret, occurrences=mine))
    return dataclasses.replace(plan, secrets=tuple(secrets))


def state_dir(given: str | None, host: str) -> str:
    """Where this host's journal lives on the controller: ``given``, else one directory per host
    (parallel hosts never wait for one another's journal lock)."""
    if given:
        return given
    name = host.replace(os.sep, "_")
    if name in ("", ".", ".."):
        name = f"_{name}_"
    return os.path.join(STATE_ROOT, name)


def keyed(key_file: str | None) -> tuple[Fingerprinter, FileDigester]:
    """The fingerprint key as ``vaultshift apply`` reads it: ``key_file``, else
    $VAULTSHIFT_FINGERPRINT_KEY, else the user's key."""
    from migrator.cli.common import make_keyed

    return make_keyed(argparse.Namespace(fingerprint_key_file=key_file))


def diff_entries(previews: Sequence[FilePreview]) -> list[dict[str, str]]:
    """The task's ``diff``: each file before and after, secrets shown by their redacted hints."""
    return [{"before_header": p.path, "after_header": p.path, "before": p.before, "after": p.after} for p in previews]


def failure_message(host: str, problems: Sequence[object]) -> str:
    """One line for a task with problems: the first, and how many more."""
    first = str(problems[0]).splitlines()[0] if problems else "failed"
    more = f" (and {len(problems) - 1} more: see problems)" if len(problems) > 1 else ""
    return f"{host}: {first}{more}"


# -- the actions' common part ----------------------------------------------------------------------


class HostFilesAction(ActionBase):
    """An action that runs the engine on the controller over one host's files (the ``files``
    module, always with ``no_log``: its arguments and results carry file contents)."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False
    NAME = ""  # vaultshift.secrets.<name>, for messages

    def _update_module_args(self, module_name, module_args, task_vars, ignore_unknown_opts: bool = False):
        super()._update_module_args(module_name, module_args, task_vars, ignore_unknown_opts=ignore_unknown_opts)
        module_args["_ansible_no_log"] = True  # file contents, whatever the task says

    def _plan_file(self, path: str) -> str:
        """The plan on the controller: as given (absolute, or relative to the working directory),
        else looked up like a file of the play (a role's ``files/``, the playbook's directory)."""
        if os.path.isabs(path) or os.path.exists(path):
            return path
        try:
            return str(self._find_needle("files", path))
        except AnsibleError:
            return path  # the plan file's own error names it

    def _engine(self) -> None:
        try:
            import migrator.apply.executor  # noqa: F401
        except ImportError:
            raise AnsibleActionFail(ENGINE_MISSING.format(name=self.NAME)) from None

    def _host_files(self, task_vars: Mapping[str, Any], private_writes: bool = False) -> HostFiles:
        return HostFiles(lambda args, private: self._call(task_vars, args, private), private_writes)

    def _call(self, task_vars: Mapping[str, Any], module_args: dict[str, Any], private: bool) -> Mapping[str, Any]:
        """Run the files module on the host; its failure as one line, never its output."""
        if private and not self._pipelined():
            raise AnsibleActionFail(
                f"{self.NAME} sends file contents that hold secrets to the host, and this connection would write "
                "them into a temporary file there: it needs pipelining (set ANSIBLE_PIPELINING=true or the "
                "connection's pipelining option; no become_method su, no ANSIBLE_KEEP_REMOTE_FILES)")
        raw = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
        if raw.get("failed") or raw.get("unreachable") or raw.get("_ansible_parsed") is False:
            lines = str(raw.get("msg") or "no message").strip().splitlines()
            raise AnsibleActionFail(f"the {MODULE} module failed on the host: {(lines or [''])[0][:300]}")
        return raw

    def _pipelined(self) -> bool:
        """Module arguments go over the connection (pipelining), never into a file on the host:
        turned on for this task when the connection can do it."""
        connection = self._connection
        if connection.has_pipelining:
            with contextlib.suppress(Exception):  # a connection without the option: its own setting stands
                connection.set_option("pipelining", True)
        return bool(self._is_pipelining_enabled("new"))

    def _host(self, task_vars: Mapping[str, Any]) -> str:
        return str(task_vars.get("inventory_hostname", ""))

    def _keyed(self, key_file: str | None) -> tuple[Fingerprinter, FileDigester]:
        from migrator.fingerprint import FingerprintKeyError

        try:
            return keyed(key_file)
        except (FingerprintKeyError, ValueError, OSError) as exc:
            raise AnsibleActionFail(str(exc)) from None

    def _config(self, path: str | None) -> Any:
        """The configuration as ``vaultshift apply --config`` reads it (default ./vaultshift.yml
        on the controller, else Vault at $VAULT_ADDR)."""
        from migrator.config import ConfigError, load_config

        try:
            return load_config(path)
        except ConfigError as exc:
            raise AnsibleActionFail(str(exc)) from None

    def _backends(self, config: Any) -> Any:
        from migrator.backends import backends_from_config
        from migrator.config import ConfigError

        try:
            return backends_from_config(config)
        except (ConfigError, ValueError) as exc:
            raise AnsibleActionFail(str(exc)) from None

    def _run_action(self, tmp: Any, task_vars: Mapping[str, Any] | None,
                    body: Callable[[dict[str, Any], Mapping[str, Any]], dict[str, Any]],
                    spec: Mapping[str, Any]) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self.validate_argument_spec(argument_spec=dict(spec))[1]
        if int(args.get("concurrency") or 1) < 1:
            raise AnsibleActionFail("concurrency: give a whole number of at least 1")
        self._engine()
        try:
            result.update(body(args, task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
