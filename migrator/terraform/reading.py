"""What the Terraform provider reads, through vaultshift's engine: a secret (every key, or one) at
a path of one configured backend, and the one-line failures Terraform shows as diagnostics.

No Terraform or plugin-framework code here: :class:`SecretReader` takes the provider's settings
(:class:`ProviderSettings`: ``config``, ``backend``, ``address``, ``token``, ``namespace``) and
builds backends with :func:`migrator.session.options.choose_backend`, the same choice the Ansible
lookup makes, so a reference rewritten for either tool reads the same store. Unset settings fall
back as the backends do: ``$VAULT_ADDR``, ``$VAULT_TOKEN`` (or the token env the configuration
names), ``./vaultshift.yml`` in Terraform's working directory.

A plan must not hang on a dead store: a backend whose settings name no ``timeout`` or ``retries``
gets the provider's shorter ones (:data:`PROVIDER_TIMEOUT`, :data:`PROVIDER_RETRIES`), and once
a backend could not be reached, the run's other reads of it fail at once with the same reason
(for :data:`UNREACHABLE_MEMORY` seconds) instead of each waiting out the timeouts again.

Every message names the backend, the path and the key (an unreachable backend's: its address;
a deleted secret's: what can still be read), never a value.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from migrator.backends import AuthError, Backend, BackendError, Forbidden, NotFound, StoredSecret, Unavailable
from migrator.config import ConfigError
from migrator.session.options import choose_backend

PROVIDER_TIMEOUT = 5.0  # seconds per request, unless the backend's settings say otherwise
PROVIDER_RETRIES = 1  # retries of a transient failure, unless the backend's settings say otherwise
UNREACHABLE_MEMORY = 60.0  # seconds a backend found unavailable is not tried again
# How vault.py and aws.py word an Unavailable that got no answer at all (no connection, a broken
# exchange; a timeout), as against a server that answered 5xx or throttled.
_NO_CONNECTION = ("cannot connect to ", "connection to ")
_NO_ANSWER = " did not answer within "


class ReadFailure(Exception):
    """A read the provider cannot answer: ``summary`` is the diagnostic's title (``Secret not
    found``, ``Secret deleted``, ``Key not found``, ``Access denied``, ``Backend unreachable``,
    ...), the message one line naming the backend, path and key."""

    def __init__(self, summary: str, message: str) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """The provider block's attributes; None where not set. ``cwd`` is where a relative
    ``config`` path (and the implicit ``vaultshift.yml``) is looked up: Terraform's working directory."""

    config: str | None = None
    backend: str | None = None
    address: str | None = None
    token: str | None = field(default=None, repr=False)
    namespace: str | None = None
    cwd: str = "."

    def options(self, backend: str | None) -> dict[str, Any]:
        """The lookup-style options :func:`choose_backend` reads (``backend`` overrides the default)."""
        return {"config": self.config, "backend": backend or self.backend, "url": self.address,
                "token": self.token, "namespace": self.namespace}


@dataclass(frozen=True, slots=True, repr=False)
class SecretReading:
    """What was read at ``path`` of ``backend``: every key's value (``values``), the ``version``
    read, and ``key`` when one key was asked for. Its repr names the keys, never their values."""

    backend: str
    path: str
    values: dict[str, str]
    version: int
    key: str | None = None

    @property
    def value(self) -> str | None:
        """The asked-for key's value; None when no key was asked for."""
        return None if self.key is None else self.values[self.key]

    def __repr__(self) -> str:
        return f"SecretReading(backend={self.backend!r}, path={self.path!r}, keys={sorted(self.values)!r}, " \
               f"version={self.version}, key={self.key!r})"


@dataclass(slots=True)
class _HeldBackend:
    """One backend of a :class:`SecretReader`: the store, the lock its reads take turns on, and
    when it was found unavailable (``monotonic`` time, and the failure), if it was."""

    store: Backend
    lock: threading.Lock = field(default_factory=threading.Lock)
    unavailable: tuple[float, Unavailable] | None = None


class SecretReader:
    """Reads secrets for one configured provider; keeps one backend per backend name (one login
    for all the data sources of a run). Safe to call from several threads (one read at a time
    per backend); :meth:`close` revokes the tokens the backends logged in for."""

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self._backends: dict[str, _HeldBackend] = {}
        self._lock = threading.Lock()

    def read(self, path: str, key: str | None = None, version: int | None = None,
             backend: str | None = None) -> SecretReading:
        """The secret at ``path`` (``version``, else the current one) of ``backend`` (else the
        provider's, else the configuration's default); with ``key``, that key must be in it.
        Raises :class:`ReadFailure` (one line, no value)."""
        shown = f"{path}#{key}" if key else path
        if version is not None and version < 1:
            raise ReadFailure("Invalid version", f"read {shown}: version must be 1 or more, not {version}")
        held = self._backend(backend)
        store = held.store
        with held.lock:
            if held.unavailable is not None and time.monotonic() - held.unavailable[0] < UNREACHABLE_MEMORY:
                raise _unavailable(store, held.unavailable[1], shown, again=True)
            try:
                found = store.read_secret(path, version=version)
            except (Forbidden, AuthError) as exc:
                raise ReadFailure("Access denied", _message(exc, path, shown)) from None
            except NotFound as exc:
                raise ReadFailure("Secret not found", _message(exc, path, shown)) from None
            except Unavailable as exc:
                held.unavailable = (time.monotonic(), exc)
                raise _unavailable(store, exc, shown, again=False) from None
            except BackendError as exc:
                raise ReadFailure("Backend error", _message(exc, path, shown)) from None
            except ValueError as exc:
                raise ReadFailure("Invalid argument", f"{store.name}: read {shown}: {exc}") from None
            if found is not None and found.deleted:  # still holding the lock: the explanation may ask the store
                raise ReadFailure("Secret deleted", f"{store.name}: read {shown}: {_deleted(store, found, version)}")
        if found is None:
            state = f"no version {version} at this path" if version is not None else \
                "no secret at this path (never written, or deleted with all its versions)"
            raise ReadFailure("Secret not found", f"{store.name}: read {shown}: {state}")
        if key is not None and key not in found.fields:
            keys = ", ".join(sorted(found.fields)) or "none"
            raise ReadFailure("Key not found", f"{store.name}: read {path}: no key {key!r} in the secret "
                                               f"(its keys: {keys})")
        return SecretReading(store.name, path, dict(found.fields), found.version, key)

    def _backend(self, name: str | None) -> _HeldBackend:
        wanted = name or self.settings.backend or ""
        with self._lock:
            held = self._backends.get(wanted)
            if held is None:
                try:
                    built = build_backend(self.settings, name)
                except ConfigError as exc:
                    raise ReadFailure("Configuration error", str(exc)) from None
                held = self._backends[wanted] = _HeldBackend(built)
            return held

    def close(self) -> None:
        """Revoke what the backends logged in for (a given token is left alone); failures ignored."""
        with self._lock:
            held, self._backends = list(self._backends.values()), {}
        for one in held:
            with contextlib.suppress(Exception):  # best effort at exit: a leftover lease expires on its own
                one.store.close()


def build_backend(settings: ProviderSettings, name: str | None = None) -> Backend:
    """The backend ``name`` (else the provider's, else the configuration's default) as the
    provider reads it: with :data:`PROVIDER_TIMEOUT` and :data:`PROVIDER_RETRIES` where its
    settings name no ``timeout`` or ``retries``. Raises ConfigError (one line)."""
    choice = choose_backend(settings.options(name), settings.cwd)
    defaults = {"timeout": PROVIDER_TIMEOUT, "retries": PROVIDER_RETRIES}
    return replace(choice, settings={**defaults, **choice.settings}).build()


def _message(exc: BackendError, path: str, shown: str) -> str:
    """``exc``'s one line, naming the key as well as the path when one was asked for."""
    where = f"{exc.operation} {shown if exc.path == path else exc.path}".strip()
    return f"{exc.backend}: {where}: {exc.reason}"


def _address(store: Backend) -> str:
    """Where ``store`` is reached: a Vault address, a Secrets Manager endpoint (or region)."""
    if store.type == "aws":
        from migrator.backends.aws import AwsBackend

        if isinstance(store, AwsBackend):
            return store.endpoint_url or f"Secrets Manager in {store.region or 'the default region'}"
    from migrator.backends.vault import VaultBackend

    return store.addr if isinstance(store, VaultBackend) else store.name


def _unavailable(store: Backend, exc: Unavailable, shown: str, again: bool) -> ReadFailure:
    """The diagnostic for a backend that did not answer (``Backend unreachable``) or answered
    with a failure (``Backend unavailable``), naming its address; ``again``: an earlier read of
    this run found it so, and this one was not tried."""
    reason = exc.reason
    unreachable = reason.startswith(_NO_CONNECTION) or _NO_ANSWER in reason
    address = _address(store)
    if address not in reason:
        reason = f"{address}: {reason}"
    if again:
        reason += "; an earlier read of this run found it so, not tried again"
    return ReadFailure("Backend unreachable" if unreachable else "Backend unavailable",
                       f"{store.name}: read {shown}: {reason}")


def _deleted(store: Backend, found: StoredSecret, version: int | None) -> str:
    """Why the deleted secret ``found`` cannot be read, and what still can be: another version,
    the version once undeleted, the secret once restored."""
    if store.type == "aws":
        from migrator.backends.aws import AwsBackend

        name = store.secret_name(found.path) if isinstance(store, AwsBackend) else found.path
        return (f"the secret {name} is scheduled for deletion; restore it (aws secretsmanager restore-secret) "
                "within its recovery window to read it again")
    which = f"version {found.version}" + ("" if version is not None else ", the current one,")
    states = _vault_versions(store, found.path)
    if states is None:  # the metadata is not readable: say what may be tried
        earlier = f"; an earlier version may still be read (version = {found.version - 1})" \
            if found.version > 1 else ""
        return f"{which} is deleted or destroyed{earlier}; undelete it if it was only deleted"
    state = states.get(found.version, "deleted")
    readable = [number for number, kind in states.items() if kind == "live" and number != found.version]
    advice = [f"read version {max(readable)} instead (version = {max(readable)})"] if readable else []
    if state == "deleted":
        advice.append(f"undelete version {found.version}")
    return f"{which} is {state}; " + (", or ".join(advice) if advice else "no other version can be read")


def _vault_versions(store: Backend, path: str) -> dict[int, str] | None:
    """Each version KV v2 keeps at ``path`` of a Vault / OpenBao ``store``: ``live``,
    ``deleted`` or ``destroyed``; None for another store, or when the metadata cannot be read
    (a policy that allows reading the data only)."""
    from migrator.backends.vault import VaultBackend, rfc3339

    if store.type != "vault" or not isinstance(store, VaultBackend):
        return None
    try:
        response = store.kv_metadata(path)
    except BackendError:
        return None
    versions = ((response or {}).get("data") or {}).get("versions")
    if not isinstance(versions, dict):
        return None
    now = time.time()
    states: dict[int, str] = {}
    for number, info in versions.items():
        if not str(number).isdigit() or not isinstance(info, dict):
            continue
        deleted_at = rfc3339(info.get("deletion_time"))
        states[int(number)] = "destroyed" if info.get("destroyed") else \
            "deleted" if deleted_at is not None and deleted_at <= now else "live"
    return states
