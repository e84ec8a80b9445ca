"""Self-service secret creation (``vaultshift put PATH KEY``): one key of a secret written through a
developer's write-only policy, and the references to paste into config.

A write-only policy forbids reading values, so the backends' own ``write`` (read, merge, write
back under check-and-set) cannot be used. Instead:

Vault / OpenBao, KV v2
    The path's metadata (versions, no values: the team policy grants ``read`` on it) says whether
    the secret exists. When it does, the key is merged on the server by an HTTP PATCH with a JSON
    merge patch (``patch`` capability; hvac's ``kv.v2.patch`` reads first, which is denied); when
    it does not, it is created with ``cas=0``. When the latest version is deleted, a new version
    holding only the key is written with ``cas`` at that version (the deleted one stays
    undeletable). Without metadata access the PATCH's 404 says the path is absent. A race with
    another writer (a create that lost, a delete between) is another round. ``replace`` writes the
    whole secret as ``{KEY: value}`` instead of merging.
    ``KEY:source`` (``vaultshift put``) and ``KEY:first_seen`` are merged into ``custom_metadata``
    as ``apply`` records them, when the token may ``patch`` the metadata (asked of
    ``sys/capabilities-self`` first, so a policy without it leaves no denied request in the
    audit log); otherwise the result says they were not recorded.
AWS Secrets Manager
    A secret is one JSON object of keys, and adding a key to it means reading the others
    (GetSecretValue, which a write-only policy denies). So a secret that does not exist is created
    as ``{KEY: value}`` (version 1, with the key's ``source`` / ``first_seen`` tags); one that exists
    is refused in one line, unless ``replace``: then ``{KEY: value}`` becomes its whole value (the
    next vaultshift-numbered version; the other keys' per-key tags are removed). One secret per
    key was the alternative, and was not taken: references would no longer be ``PATH#KEY`` of
    the secret the migration wrote, and a path would become many secrets to grant and rotate.
    Needs: CreateSecret, PutSecretValue, DescribeSecret, ListSecretVersionIds (and TagResource,
    UntagResource for the tags) on the team's names; never GetSecretValue.

Refused before anything is sent, one line each, never naming the value: an empty value, one over
:data:`MAX_VALUE_BYTES`, a path or key the reference styles cannot hold (the rules of
:func:`migrator.rewrite.base.check_ref`). A denied write is :class:`PutDenied`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrator.backends.base import Backend, CasMismatch, Forbidden, check_path, metadata_key
from migrator.plan.models import SecretRef
from migrator.rewrite.base import KvMount, RewriteError, check_ref

if TYPE_CHECKING:
    import hvac

    from migrator.backends.aws import AwsBackend
    from migrator.backends.vault import VaultBackend

__all__ = [
    "MAX_VALUE_BYTES",
    "SOURCE",
    "PutDenied",
    "PutError",
    "PutResult",
    "check_target",
    "check_value",
    "kv_mount",
    "paste_references",
    "put_secret",
]

MAX_VALUE_BYTES = 64 * 1024  # Secrets Manager's SecretString limit; far above any credential
SOURCE = "vaultshift put"
ROUNDS = 3  # attempts when another writer creates or deletes the path between our calls
CREATED, UPDATED, REPLACED = "created", "updated", "replaced"
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*\Z")


class PutError(ValueError):
    """The secret cannot be written as asked; one line naming the path, never the value."""


class PutDenied(PutError):
    """The store's policy refused the write (HTTP 403, AccessDenied)."""


@dataclass(frozen=True, slots=True)
class PutResult:
    """What :func:`put_secret` wrote: the ``ref``, the ``version`` now current, the ``action``
    (``created``: the secret now holds only this key, ``updated``: the key was merged into it,
    ``replaced``: the whole secret was replaced by this key), whether the key's ``source`` /
    ``first_seen`` metadata was recorded, and a ``note`` saying why not. It never holds the value."""

    ref: SecretRef
    version: int
    action: str
    metadata_recorded: bool
    note: str = ""

    @property
    def created(self) -> bool:
        return self.action == CREATED

    def __repr__(self) -> str:
        return (f"PutResult(ref={str(self.ref)!r}, backend={self.ref.backend!r}, version={self.version}, "
                f"action={self.action!r}, metadata_recorded={self.metadata_recorded})")


def check_target(backend: str, path: str, key: str) -> SecretRef:
    """The reference ``path`` and ``key`` make in ``backend``; PutError when a reference style could
    not hold them or they could leave the backend's prefix (checked before a value is asked for)."""
    problem = check_path(path)
    if problem:
        raise PutError(f"path {path!r}: {problem}")
    ref = SecretRef(backend, path, key)
    try:
        check_ref(ref)
    except RewriteError as exc:
        raise PutError(f"{path}#{key}: {exc}") from None
    return ref


def check_value(value: str, ref: SecretRef) -> None:
    """PutError for an empty value or one over :data:`MAX_VALUE_BYTES` (the message never holds it)."""
    if not value:
        raise PutError(f"{ref}: empty value; nothing written")
    size = len(value.encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        raise PutError(f"{ref}: the value is {size} bytes, more than {MAX_VALUE_BYTES // 1024} KiB; nothing written")


def put_secret(backend: Backend, path: str, key: str, value: str, *, replace: bool = False) -> PutResult:
    """Write ``value`` as ``key`` of the secret at ``path`` without reading any value (see the
    module's docstring for each store). PutError (PutDenied for a policy's refusal) or
    :class:`~migrator.backends.errors.BackendError`, one line each, never with the value."""
    ref = check_target(backend.name, path, key)
    check_value(value, ref)
    stamp = {metadata_key(key, "source"): SOURCE,
             metadata_key(key, "first_seen"): time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        if backend.type == "vault":
            from migrator.backends.vault import VaultBackend

            assert isinstance(backend, VaultBackend)
            return _VaultPut(backend, ref).put(value, stamp, replace)
        if backend.type == "aws":
            from migrator.backends.aws import AwsBackend

            assert isinstance(backend, AwsBackend)
            return _AwsPut(backend, ref).put(value, stamp, replace)
    except Forbidden as exc:
        if exc.operation == "write":
            raise PutDenied(f"not allowed to write {path}: your policy (a team's write-only policy?) does not "
                            "cover it") from None
        # Secrets Manager's --replace numbers the new version from DescribeSecret and ListSecretVersionIds.
        raise PutDenied(f"not allowed to read {path}'s description and versions (no values), which --replace needs: "
                        "your policy does not cover it") from None
    raise PutError(f"backend {backend.name!r} is a {backend.type} backend: put writes to Vault/OpenBao KV v2 or "
                   "AWS Secrets Manager")


def kv_mount(backend: Backend) -> KvMount | None:
    """Where an agent template reads ``backend``'s secrets (None: not a Vault KV backend)."""
    if backend.type != "vault":
        return None
    from migrator.backends.vault import VaultBackend

    assert isinstance(backend, VaultBackend)
    return KvMount(backend.mount, backend.prefix)


def paste_references(ref: SecretRef, default_backend: str, mount: KvMount | None) -> dict[str, str]:
    """Style -> the text that reads ``ref`` there: ``lookup`` (Ansible), ``agent`` (a template
    action) and ``env`` (an agent ``env_template`` block, when ``KEY`` upper-cased is a variable
    name) for a Vault KV backend (``mount``), ``terraform`` (a data source block). The backend is
    named only when it is not ``default_backend``, as the rewriters write them."""
    from migrator.rewrite.agent_config import hcl_string, secret_action
    from migrator.rewrite.ansible_lookup import expression
    from migrator.rewrite.terraform import SECRET_TYPE, preferred_name

    named = ref.backend if ref.backend != default_backend else None
    out = {"lookup": "{{ " + expression(ref.path, ref.field, named) + " }}"}
    if mount is not None:
        action = secret_action(mount, ref)
        out["agent"] = action
        variable = re.sub(r"[^A-Za-z0-9_]", "_", ref.field).upper()
        if _ENV_NAME.match(variable):
            out["env"] = "\n".join([f"env_template {hcl_string(variable)} {{",
                                    f"  contents             = {hcl_string(action)}",
                                    "  error_on_missing_key = true", "}"])
    lines = [f'data "{SECRET_TYPE}" "{preferred_name(ref)}" {{', f'  path = "{ref.path}"', f'  key  = "{ref.field}"']
    if named:
        lines.append(f'  backend = "{named}"')
    out["terraform"] = "\n".join([*lines, "}"])
    return out


# ---- Vault / OpenBao KV v2 -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _KvState:
    """What the metadata says of a path: ``exists`` (None: the token may not read the metadata),
    the current ``version``, whether it is ``live`` (not deleted or destroyed), its custom metadata."""

    exists: bool | None
    version: int = 0
    live: bool = False
    custom: Mapping[str, str] | None = None


class _VaultPut:
    """One put on a Vault KV v2 backend: the URLs of the path's data and metadata."""

    def __init__(self, backend: VaultBackend, ref: SecretRef) -> None:
        from hvac import utils as hvac_utils

        self.backend = backend
        self.ref = ref
        self.full = backend.kv_path(ref.path)
        self.data_url = hvac_utils.format_url("/v1/{mount}/data/{path}", mount=backend.mount, path=self.full)
        self.metadata_url = hvac_utils.format_url("/v1/{mount}/metadata/{path}", mount=backend.mount, path=self.full)
        self.metadata_path = f"{backend.mount}/metadata/{self.full}"

    def put(self, value: str, stamp: Mapping[str, str], replace: bool) -> PutResult:
        for _ in range(ROUNDS):
            state = self._state()
            written = self._write(state, value, replace)
            if written is not None:
                version, action = written
                remove = [k for k in (state.custom or {}) if k.rpartition(":")[0] not in ("", self.ref.field)] \
                    if action == REPLACED else []
                recorded, note = self._record(stamp, remove)
                return PutResult(self.ref, version, action, recorded, note)
        raise PutError(f"{self.ref}: not written: the path kept changing under other writers, or its latest version "
                       "is deleted and your policy cannot read its metadata to write past it")

    def _write(self, state: _KvState, value: str, replace: bool) -> tuple[int, str] | None:
        """(version, action) once written; None when another writer got in between (go again)."""
        try:
            if state.exists is None:  # metadata not readable: the PATCH's 404 tells an absent path
                if replace:
                    return self._create(value, None), REPLACED
                version = self._patch(value)
                return (version, UPDATED) if version is not None else (self._create(value, 0), CREATED)
            if not state.exists:
                return self._create(value, 0), CREATED
            if replace:
                return self._create(value, state.version), REPLACED
            if not state.live:  # the latest version is deleted: start afresh past it
                return self._create(value, state.version), CREATED
            version = self._patch(value)
            return (version, UPDATED) if version is not None else None
        except CasMismatch:
            return None

    def _state(self) -> _KvState:
        try:
            response = self.backend.kv_metadata(self.ref.path)
        except Forbidden:
            return _KvState(None)
        if response is None:
            return _KvState(False)
        data = response.get("data") or {}
        version = int(data.get("current_version") or 0)
        latest = (data.get("versions") or {}).get(str(version)) or {}
        live = version > 0 and not latest.get("deletion_time") and not latest.get("destroyed")
        custom = {str(k): str(v) for k, v in (data.get("custom_metadata") or {}).items()}
        return _KvState(True, version, live, custom)

    def _patch(self, value: str) -> int | None:
        """Merge the key into the latest version on the server; None when there is none to merge
        into (absent, or deleted)."""
        def patch(client: hvac.Client) -> Any:
            import hvac.exceptions

            try:
                return client.adapter.request("PATCH", self.data_url, json={"data": {self.ref.field: value}},
                                              headers={"Content-Type": "application/merge-patch+json"})
            except hvac.exceptions.InvalidPath as exc:
                if exc.errors:
                    raise
                return None

        response = self.backend.call("write", self.ref.path, patch, values=[value])
        if response is None:
            return None
        return int(((response if isinstance(response, dict) else {}).get("data") or {}).get("version") or 0)

    def _create(self, value: str, cas: int | None) -> int:
        """Write ``{KEY: value}`` as the new version (``cas`` 0: the path must be absent; None: no check)."""
        response = self.backend.call("write", self.ref.path, lambda c: c.secrets.kv.v2.create_or_update_secret(
            path=self.full, secret={self.ref.field: value}, cas=cas, mount_point=self.backend.mount), values=[value])
        return int(((response or {}).get("data") or {}).get("version") or (cas or 0) + 1)

    def _record(self, stamp: Mapping[str, str], remove: list[str]) -> tuple[bool, str]:
        """Merge ``stamp`` into the path's custom_metadata (and drop ``remove``) if the token may
        patch the metadata: (recorded, why not)."""
        from migrator.backends.base import BackendError

        denied = (False, f"{self.ref}: source/first_seen metadata not recorded: your policy may not patch "
                         f"{self.metadata_path}")
        try:
            response = self.backend.call("check capabilities", self.ref.path, lambda c: c.adapter.post(
                "/v1/sys/capabilities-self", json={"paths": [self.metadata_path]}))
            data = (response.get("data") or {}) if isinstance(response, dict) else {}
            capabilities = set(data.get(self.metadata_path) or data.get("capabilities") or [])
            if not capabilities & {"patch", "root"}:
                return denied
        except BackendError:
            pass  # no capabilities-self in this token's policies: the patch itself tells
        patch: dict[str, str | None] = {k: None for k in remove}
        patch.update(stamp)
        try:
            self.backend.call("write metadata", self.ref.path, lambda c: c.adapter.request(
                "PATCH", self.metadata_url, json={"custom_metadata": patch},
                headers={"Content-Type": "application/merge-patch+json"}))
        except Forbidden:
            return denied
        except BackendError as exc:  # the value is stored: say so, and why the metadata is not
            return False, f"source/first_seen metadata not recorded: {exc}"
        return True, ""


# ---- AWS Secrets Manager ---------------------------------------------------------------------------

class _AwsPut:
    """One put on a Secrets Manager backend."""

    def __init__(self, backend: AwsBackend, ref: SecretRef) -> None:
        self.backend = backend
        self.ref = ref
        self.name = backend.secret_name(ref.path)

    def put(self, value: str, stamp: Mapping[str, str], replace: bool) -> PutResult:
        text = json.dumps({self.ref.field: value}, ensure_ascii=False)
        try:
            exists: bool | None = self.backend.describe(self.ref.path) is not None
        except Forbidden:  # no DescribeSecret: the create's ResourceExistsException tells
            exists = None
        if not exists:
            try:
                return self._create(text, value, stamp, numbered=exists is False)
            except CasMismatch:  # ResourceExistsException: created meanwhile, or exists (not described)
                pass
        if not replace:
            raise PutError(f"{self.ref.path} already exists in Secrets Manager ({self.backend.name}): adding "
                           f"{self.ref.field} to it means reading its other keys, which a write-only policy does "
                           f"not allow; ask an operator, or give --replace to make {self.ref.field} its only key")
        return self._replace(text, value, stamp)

    def _create(self, text: str, value: str, stamp: Mapping[str, str], numbered: bool) -> PutResult:
        """Create the secret as version 1: vaultshift's token for it only when DescribeSecret said
        it is absent (on a secret that exists, a create with the token of an identical version 1
        would succeed without writing)."""
        from migrator.backends.aws import VERSION_TOKEN

        kwargs: dict[str, Any] = {"Name": self.name, "SecretString": text}
        if numbered:
            kwargs["ClientRequestToken"] = VERSION_TOKEN.format(1)
        if self.backend.kms_key_id:
            kwargs["KmsKeyId"] = self.backend.kms_key_id
        tagged = {**kwargs, "Tags": [{"Key": k, "Value": v} for k, v in stamp.items()]}
        try:
            self.backend.call("write", self.ref.path, lambda c: c.create_secret(**tagged), [value])
            return PutResult(self.ref, 1, CREATED, True)
        except Forbidden:  # creating with tags also needs TagResource: without them, if that was it
            self.backend.call("write", self.ref.path, lambda c: c.create_secret(**kwargs), [value])
            return PutResult(self.ref, 1, CREATED, False, f"{self.ref}: source/first_seen tags not recorded: your "
                                                          "policy may not tag the secret")

    def _replace(self, text: str, value: str, stamp: Mapping[str, str]) -> PutResult:
        from migrator.backends.aws import CURRENT, VERSION_TOKEN

        path = self.ref.path
        for _ in range(ROUNDS):
            info = self.backend.describe(path)
            if info is None:
                raise PutError(f"{path}: deleted while being replaced; run put again")
            if info.get("DeletedDate") is not None:
                raise PutError(f"{path} is scheduled for deletion in Secrets Manager ({self.backend.name}): an "
                               "operator can restore it first")
            stages: dict[str, list[str]] = info.get("VersionIdsToStages") or {}
            current_id = next((vid for vid, names in stages.items() if CURRENT in names), None)
            current = self.backend.version_of(path, current_id) if current_id else 0
            number = self.backend.next_version(path, current)
            try:
                self._put_version(text, value, VERSION_TOKEN.format(number))
            except CasMismatch:
                continue
            tags = {str(t["Key"]): str(t.get("Value", "")) for t in info.get("Tags") or []
                    if not str(t["Key"]).startswith("aws:")}
            stale = [k for k in tags if k.rpartition(":")[0] not in ("", self.ref.field)]
            try:
                self.backend.update_tags(path, stamp, stale, current_tags=tags)
            except Forbidden:
                return PutResult(self.ref, number, REPLACED, False, f"{self.ref}: source/first_seen tags not "
                                                                     "recorded: your policy may not tag the secret")
            return PutResult(self.ref, number, REPLACED, True)
        raise PutError(f"{self.ref}: not written: other writers kept adding versions; run put again")

    def _put_version(self, text: str, value: str, token: str) -> None:
        self.backend.call("write", self.ref.path, lambda c: c.put_secret_value(
            SecretId=self.name, SecretString=text, ClientRequestToken=token), [value])
