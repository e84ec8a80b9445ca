"""The interface every secret store implements, and the logic all of them share.

The layering follows hvac: the store's client library is the HTTP adapter (hvac, botocore); a
backend module is the API area (how a vaultshift path maps to the store's calls, and which
failure means what); :mod:`migrator.backends.errors` holds the exceptions mapped from status
codes. This module holds what does not depend on the store: merging fields into a path with
check-and-set (so two fields of one path never clobber each other), idempotent writes, deleting
one field, retries with backoff, and keeping values out of messages, reprs and logs.

A backend stores, at each path, a set of named string fields and the path's metadata (Vault
``custom_metadata``, AWS tags). Metadata that describes one field (``source``, ``first_seen``,
``fingerprint``) is kept under ``<field>:<name>`` keys, so the fields of one path keep theirs apart.
"""

from __future__ import annotations

import builtins
import copy
import logging
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from migrator.backends.errors import (
    AuthError,
    BackendError,
    CasMismatch,
    Forbidden,
    InvalidSecret,
    NotFound,
    Sealed,
    Unavailable,
)
from migrator.backends.retry import RetryPolicy
from migrator.plan.models import SecretRef

__all__ = [
    "AuthError",
    "Backend",
    "BackendError",
    "CasMismatch",
    "Forbidden",
    "InvalidSecret",
    "NotFound",
    "Sealed",
    "StoreOutcome",
    "StoredSecret",
    "Unavailable",
    "check_path",
    "metadata_key",
]

log = logging.getLogger("migrator.backends")
T = TypeVar("T")

MERGE_ATTEMPTS = 10  # read-modify-write rounds before a write gives up on concurrent writers
MERGE_BACKOFF = (0.01, 0.5)  # first and longest random wait between rounds, in seconds
_METADATA_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def metadata_key(field: str, name: str) -> str:
    """The path-level metadata key that holds ``name`` (``source``, ``fingerprint``, ...) for ``field``."""
    return f"{field}:{name}"


def check_path(path: str, *, prefix: bool = False) -> str | None:
    """Why ``path`` cannot name a secret (None when it can): it must be relative, without empty,
    ``.`` or ``..`` segments or control characters, so it can never leave the backend's prefix.
    With ``prefix=True`` (a listing prefix) it may be empty, partial or end with ``/``."""
    if not path:
        return None if prefix else "empty path"
    if _CONTROL.search(path):
        return "control character in path"
    if path.startswith("/"):
        return "path must be relative (no leading /)"
    segments = path.split("/")
    if prefix and segments[-1] == "":
        segments = segments[:-1]
    if any(segment in ("", ".", "..") for segment in segments):
        return "empty, '.' or '..' segment in path"
    return None


@dataclass(frozen=True, slots=True, repr=False)
class StoredSecret:
    """What a backend holds at one path: its ``fields`` (name -> value), the path's ``metadata``
    (Vault custom_metadata or AWS tags, vaultshift's per-field keys included), the current
    ``version`` (KV v2 version; for AWS, vaultshift's version counter), and whether the secret is
    ``deleted`` (a soft-deleted Vault version, an AWS secret scheduled for deletion: then
    ``fields`` is empty), and when that version was ``created``. Its repr names the fields, never their values."""

    path: str
    fields: dict[str, str]
    metadata: dict[str, str]
    version: int
    deleted: bool = False
    created: float | None = None  # when the current version was written (epoch seconds), when the store says

    def __repr__(self) -> str:
        return (f"StoredSecret(path={self.path!r}, fields={sorted(self.fields)!r}, version={self.version}, "
                f"deleted={self.deleted})")

    def field_metadata(self, field: str) -> dict[str, str]:
        """The metadata written for ``field`` (``{"fingerprint": ..., "source": ...}``)."""
        out = {}
        for key, value in self.metadata.items():
            owner, sep, name = key.rpartition(":")
            if sep and owner == field:
                out[name] = value
        return out

    def holds(self, fields: Mapping[str, str], metadata: Mapping[str, str] | None = None) -> bool:
        """Whether every one of ``fields`` and ``metadata`` is already stored with that value."""
        return (not self.deleted and all(self.fields.get(k) == v for k, v in fields.items())
                and all(self.metadata.get(k) == v for k, v in (metadata or {}).items()))


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What :meth:`Backend.store` did: the ``version`` now current, and whether it ``wrote`` the
    value (False: the field already held it and was left alone)."""

    version: int
    wrote: bool


class _Unread:
    """The state of a path that has not been read yet (``None`` means read and absent)."""


_UNREAD = _Unread()


class Backend(ABC):
    """A secret store reached through one configured backend: holds the configured ``name`` (used
    in every message) and the retry policy. Subclasses implement the primitives (``_get``,
    ``_put``, ``_patch_metadata``, ``_remove``, ``_list``) and map their client's failures to
    :class:`BackendError` classes in ``_translate``; everything public is built here on them.

    A backend is not thread-safe: use one per thread (:meth:`clone` makes another).
    """

    type: ClassVar[str]
    # Whether ``_put`` with ``previous=None`` is itself conditional: the store refuses to create
    # over a secret that exists and says so as CasMismatch (Vault's cas=0). Then a caller's word
    # that a path is new (``store(..., absent=True)``) can save the read before the write: when
    # the word is wrong, the refusal costs one round of the merge, never a clobbered secret.
    creates_conditionally: ClassVar[bool] = False

    def __init__(self, name: str, retry: RetryPolicy | None = None) -> None:
        self.name = name
        self.retry = retry if retry is not None else RetryPolicy()
        self._sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def clone(self) -> Backend:
        """Another backend with the same settings and no connection of its own yet (it logs in
        on first use), for another thread. NotImplementedError for a store that cannot."""
        twin = copy.copy(self)
        twin._disconnect()
        return twin

    def _disconnect(self) -> None:
        """Forget the client (a clone gets its own); stores that support :meth:`clone` override it."""
        raise NotImplementedError(f"{type(self).__name__} cannot be cloned")

    def close(self) -> None:  # noqa: B027 - optional: a store with nothing to end keeps this
        """End what the backend holds on the store's side (Vault: the token it logged in for);
        nothing by default."""

    # ---- the interface -------------------------------------------------------------------

    def read_secret(self, path: str, version: int | None = None) -> StoredSecret | None:
        """Everything at ``path`` (every field, the metadata, the version); None when absent.

        With ``version`` (1 or more: a KV v2 version, an AWS version vaultshift numbered), that
        version instead: its fields, the path's current metadata (neither store versions it);
        ``deleted`` when the version was deleted (or destroyed); what a version that does not
        exist gives depends on the store (see its module)."""
        self._check(path, "read")
        if version is None:
            return self._get(path)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError(f"read {path}: version must be a whole number from 1, not {version!r}")
        return self._get(path, version)

    def read(self, ref: SecretRef) -> str | None:
        """The value of ``ref``'s field; None when the path or the field is absent (or deleted)."""
        stored = self.read_secret(ref.path)
        return None if stored is None else stored.fields.get(ref.field)

    def read_metadata(self, ref: SecretRef) -> dict[str, str] | None:
        """The metadata written for ``ref``'s field; None when the field is absent."""
        stored = self.read_secret(ref.path)
        if stored is None or ref.field not in stored.fields:
            return None
        return stored.field_metadata(ref.field)

    def write(self, ref: SecretRef, value: str, metadata: Mapping[str, str] | None = None,
              cas: int | None = None) -> int:
        """Store ``value`` as ``ref``'s field, keeping the path's other fields, and ``metadata``
        (``source``, ``first_seen``, ``fingerprint``, ...) for that field; return the version.

        ``cas`` is the version the caller last saw (0: the path must not hold a secret yet); a
        store that moved on raises :class:`CasMismatch`. Without ``cas`` the write merges into
        whatever is current, itself guarded by check-and-set and retried when another writer got
        in between. Writing what is already stored changes nothing and returns the current version.
        """
        return self._write(ref.path, {ref.field: value}, self._field_metadata(ref, metadata), cas, shown=str(ref))[0]

    def store(self, ref: SecretRef, value: str, metadata: Mapping[str, str] | None = None, *,
              absent: bool = False) -> StoreOutcome:
        """:meth:`write` ``value`` as ``ref``'s field unless the field already holds it: then
        nothing is written and its metadata is kept as the first writer left it (only metadata
        names it lacks are added). One read fewer than :meth:`read` then :meth:`write`.

        ``absent=True`` is the caller's word that nothing is stored at the path yet (its journal
        never stored anything there). A store that creates conditionally (Vault: cas=0) then
        writes without reading first; if the word was wrong, the store refuses the create and the
        write goes on as without it (read, merge under check-and-set). Other stores read anyway.
        """
        version, wrote = self._write(ref.path, {ref.field: value}, self._field_metadata(ref, metadata), None,
                                     shown=str(ref), keep=True,
                                     current=None if absent and self.creates_conditionally else _UNREAD)
        return StoreOutcome(version, wrote)

    def _field_metadata(self, ref: SecretRef, metadata: Mapping[str, str] | None) -> dict[str, str]:
        names = dict(metadata or {})
        bad = [name for name in names if not _METADATA_NAME.match(name)]
        if bad:
            raise ValueError(f"metadata name {bad[0]!r}: use letters, digits, '_', '.' and '-'")
        return {metadata_key(ref.field, k): v for k, v in names.items()}

    def write_fields(self, path: str, fields: Mapping[str, str], metadata: Mapping[str, str] | None = None,
                     cas: int | None = None) -> int:
        """Store several ``fields`` at ``path`` in one version, and path-level ``metadata`` keys
        as given (what ``copy`` uses); merge and ``cas`` as in :meth:`write`."""
        return self._write(path, dict(fields), dict(metadata or {}), cas, shown=path)[0]

    def delete(self, ref: SecretRef) -> None:
        """Remove ``ref``'s field (and its metadata) in a new version; when it is the path's last
        field, soft-delete the secret (a Vault version can be undeleted, an AWS secret restored
        within its recovery window). Absent already: nothing to do."""
        self._check(ref.path, "delete", str(ref))
        for round_ in range(MERGE_ATTEMPTS):
            self._back_off(round_)
            current = self._get(ref.path)
            if current is None or ref.field not in current.fields:
                return
            remaining = {k: v for k, v in current.fields.items() if k != ref.field}
            if not remaining:
                self._remove(ref.path, current)
                return
            stale = [key for key in current.metadata if key.rpartition(":")[0] == ref.field]
            try:
                self._put(ref.path, remaining, current, {}, stale)
                return
            except CasMismatch:
                continue
        raise CasMismatch(self.name, "delete", str(ref), f"gave up after {MERGE_ATTEMPTS} concurrent changes")

    # ``list`` last: inside the class body the name shadows the builtin from here on.
    def list(self, prefix: str = "") -> builtins.list[str]:
        """The paths (relative to the backend's prefix) that start with ``prefix``, sorted."""
        problem = check_path(prefix, prefix=True)
        if problem:
            raise BackendError(self.name, "list", prefix, problem)
        return sorted(set(self._list(prefix)))

    # ---- shared logic ------------------------------------------------------------------------

    def _check(self, path: str, operation: str, shown: str | None = None) -> None:
        problem = check_path(path)
        if problem:
            raise BackendError(self.name, operation, shown or path, problem)

    def _write(self, path: str, fields: dict[str, str], metadata: dict[str, str], cas: int | None,
               shown: str, *, keep: bool = False,
               current: StoredSecret | _Unread | None = _UNREAD) -> tuple[int, bool]:
        """Merge ``fields`` and ``metadata`` into ``path``: (the version now current, whether
        anything was written). ``current`` is what the path holds when the caller already knows
        (None: nothing), else it is read. With ``keep``, fields that already hold these values
        are left as they are, and of the metadata only names not there yet are written."""
        self._check(path, "write", shown)
        if not fields:
            raise ValueError("write: no fields given")
        for key, value in [*fields.items(), *metadata.items()]:
            if not isinstance(key, str) or not key or not isinstance(value, str):
                raise TypeError(f"write {shown}: field and metadata names and values must be strings "
                                f"({key!r} is not)")
        assumed = current is None  # the caller's word that the path is new, not a read
        wait = True
        for round_ in range(MERGE_ATTEMPTS):
            if wait:
                self._back_off(round_)
            wait = True
            if isinstance(current, _Unread):
                current = self._get(path)
            version = current.version if current is not None else 0
            if current is not None and current.holds(fields, metadata):
                return version, False  # already stored (also: our own earlier attempt whose reply was lost)
            if cas is not None and cas != version:
                raise CasMismatch(self.name, "write", shown,
                                  f"check-and-set expected version {cas}, the store has version {version}")
            wanted = metadata
            if keep and current is not None and current.holds(fields):
                wanted = {k: v for k, v in metadata.items() if k not in current.metadata}
                if not wanted:
                    return version, False
            changed = {k: v for k, v in wanted.items() if current is None or current.metadata.get(k) != v}
            if current is not None and current.holds(fields):
                self._patch_metadata(path, current, changed, ())
                return version, not keep
            merged = {**(current.fields if current is not None else {}), **fields}
            try:
                return self._put(path, merged, current, changed, ()), True
            except CasMismatch:
                if assumed:  # the word was wrong: go on as if the path had been read first
                    assumed, wait, current = False, False, _UNREAD
                    continue
                latest = self._get(path)
                if latest is not None and latest.holds(fields, metadata):
                    return latest.version, True
                if cas is not None:
                    raise
                current = _UNREAD  # read again after the wait: the other writer may not be done
        raise CasMismatch(self.name, "write", shown, f"gave up after {MERGE_ATTEMPTS} concurrent changes")

    def _back_off(self, round_: int) -> None:
        """Before another read-modify-write round: a random wait, longer each time, so writers
        that keep colliding on one path spread out."""
        if round_:
            first, longest = MERGE_BACKOFF
            self._sleep(random.uniform(0, min(first * 2**round_, longest)))

    def _request(self, operation: str, path: str, call: Callable[[], T], values: Iterable[str] = ()) -> T:
        """``call()``, its failures translated; transient ones retried with backoff.

        ``values`` are the secret values the request carries: a server message that quotes one is
        withheld. Logs name the operation and path, never a value.
        """
        secrets: Collection[str] = tuple(values)
        delays = self.retry.delays()
        attempt = 0
        while True:
            try:
                return call()
            except BackendError:
                raise
            except Exception as exc:
                error = self._translate(exc, operation, path, secrets)
                if error is None:
                    raise
                log.debug("%s: %s %s: %s from the client", self.name, operation, path, type(exc).__name__)
            if not error.retryable:
                raise error
            wait = next(delays, None)
            if wait is None:
                if attempt:
                    error = type(error)(self.name, operation, path, f"{error.reason} (gave up after {attempt} "
                                                                   f"{'retry' if attempt == 1 else 'retries'})")
                raise error
            attempt += 1
            log.info("%s: %s %s: %s; retry %d of %d in %.2f s", self.name, operation, path, error.reason, attempt,
                     self.retry.retries, wait)
            self._sleep(wait)

    # ---- what each store implements -----------------------------------------------------------

    @abstractmethod
    def _translate(self, exc: Exception, operation: str, path: str, values: Collection[str]) -> BackendError | None:
        """The :class:`BackendError` that ``exc`` (raised by the client) means; None for a bug."""

    @abstractmethod
    def _get(self, path: str, version: int | None = None) -> StoredSecret | None:
        """What is stored at ``path`` (a soft-deleted secret: ``deleted`` and no fields), or None;
        with ``version``, that version (only :meth:`read_secret` passes one)."""

    @abstractmethod
    def _put(self, path: str, fields: dict[str, str], previous: StoredSecret | None,
             set_metadata: Mapping[str, str], remove_metadata: Collection[str]) -> int:
        """Replace the fields at ``path`` with ``fields`` in a new version, on condition that the
        store is still at ``previous`` (check-and-set: :class:`CasMismatch` otherwise), then set
        and remove metadata keys; return the new version."""

    @abstractmethod
    def _patch_metadata(self, path: str, previous: StoredSecret, set_metadata: Mapping[str, str],
                        remove_metadata: Collection[str]) -> None:
        """Set and remove metadata keys of the secret at ``path``, leaving the others alone."""

    @abstractmethod
    def _remove(self, path: str, previous: StoredSecret) -> None:
        """Soft-delete the secret at ``path``."""

    @abstractmethod
    def _list(self, prefix: str) -> builtins.list[str]:
        """Paths starting with ``prefix`` (relative to the backend's own prefix)."""
