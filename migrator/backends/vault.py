"""HashiCorp Vault and OpenBao, KV version 2, through hvac.

A vaultshift path ``apps/web/db`` is the KV v2 secret ``<mount>/data/<prefix>/apps/web/db``; each
field is a key of its data; metadata is the path's ``custom_metadata`` (per-field keys
``<field>:<name>``), updated with JSON merge patches so that writers of different fields never
erase each other's keys. Every data write carries ``cas`` (check-and-set). ``read_secret(path,
version=n)`` reads KV version *n* (its metadata is the path's current ``custom_metadata``, which
KV v2 does not version); a deleted or destroyed version is ``deleted``; a version never written,
or no longer kept (beyond ``max_versions``), is None, as the server answers it like an absent path.

Settings (one entry of ``backends:``; all optional)::

    type: vault
    addr: https://vault.example.org:8200   # default $VAULT_ADDR, else http://127.0.0.1:8200
    namespace: team-a                      # default $VAULT_NAMESPACE
    mount: secret                          # the KV v2 mount
    prefix: vaultshift                     # below the mount
    auth: {method: token}                  # token, approle, kubernetes, jwt, userpass: see
                                           # migrator.backends.vault_auth
    verify: true                           # false: no TLS verification (tests only)
    ca_cert: /etc/ssl/vault-ca.pem         # default $VAULT_CACERT
    client_cert: ..., client_key: ...      # TLS client certificate (default $VAULT_CLIENT_CERT / _KEY)
    timeout: 10                            # seconds per request
    retries: 3, retry_delay: 0.25, retry_max_delay: 4
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests
from hvac import utils as hvac_utils

from migrator.backends.base import Backend, StoredSecret
from migrator.backends.errors import (
    AuthError,
    BackendError,
    CasMismatch,
    Forbidden,
    InvalidSecret,
    NotFound,
    Sealed,
    Unavailable,
    one_line,
    scrub,
)
from migrator.backends.retry import RetryPolicy
from migrator.backends.settings import Settings
from migrator.backends.transport import (
    BadURL,
    ConnectError,
    ConnectionLost,
    TimedOut,
    TLSError,
    Transport,
    TransportError,
)
from migrator.backends.vault_auth import CredentialError, TokenAuth, VaultAuth, auth_from_settings

DEFAULT_ADDR = "http://127.0.0.1:8200"
DEFAULT_MOUNT = "secret"
SETTINGS = frozenset({"addr", "namespace", "mount", "prefix", "auth", "verify", "ca_cert", "client_cert",
                      "client_key"})
T = TypeVar("T")


class VaultBackend(Backend):
    """A KV v2 mount of a Vault or OpenBao server. Holds the address, namespace, mount and path
    prefix, the auth method, TLS and timeout settings, and, once used, a logged-in hvac client.
    Nothing touches the network until the first operation."""

    type = "vault"
    creates_conditionally = True  # a write with cas=0 fails when the path exists

    def __init__(self, name: str, *, addr: str = DEFAULT_ADDR, auth: VaultAuth | None = None,
                 mount: str = DEFAULT_MOUNT, prefix: str = "", namespace: str | None = None,
                 timeout: float = 10.0, verify: bool | str = True, cert: tuple[str, str] | None = None,
                 retry: RetryPolicy | None = None) -> None:
        super().__init__(name, retry)
        self.addr = addr.rstrip("/")
        self.auth = auth if auth is not None else TokenAuth()
        self.mount = mount.strip("/")
        self.prefix = prefix.strip("/")
        self.namespace = namespace or None
        self.timeout = timeout
        self.verify = verify
        self.cert = cert
        self._client: hvac.Client | None = None
        self._status = 0  # HTTP status of the last response (hvac's exceptions do not all carry it)

    @classmethod
    def from_settings(cls, name: str, data: Mapping[str, Any], auth: VaultAuth | None = None) -> VaultBackend:
        """The backend ``data`` describes; ``auth``, when given, in place of the settings' own
        (the lookup's options carry their own auth method and credentials)."""
        settings = Settings(name, data, SETTINGS)
        verify: bool | str = settings.boolean("verify", True)
        ca_cert = settings.string("ca_cert", env="VAULT_CACERT")
        if verify and ca_cert:
            verify = ca_cert
        client_cert = settings.string("client_cert", env="VAULT_CLIENT_CERT")
        client_key = settings.string("client_key", env="VAULT_CLIENT_KEY")
        if bool(client_cert) != bool(client_key):
            raise settings.error("client_cert", "client_cert and client_key go together")
        mount = settings.string("mount", DEFAULT_MOUNT) or DEFAULT_MOUNT
        if not mount.strip("/"):
            raise settings.error("mount", "must name a KV v2 mount")
        return cls(name, addr=settings.string("addr", DEFAULT_ADDR, env="VAULT_ADDR") or DEFAULT_ADDR,
                   auth=auth if auth is not None else auth_from_settings(settings), mount=mount,
                   prefix=settings.string("prefix", "") or "",
                   namespace=settings.string("namespace", env="VAULT_NAMESPACE"), timeout=settings.timeout(),
                   verify=verify, cert=(client_cert, client_key) if client_cert and client_key else None,
                   retry=settings.retry_policy())

    def __repr__(self) -> str:
        where = f"{self.addr} {self.namespace + ' ' if self.namespace else ''}{self.mount}/{self.prefix}"
        return f"<VaultBackend {self.name!r} {where.rstrip('/')}>"

    # ---- the client: created, logged in and checked on first use ---------------------------

    def _disconnect(self) -> None:
        self._client = None
        self._status = 0

    def close(self) -> None:
        """Revoke the token this backend logged in for (a token it was given is left alone), and
        forget the client. Failures are the caller's to report; the client is forgotten anyway."""
        client = self._client
        self._disconnect()
        if client is not None and self.auth.renewable:
            client.auth.token.revoke_self()

    def _full(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def kv_path(self, path: str) -> str:
        """Where ``path`` is under the KV mount: below this backend's prefix."""
        return self._full(path)

    def kv_metadata(self, path: str) -> dict[str, Any] | None:
        """The KV v2 metadata of ``path`` (each version's times and state, the custom metadata; no
        value), read with this backend's client, retries and one-line errors; None when nothing
        is kept there (never written, or deleted with all its versions)."""
        def read(client: hvac.Client) -> dict[str, Any] | None:
            try:
                return dict(client.secrets.kv.v2.read_secret_metadata(path=self._full(path), mount_point=self.mount))
            except hvac.exceptions.InvalidPath as exc:
                if exc.errors:  # a message (no such mount): not an absent path
                    raise
                return None

        return self._call("read metadata", path, read)

    def _connect(self, operation: str, path: str) -> hvac.Client:
        """The client, logged in; on first use the login and the mount check report their
        failures as failures of ``operation`` on ``path``, the call that needed them."""
        if self._client is not None:
            return self._client
        # What requests would take from the environment (HTTP(S)_PROXY / NO_PROXY for this
        # address, REQUESTS_CA_BUNDLE when verify is on), resolved once for the transport.
        found = requests.Session().merge_environment_settings(self.addr, {}, None, self.verify, self.cert)
        verify, proxies = found["verify"], found["proxies"] or None

        def remember(status: int) -> None:
            self._status = status

        session = Transport(self.addr, verify=verify, cert=self.cert, proxies=proxies, on_status=remember)
        client = hvac.Client(url=self.addr, namespace=self.namespace, timeout=self.timeout, verify=verify,
                             cert=self.cert, proxies=proxies, session=session)
        client.token = None  # hvac reads $VAULT_TOKEN itself; the auth method decides
        self._login(client, operation, path)
        self._check_mount(client, operation, path)
        self._client = client
        return client

    def _login(self, client: hvac.Client, operation: str, path: str) -> None:
        try:
            # The credentials go along as values: a server message quoting one is withheld.
            self._request(operation, path, lambda: self.auth.authenticate(client), self.auth.values())
        except CredentialError as exc:
            raise AuthError(self.name, operation, path, str(exc)) from None

    def _check_mount(self, client: hvac.Client, operation: str, path: str) -> None:
        """Refuse a KV version 1 mount: KV v2 writes to it would create wrong paths silently."""
        url = hvac_utils.format_url("/v1/sys/internal/ui/mounts/{mount}", mount=self.mount)
        try:
            info = self._request(operation, path, lambda: client.adapter.get(url))
        except (Forbidden, NotFound):
            return  # not visible to this token: the operations themselves will tell
        except BackendError as exc:
            if type(exc) is BackendError:
                return
            raise
        data = (info.get("data") or {}) if isinstance(info, dict) else {}
        kind, version = data.get("type"), str((data.get("options") or {}).get("version") or "1")
        if kind in ("kv", "generic") and version != "2":
            raise BackendError(self.name, operation, path, f"mount {self.mount}/ is KV version {version}: vaultshift "
                                                           f"needs KV v2 (bao kv enable-versioning {self.mount}/)")
        if kind and kind not in ("kv", "generic"):
            raise BackendError(self.name, operation, path, f"mount {self.mount}/ is a {kind} secrets engine, "
                                                           "not KV v2")

    def call(self, operation: str, path: str, fn: Callable[[hvac.Client], T], values: Collection[str] = ()) -> T:
        """``fn`` with this backend's logged-in hvac client, for the engines beside KV (the
        database secrets engine of rotation): its retries, and its failures as one-line
        :class:`BackendError` s naming ``operation`` and ``path`` (``values`` withheld from any
        server message)."""
        return self._call(operation, path, fn, values)

    def _call(self, operation: str, path: str, fn: Callable[[hvac.Client], T], values: Collection[str] = ()) -> T:
        """``fn(client)`` with retries; a 403 from a token the server no longer accepts is an
        :class:`AuthError` (after one fresh login, for methods that can log in again)."""
        client = self._connect(operation, path)
        try:
            return self._request(operation, path, lambda: fn(client), values)
        except Forbidden:
            if self._token_accepted(client):
                raise
        if self.auth.renewable:
            self._client = None
            client = self._connect(operation, path)
            try:
                return self._request(operation, path, lambda: fn(client), values)
            except Forbidden:
                if self._token_accepted(client):
                    raise
        raise AuthError(self.name, operation, path, "the server rejected the token (invalid, expired or revoked)")

    def _token_accepted(self, client: hvac.Client) -> bool:
        """Whether the token can look itself up (every valid token's default policy allows it)."""
        try:
            self._request("look up token", "", lambda: client.auth.token.lookup_self())
        except (Forbidden, AuthError):
            return False
        except BackendError:
            return True
        return True

    # ---- the primitives ------------------------------------------------------------------------

    def _get(self, path: str, version: int | None = None) -> StoredSecret | None:
        """The latest version, or ``version``: deleted or destroyed, it is ``deleted`` without
        fields; one never written (or no longer kept, beyond the mount's ``max_versions``) is
        None, since the server answers it as it answers an absent path (404, no errors)."""
        full = self._full(path)

        def read(client: hvac.Client) -> dict[str, Any] | None:
            try:
                response: dict[str, Any] = client.secrets.kv.v2.read_secret_version(
                    path=full, version=version, mount_point=self.mount, raise_on_deleted_version=False)
                return response
            except hvac.exceptions.InvalidPath as exc:
                body = exc.json if isinstance(exc.json, dict) else {}
                if isinstance(body.get("data"), dict):
                    return body  # a destroyed version: its metadata, no data
                if not body.get("errors"):
                    return None  # nothing at this path
                raise

        response = self._call("read", path, read)
        if response is None:
            return None
        data = response.get("data") or {}
        meta = data.get("metadata") or {}
        raw = data.get("data")
        fields: dict[str, str] = {}
        for key, value in (raw or {}).items():
            if not isinstance(value, str):
                raise InvalidSecret(self.name, "read", f"{path}#{key}",
                                    f"the field holds a JSON {type(value).__name__}, not a string")
            fields[key] = value
        custom = {str(k): str(v) for k, v in (meta.get("custom_metadata") or {}).items()}
        return StoredSecret(path, fields, custom, int(meta.get("version") or 0), deleted=raw is None,
                            created=rfc3339(meta.get("created_time")))

    def _put(self, path: str, fields: dict[str, str], previous: StoredSecret | None,
             set_metadata: Mapping[str, str], remove_metadata: Collection[str]) -> int:
        full = self._full(path)
        cas = previous.version if previous is not None else 0
        response = self._call("write", path, lambda c: c.secrets.kv.v2.create_or_update_secret(
            path=full, secret=fields, cas=cas, mount_point=self.mount), values=fields.values())
        version = int(((response or {}).get("data") or {}).get("version") or cas + 1)
        if set_metadata or remove_metadata:
            self._merge_metadata(path, set_metadata, remove_metadata)
        return version

    def _patch_metadata(self, path: str, previous: StoredSecret, set_metadata: Mapping[str, str],
                        remove_metadata: Collection[str]) -> None:
        self._merge_metadata(path, set_metadata, remove_metadata)

    def _merge_metadata(self, path: str, set_metadata: Mapping[str, str], remove_metadata: Collection[str]) -> None:
        """A JSON merge patch of ``custom_metadata``: only these keys change (null removes one)."""
        url = hvac_utils.format_url("/v1/{mount}/metadata/{path}", mount=self.mount, path=self._full(path))
        patch: dict[str, str | None] = {key: None for key in remove_metadata}
        patch.update(set_metadata)
        self._call("write metadata", path, lambda c: c.adapter.request(
            "PATCH", url, json={"custom_metadata": patch}, headers={"Content-Type": "application/merge-patch+json"}))

    def _remove(self, path: str, previous: StoredSecret) -> None:
        full = self._full(path)
        self._call("delete", path, lambda c: c.secrets.kv.v2.delete_latest_version_of_secret(
            path=full, mount_point=self.mount))

    def _list(self, prefix: str) -> builtins.list[str]:
        folder = prefix.rpartition("/")[0]
        out: builtins.list[str] = []
        self._walk(folder, prefix, out)
        return out

    def _walk(self, folder: str, prefix: str, out: builtins.list[str]) -> None:
        full = self._full(folder) if folder else self.prefix

        def keys(client: hvac.Client) -> builtins.list[str]:
            try:
                response = client.secrets.kv.v2.list_secrets(path=full, mount_point=self.mount)
            except hvac.exceptions.InvalidPath as exc:
                if isinstance(exc.json, dict) and exc.json.get("errors"):
                    raise
                return []  # an empty folder
            return builtins.list(((response or {}).get("data") or {}).get("keys") or [])

        for key in self._call("list", folder + "/" if folder else "", keys):
            path = f"{folder}/{key}" if folder else key
            if key.endswith("/"):
                if path.startswith(prefix) or prefix.startswith(path):
                    self._walk(path.rstrip("/"), prefix, out)
            elif path.startswith(prefix):
                out.append(path)

    # ---- failures ------------------------------------------------------------------------------

    def _translate(self, exc: Exception, operation: str, path: str, values: Collection[str]) -> BackendError | None:
        name = self.name
        if isinstance(exc, hvac.exceptions.VaultError):
            server = scrub(_server_reason(exc), values)
            status = self._status
            login = "/login" in str(exc.url or "")

            def reason(default: str) -> str:
                text = server or default
                return f"{text} (HTTP {status})" if status else text

            if isinstance(exc, hvac.exceptions.InvalidRequest):
                if "check-and-set" in server:
                    return CasMismatch(name, operation, path, reason("check-and-set failed"))
                if login:
                    return AuthError(name, operation, path, "login refused: " + reason("invalid request"))
                return BackendError(name, operation, path, reason("invalid request"))
            if isinstance(exc, hvac.exceptions.Unauthorized):
                return AuthError(name, operation, path, reason("unauthorized"))
            if isinstance(exc, hvac.exceptions.Forbidden):
                if login:
                    return AuthError(name, operation, path, "login refused: " + reason("permission denied"))
                area = "metadata" if operation in ("list", "write metadata") else "data"
                where = f" on {self.mount}/{area}/{self._full(path.split('#')[0])}" if path else ""
                return Forbidden(name, operation, path, reason("permission denied") + where)
            if isinstance(exc, hvac.exceptions.InvalidPath):
                if "no handler for route" in server:
                    where = f" in namespace {self.namespace}" if self.namespace else ""
                    return NotFound(name, operation, path, f"no secrets engine mounted at {self.mount}/{where} "
                                                           f"(HTTP {status or 404})")
                if "namespace" in server and self.namespace:
                    return NotFound(name, operation, path, f"namespace {self.namespace!r} not found (HTTP {status})")
                return NotFound(name, operation, path, reason("not found"))
            if isinstance(exc, hvac.exceptions.VaultNotInitialized):
                return Sealed(name, operation, path, reason("the server is not initialized"))
            if isinstance(exc, hvac.exceptions.VaultDown):
                if "sealed" in server.lower():
                    return Sealed(name, operation, path, reason("sealed") + ": an operator must unseal it")
                return Unavailable(name, operation, path, reason("service unavailable"))
            if isinstance(exc, hvac.exceptions.RateLimitExceeded | hvac.exceptions.PreconditionFailed
                          | hvac.exceptions.InternalServerError | hvac.exceptions.BadGateway):
                return Unavailable(name, operation, path, reason("server error"))
            if status >= 500 or status in (408, 429):
                return Unavailable(name, operation, path, reason("server error"))
            return BackendError(name, operation, path, reason("unexpected response"))
        if isinstance(exc, TLSError):
            return BackendError(name, operation, path, f"{exc}; check ca_cert")
        if isinstance(exc, ConnectError | ConnectionLost):
            return Unavailable(name, operation, path, f"cannot connect to {self.addr}: {_connection_reason(exc)}")
        if isinstance(exc, TimedOut):
            return Unavailable(name, operation, path, f"{self.addr} did not answer within {self.timeout:g} s")
        if isinstance(exc, BadURL):
            return BackendError(name, operation, path, f"addr {self.addr!r} is not a valid URL")
        return None


def rfc3339(text: Any) -> float | None:
    """Epoch seconds of a Vault timestamp (``2026-11-28T07:14:15.123456789Z``), None when absent."""
    if not isinstance(text, str) or not text:
        return None
    import datetime

    head, _, rest = text.rstrip("Z").partition(".")
    try:
        moment = datetime.datetime.fromisoformat(head).replace(tzinfo=datetime.UTC)
    except ValueError:
        return None
    fraction = float(f"0.{rest[:6]}") if rest[:6].isdigit() else 0.0
    return moment.timestamp() + fraction


def _server_reason(exc: hvac.exceptions.VaultError) -> str:
    """The server's errors on one line, without Go's multierror wrapping ("1 error occurred: * ...")."""
    parts = [str(e) for e in exc.errors or []] or ([str(exc.args[0])] if exc.args and exc.args[0] else [])
    text = one_line(", ".join(parts))
    text = re.sub(r"^\d+ errors? occurred:\s*", "", text)
    return re.sub(r"(^|\s)\*\s+", r"\1", text).strip()


def _connection_reason(exc: Exception) -> str:
    """The transport's one-line reason ("connection refused", "unknown host", ...)."""
    return str(exc) if isinstance(exc, TransportError) else "connection failed"
