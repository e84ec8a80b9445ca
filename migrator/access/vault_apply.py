"""``vaultshift access plan|apply`` on a Vault / OpenBao server: what would change, then the change,
all of it or none of it.

Things a server holds and vaultshift manages (:class:`Managed`: ACL policies here; AppRole roles
in :mod:`migrator.access.secret_zero`) are compared with what the access model wants: each is
``create``, ``update`` or ``unchanged``. Checks come first and change nothing: a policy of the
same name that vaultshift did not write (no :data:`~migrator.access.vault_policies.MARKER`) is
a collision; an auth method the settings name that is not enabled is a missing mount. Then the
changes are made in order; if one fails, those already made are undone (the previous text put
back, or what was created deleted) and the failure is one line. Applying twice changes nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import hvac

from migrator.access.model import AccessError
from migrator.access.vault_policies import MARKER
from migrator.backends.base import BackendError, NotFound
from migrator.backends.vault import VaultBackend

CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"


@dataclass(frozen=True, slots=True)
class Managed:
    """One thing on the server: ``kind`` and ``name`` for people, ``wanted`` its desired state,
    ``read()`` its current state (None: absent), ``write(state)``, ``delete()``, and ``ours``
    (whether a current state is one vaultshift may replace). States are compared with ``==``
    and shown by ``show``; none holds a secret."""

    kind: str
    name: str
    wanted: Any
    read: Callable[[], Any]
    write: Callable[[Any], None]
    delete: Callable[[], None]
    ours: Callable[[Any], bool] = lambda current: True
    show: Callable[[Any], str] = str


@dataclass(slots=True)
class Change:
    """What applying one managed thing does: ``action`` create, update or unchanged; ``before``
    (None when absent) and ``after``, as text for display."""

    managed: Managed
    action: str
    before: Any = None

    @property
    def label(self) -> str:
        return f"{self.managed.kind} {self.managed.name}"

    def diff(self) -> str:
        before = "" if self.before is None else self.managed.show(self.before)
        after = self.managed.show(self.managed.wanted)
        lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                     f"{self.label} (now)", f"{self.label} (wanted)")
        return "".join(lines)


@dataclass(slots=True)
class AccessResult:
    changes: list[Change] = field(default_factory=list)
    applied: list[Change] = field(default_factory=list)

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != UNCHANGED]


def plan_changes(managed: Iterable[Managed]) -> list[Change]:
    """Each managed thing's change, reading the server only; AccessError on a collision."""
    out = []
    for item in managed:
        current = item.read()
        if current is None:
            out.append(Change(item, CREATE))
        elif not item.ours(current):
            raise AccessError(f"{item.kind} {item.name} exists on the server and was not written by vaultshift; "
                              "rename it, or set access.prefix so vaultshift's names differ")
        else:
            out.append(Change(item, UNCHANGED if current == item.wanted else UPDATE, current))
    return out


def apply_changes(changes: Sequence[Change]) -> list[Change]:
    """Make each pending change in order; on a failure undo the ones made (in reverse) and raise
    AccessError naming the one that failed. Returns the changes made."""
    done: list[Change] = []
    for change in changes:
        if change.action == UNCHANGED:
            continue
        try:
            change.managed.write(change.managed.wanted)
        except (BackendError, AccessError) as exc:
            undone = _undo(done)
            raise AccessError(f"{change.label}: not applied: {exc}; {undone}") from None
        done.append(change)
    return done


def _undo(done: Sequence[Change]) -> str:
    failed = []
    for change in reversed(done):
        try:
            if change.action == CREATE:
                change.managed.delete()
            else:
                change.managed.write(change.before)
        except (BackendError, AccessError):
            failed.append(change.label)
    if failed:
        return f"could not undo {', '.join(failed)}: run access apply again"
    return f"the {len(done)} change(s) made before it were undone" if done else "nothing was changed"


# -- Vault / OpenBao ----------------------------------------------------------------------------------

def policy(backend: VaultBackend, name: str, text: str) -> Managed:
    """An ACL policy of ``backend``'s server."""
    def read() -> str | None:
        def get(client: hvac.Client) -> str | None:
            try:
                response = client.adapter.get(f"/v1/sys/policies/acl/{name}")
            except hvac.exceptions.InvalidPath:
                return None
            return str(response["data"]["policy"])
        return backend.call("read policy", name, get)

    def write(value: str) -> None:
        backend.call("write policy", name, lambda c: c.adapter.put(f"/v1/sys/policies/acl/{name}",
                                                                     json={"policy": value}))

    def delete() -> None:
        backend.call("delete policy", name, lambda c: c.adapter.delete(f"/v1/sys/policies/acl/{name}"))

    return Managed("policy", name, text, read, write, delete, ours=lambda current: str(current).startswith(MARKER))


def check_auth_mounts(backend: VaultBackend, mounts: Iterable[tuple[str, str]]) -> None:
    """Each (method, mount) must be an enabled auth method of that type; AccessError names the
    first that is not, before anything changes."""
    def listing(client: hvac.Client) -> dict[str, Any]:
        return dict(client.sys.list_auth_methods()["data"])

    try:
        enabled = backend.call("list auth methods", "sys/auth", listing)
    except NotFound:
        enabled = {}
    for method, mount in mounts:
        found = enabled.get(mount.strip("/") + "/")
        if found is None:
            raise AccessError(f"auth mount {mount}/ is not enabled on {backend.name} (enable it: bao auth enable "
                              f"-path={mount} {method}), or set access.auth.{method}.mount")
        if found.get("type") != method:
            raise AccessError(f"auth mount {mount}/ on {backend.name} is a {found.get('type')} method, not {method}")
