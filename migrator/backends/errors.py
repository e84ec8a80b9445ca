"""What can go wrong talking to a secret store, by meaning rather than by status code.

Each backend maps its client's failures (hvac exceptions and HTTP statuses, botocore error codes,
connection errors and timeouts) to one of these classes, so callers handle ``Forbidden`` or
``CasMismatch`` whatever the store. Every message is one line naming the backend, the operation
and the path, never a value: the server's own reason is included only after it has been checked
for the values of the request (see :func:`scrub`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

_SPACE = re.compile(r"\s+")
MAX_REASON = 240


def one_line(text: str, limit: int = MAX_REASON) -> str:
    """``text`` on one line (runs of white space become one space), at most ``limit`` characters."""
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def scrub(reason: str, values: Iterable[str]) -> str:
    """``reason`` unless it quotes one of ``values`` (raw or JSON-escaped): then a placeholder.

    A server may echo what it was sent in a validation message; the whole reason is withheld
    rather than masked, since a masked message still tells how long the value was and where.
    """
    for value in values:
        if not value:
            continue
        escaped = json.dumps(value)[1:-1]
        if value in reason or escaped in reason:
            return "(the server's message is withheld: it quoted a value)"
    return reason


class BackendError(Exception):
    """A secret store refused or failed an operation.

    ``backend`` is the configured name, ``operation`` what was attempted (``read``, ``write``,
    ``list``, ``login``, ...), ``path`` the secret's path (with ``#field`` when one field was
    meant; empty for operations on the store itself) and ``reason`` a short, value-free
    explanation. ``retryable`` says whether trying again later may succeed.
    """

    retryable = False
    label = "failed"

    def __init__(self, backend: str, operation: str, path: str, reason: str = "") -> None:
        self.backend = backend
        self.operation = operation
        self.path = path
        self.reason = one_line(reason or self.label)
        where = f"{operation} {path}".strip()
        super().__init__(one_line(f"{backend}: {where}: {self.reason}", limit=2 * MAX_REASON))


class AuthError(BackendError):
    """The credentials were refused: no token, a wrong or expired token, a failed AppRole login,
    or cloud credentials the provider does not recognise."""

    label = "authentication failed"


class Forbidden(BackendError):
    """The credentials are valid but a policy denies this operation on this path (HTTP 403)."""

    label = "permission denied"


class NotFound(BackendError):
    """Something the operation needs does not exist: the mount, the namespace, the secret engine.

    An absent secret is not an error: ``read`` returns None for it.
    """

    label = "not found"


class Sealed(BackendError):
    """The Vault/OpenBao server is sealed (or not initialized): an operator must unseal it.
    Not retried: unsealing takes a person."""

    label = "the server is sealed"


class Unavailable(BackendError):
    """The store cannot be reached or failed transiently: connection refused or reset, a
    timeout, HTTP 5xx, throttling. Retried with backoff; raised once the retries are spent."""

    retryable = True
    label = "unavailable"


class CasMismatch(BackendError):
    """A check-and-set write lost: the secret changed since the version the writer read."""

    label = "check-and-set failed: the secret changed concurrently"


class InvalidSecret(BackendError):
    """A stored secret has a shape vaultshift cannot use as fields of strings (an AWS
    SecretString that is not a JSON object, a SecretBinary, a KV field holding a number)."""

    label = "the secret is not a set of string fields"
