"""The HTTP transport under hvac: a small HTTP/1.1 client in place of a ``requests.Session``.

hvac builds every Vault request (paths, headers, JSON bodies, errors) and hands it to a
session's ``request()``. With requests there, most of the client's time per request went to the
HTTP stack's own work (requests merging settings and re-encoding; then urllib3's pool, retry and
response objects; then http.client parsing headers with the email package), and in a long apply
that made the client, not the server, the bottleneck. :class:`Transport` takes the same call and
does only what a Vault API call needs: one ``sendall`` of the whole request on a kept-alive
connection (``TCP_NODELAY``), the status line and headers read with a buffered reader, the body
by ``Content-Length`` or chunked, redirects followed (a standby node sends clients to the
active one with 307, which keeps the method and body), TLS with the standard library's ``ssl``,
and an HTTP proxy (absolute-form requests for ``http://``, a ``CONNECT`` tunnel for
``https://``). Proxy and CA settings come resolved from the backend (what requests would take
from the environment).

Failures are :class:`TransportError` subclasses with one-line messages (the backend turns them
into its errors). Nothing here keeps a body; no message holds one; the DEBUG log says
each exchange's method, path and status only.
"""

from __future__ import annotations

import base64
import json as jsonlib
import logging
import select
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlencode, urljoin, urlsplit

USER_AGENT = "vaultshift"
MAX_REDIRECTS = 5
MAX_HEADERS = 100
MAX_LINE = 65536
LOG = logging.getLogger(__name__)  # DEBUG: each exchange's method, path and status; never a header or a body


class TransportError(Exception):
    """The exchange failed; the message is one line and never holds a body."""


class ConnectError(TransportError):
    """No connection could be made (refused, unknown host, unreachable, the proxy refused)."""


class TLSError(TransportError):
    """The TLS handshake failed, or the CA bundle or client certificate cannot be loaded."""


class TimedOut(TransportError):
    """The server did not answer in time."""


class ConnectionLost(TransportError):
    """The connection broke during the exchange, or the response was not HTTP."""


class BadURL(TransportError):
    """The address is not an http(s) URL."""


class Headers(dict[str, str]):
    """Response headers, by lower-cased name (``get`` and ``[]`` take any case)."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)


class Response:
    """What hvac reads of a response: status, headers, body, JSON."""

    __slots__ = ("content", "headers", "reason", "status_code", "url")

    def __init__(self, status_code: int, reason: str, headers: Headers, content: bytes, url: str) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.content = content
        self.url = url

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    def close(self) -> None:
        pass


Origin = tuple[str, str, int]  # scheme, host, port


class _Connection:
    """One kept-alive connection to an origin (through a proxy's tunnel, perhaps)."""

    __slots__ = ("reader", "sock", "timeout")

    def __init__(self, sock: socket.socket, timeout: float | None) -> None:
        self.sock = sock
        self.timeout = timeout
        self.reader = sock.makefile("rb", buffering=65536)

    def closed_by_peer(self) -> bool:
        """Whether an idle connection was closed (or sent something unasked) meanwhile."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def exchange(self, request: bytes, method: str, timeout: float | None) -> tuple[int, str, dict[str, str], bytes,
                                                                                  bool]:
        """Send ``request`` whole; (status, reason, headers, body, whether the connection can be kept)."""
        if timeout != self.timeout:
            self.sock.settimeout(timeout)
            self.timeout = timeout
        self.sock.sendall(request)
        while True:
            version, status, reason, headers = self._head()
            if not 100 <= status < 200:
                break
        if method == "HEAD" or status in (204, 304):
            body, complete = b"", True
        elif "chunk" in headers.get("transfer-encoding", ""):
            body, complete = self._chunked(), True
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise ConnectionLost("the server sent a malformed Content-Length") from None
            body = self.reader.read(length)
            if len(body) != length:
                raise ConnectionLost("the server closed the connection mid-response")
            complete = True
        else:
            body, complete = self.reader.read(), False  # to the end of the connection
        connection = headers.get("connection", "").lower()
        keep = complete and "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        return status, reason, headers, body, keep

    def _line(self) -> bytes:
        line = self.reader.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise ConnectionLost("the server sent a header line that is too long")
        return line

    def _head(self) -> tuple[str, int, str, dict[str, str]]:
        """The status line and the header fields (by lower-cased name; repeated ones joined)."""
        line = self._line()
        if not line:
            raise ConnectionLost("the server closed the connection")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ConnectionLost("the server's answer is not HTTP")
        fields: dict[str, str] = {}
        readline = self.reader.readline
        for _ in range(MAX_HEADERS):
            field = readline(MAX_LINE + 1)
            if field == b"\r\n" or field == b"\n":
                return parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", fields
            if not field or len(field) > MAX_LINE:
                raise ConnectionLost("the server closed the connection mid-response" if not field
                                     else "the server sent a header line that is too long")
            name, sep, value = field.partition(b":")
            if sep:
                key, text = name.strip().lower().decode("latin-1"), value.strip().decode("latin-1")
                fields[key] = f"{fields[key]}, {text}" if key in fields else text
        raise ConnectionLost(f"the server sent more than {MAX_HEADERS} headers")

    def _chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size_line = self._line()
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ConnectionLost("the server sent a malformed chunk") from None
            if size == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunk = self.reader.read(size)
            if len(chunk) != size:
                raise ConnectionLost("the server closed the connection mid-response")
            chunks.append(chunk)
            self.reader.readline(3)

    def close(self) -> None:
        try:
            self.reader.close()
        finally:
            self.sock.close()


class Transport:
    """A session for one Vault address: TLS verification (``verify``: a flag or a CA bundle), an
    optional client certificate, a proxy (``proxies`` maps a scheme, or ``all``, to its proxy
    URL), and a callback told each final response's status. Several threads may share it: each
    request takes an idle connection of the pool or opens one."""

    def __init__(self, addr: str, *, verify: bool | str = True, cert: tuple[str, str] | None = None,
                 proxies: Mapping[str, str] | None = None, on_status: Callable[[int], None] | None = None) -> None:
        self.addr = addr
        self.verify = verify
        self.cert = cert
        self.proxies = dict(proxies or {})
        # each scheme's proxy (its origin and Proxy-Authorization value), resolved once
        self._proxy = {scheme: _proxy_of(self.proxies.get(scheme) or self.proxies.get("all"))
                       for scheme in ("http", "https")}
        self._on_status = on_status
        self._idle: dict[Origin, list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    # -- the call hvac makes ------------------------------------------------------------------
    def request(self, method: str, url: str, headers: Mapping[str, str] | None = None, allow_redirects: bool = True,
                json: Any = None, params: Mapping[str, Any] | None = None, data: Any = None,
                timeout: float | None = None, **_ignored: Any) -> Response:
        """Send one request; ``_ignored`` takes the per-request TLS and proxy arguments hvac
        passes along, which are this transport's own settings."""
        sent = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})}
        body = b""
        if json is not None:
            body = jsonlib.dumps(json).encode()
            sent.setdefault("Content-Type", "application/json")
        elif isinstance(data, Mapping):
            body = urlencode(data, doseq=True).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif isinstance(data, str):
            body = data.encode()
        elif data is not None:
            body = bytes(data)
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        method = method.upper()
        for _ in range(MAX_REDIRECTS + 1):
            status, reason, got, content = self._send(method, url, sent, body, timeout)
            location = got.get("location")
            if not (allow_redirects and location and status in (301, 302, 303, 307, 308)):
                break
            url = urljoin(url, location)
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", b""
                sent = {k: v for k, v in sent.items() if k.lower() != "content-type"}
        else:
            raise ConnectionLost(f"more than {MAX_REDIRECTS} redirects")
        if self._on_status is not None:
            self._on_status(status)
        return Response(status, reason, got, content, url)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    # -- one exchange ---------------------------------------------------------------------------
    def _send(self, method: str, url: str, headers: Mapping[str, str], body: bytes,
              timeout: float | None) -> tuple[int, str, Headers, bytes]:
        origin, path, host_header = _parse(url)
        proxy = self._proxy.get(origin[0])
        # to a proxy (not a tunnel): the absolute form
        target = f"http://{host_header}{path}" if proxy is not None and origin[0] == "http" else path
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
        for name, value in headers.items():
            value = str(value)
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"header {name.strip()!r} holds a line break")
            lines.append(f"{name}: {value}")
        if proxy is not None and origin[0] == "http" and proxy[1]:
            lines.append(f"Proxy-Authorization: {proxy[1]}")
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        connection = self._take(origin, timeout)
        try:
            status, reason, fields, content, keep = connection.exchange(request, method, timeout)
        except BaseException as exc:
            connection.close()
            if isinstance(exc, TimeoutError | socket.timeout):
                raise TimedOut(f"no answer within {timeout:g} s" if timeout else "no answer") from None
            if isinstance(exc, ssl.SSLError):
                raise ConnectionLost(f"TLS failure during the exchange ({_ssl_reason(exc)})") from None
            if isinstance(exc, OSError) and not isinstance(exc, TransportError):
                raise ConnectionLost(_os_reason(exc)) from None
            raise
        if LOG.isEnabledFor(logging.DEBUG):
            LOG.debug("%s %s://%s%s -> %d", method, origin[0], host_header, path.split("?", 1)[0], status)
        if keep:
            self._idle.setdefault(origin, []).append(connection)
        else:
            connection.close()
        return status, reason, Headers(fields), content

    def _take(self, origin: Origin, timeout: float | None) -> _Connection:
        idle = self._idle.get(origin)
        while idle:
            try:
                connection = idle.pop()
            except IndexError:
                break
            if connection.closed_by_peer():  # the server closed it while it was idle
                connection.close()
                continue
            return connection
        return _Connection(self._open(origin, timeout), timeout)

    def _open(self, origin: Origin, timeout: float | None) -> socket.socket:
        scheme, host, port = origin
        proxy = self._proxy.get(scheme)
        where = (proxy[0][1], proxy[0][2]) if proxy is not None else (host, port)
        try:
            sock = socket.create_connection(where, timeout=timeout)
        except TimeoutError:
            raise TimedOut(f"connecting to {where[0]}:{where[1]} timed out") from None
        except OSError as exc:
            raise ConnectError(("proxy " if proxy else "") + _os_reason(exc)) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                if proxy is not None:
                    self._tunnel(sock, host, port, proxy[1], timeout)
                sock = self._context().wrap_socket(sock, server_hostname=host)
        except BaseException as exc:
            sock.close()
            if isinstance(exc, TransportError):
                raise
            if isinstance(exc, ssl.SSLError | ssl.CertificateError):
                raise TLSError(f"TLS handshake with {host}:{port} failed ({_ssl_reason(exc)})") from None
            if isinstance(exc, TimeoutError | socket.timeout):
                raise TimedOut(f"the TLS handshake with {host}:{port} timed out") from None
            if isinstance(exc, OSError):
                raise ConnectError(_os_reason(exc)) from None
            raise
        return sock

    def _tunnel(self, sock: socket.socket, host: str, port: int, auth: str, timeout: float | None) -> None:
        """Ask the proxy on ``sock`` for a CONNECT tunnel to host:port."""
        lines = [f"CONNECT {host}:{port} HTTP/1.1", f"Host: {host}:{port}"]
        if auth:
            lines.append(f"Proxy-Authorization: {auth}")
        tunnel = _Connection(sock, timeout)
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        _, status, reason, _ = tunnel._head()
        tunnel.reader.close()  # the socket itself stays open for the TLS handshake
        if status != 200:
            raise ConnectError(f"the proxy refused the tunnel to {host}:{port} (HTTP {status} {reason})".strip())

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            try:
                if self.verify:
                    context = ssl.create_default_context(
                        cafile=self.verify if isinstance(self.verify, str) else _default_ca_bundle())
                else:
                    context = ssl.create_default_context()
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                if self.cert is not None:
                    context.load_cert_chain(*self.cert)
            except (OSError, ssl.SSLError) as exc:
                what = "the client certificate" if self.cert is not None else "the CA bundle"
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _ssl_reason(exc)
                raise TLSError(f"cannot load {what} ({reason})") from None
            self._tls = context
        return self._tls


def _proxy_of(url: str | None) -> tuple[Origin, str] | None:
    """A proxy URL's origin, and a Proxy-Authorization value for its credentials (or "")."""
    if not url:
        return None
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    auth = ""
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode()
    return (parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)), auth


def _parse(url: str) -> tuple[Origin, str, str]:
    """(origin, request target, Host header) of an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadURL("not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadURL("not an http(s) URL")
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (parts.scheme, host, port or default), target, shown if port in (None, default) else f"{shown}:{port}"


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return "unknown host" if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)) \
            else "name resolution failed"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "connection reset"
    if isinstance(exc, ConnectionAbortedError):
        return "connection aborted"
    return (exc.strerror or type(exc).__name__).lower()


def _ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "verify_message", None) or type(exc).__name__
    return str(reason).replace("_", " ").lower()


def _default_ca_bundle() -> str | None:
    """The CA bundle requests would use (certifi's), when it is installed."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with requests, which hvac needs
        return None
    return str(certifi.where())
