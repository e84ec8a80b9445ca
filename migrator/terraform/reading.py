"""What the Terraform provider reads, through vaultshift's engine: a secret (every key, or one) at
a path of one configured backend, and the one-line failures Terraform shows as diagnostics.

No Terraform or plugin-framework code here: :class:`SecretReader` takes the provider's settings
(:class:`ProviderSettings`: ``config``, ``backend``, ``address``, ``token``, ``namespace``) and
builds backends with :func:`migrator.session.options.choose_backend`, the same choice the Ansible
lookup makes, so a reference rewritten for either tool reads the same store. Unset settings fall
back as the backends do: ``$VAULT_ADDR``, ``$VAULT_TOKEN`` (or the token env the configuration
names), ``./vaultshift.yml`` in Terraform's working directory.

Every message names the backend, the path and the key, never a value.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from migrator.backends import AuthError, Backend, BackendError, Forbidden, NotFound
from migrator.config import ConfigError
from migrator.session.options import choose_backend


class ReadFailure(Exception):
    """A read the provider cannot answer: ``summary`` is the diagnostic's title (``Secret not
    found``, ``Key not found``, ``Access denied``, ...), the message one line naming the backend,
    path and key."""

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


class SecretReader:
    """Reads secrets for one configured provider; keeps one backend per backend name (one login
    for all the data sources of a run). Safe to call from several threads (one read at a time
    per backend); :meth:`close` revokes the tokens the backends logged in for."""

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self._backends: dict[str, tuple[Backend, threading.Lock]] = {}
        self._lock = threading.Lock()

    def read(self, path: str, key: str | None = None, version: int | None = None,
             backend: str | None = None) -> SecretReading:
        """The secret at ``path`` (``version``, else the current one) of ``backend`` (else the
        provider's, else the configuration's default); with ``key``, that key must be in it.
        Raises :class:`ReadFailure` (one line, no value)."""
        shown = f"{path}#{key}" if key else path
        if version is not None and version < 1:
            raise ReadFailure("Invalid version", f"read {shown}: version must be 1 or more, not {version}")
        store, lock = self._backend(backend)
        try:
            with lock:
                found = store.read_secret(path, version=version)
        except (Forbidden, AuthError) as exc:
            raise ReadFailure("Access denied", str(exc)) from None
        except NotFound as exc:
            raise ReadFailure("Secret not found", str(exc)) from None
        except BackendError as exc:
            raise ReadFailure("Backend error", str(exc)) from None
        except ValueError as exc:
            raise ReadFailure("Invalid argument", f"{store.name}: read {shown}: {exc}") from None
        if found is None or found.deleted:
            what = f"version {version}" if version is not None else "the secret"
            state = f"{what} is deleted" if found is not None else \
                f"no version {version} at this path" if version is not None else "no secret at this path"
            raise ReadFailure("Secret not found", f"{store.name}: read {path}: {state}")
        if key is not None and key not in found.fields:
            keys = ", ".join(sorted(found.fields)) or "none"
            raise ReadFailure("Key not found", f"{store.name}: read {path}: no key {key!r} in the secret "
                                               f"(its keys: {keys})")
        return SecretReading(store.name, path, dict(found.fields), found.version, key)

    def _backend(self, name: str | None) -> tuple[Backend, threading.Lock]:
        wanted = name or self.settings.backend or ""
        with self._lock:
            held = self._backends.get(wanted)
            if held is None:
                try:
                    built = choose_backend(self.settings.options(name), self.settings.cwd).build()
                except ConfigError as exc:
                    raise ReadFailure("Configuration error", str(exc)) from None
                held = self._backends[wanted] = (built, threading.Lock())
            return held

    def close(self) -> None:
        """Revoke what the backends logged in for (a given token is left alone); failures ignored."""
        with self._lock:
            held, self._backends = list(self._backends.values()), {}
        for store, _ in held:
            with contextlib.suppress(Exception):  # best effort at exit: a leftover lease expires on its own
                store.close()
