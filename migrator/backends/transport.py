"""The HTTP transport under hvac: urllib3 straight, in place of a ``requests.Session``.

hvac builds every Vault request (paths, headers, JSON bodies, errors) and hands it to a
session's ``request()``. With requests there, more than half of the client's time per request
went to requests' own work (merging settings, preparing and re-encoding the request, hooks),
on top of the HTTP exchange itself: in a long apply that made the client, not the server, the
bottleneck. :class:`Transport` takes the same call and sends it through a urllib3 pool (the
engine requests itself uses), with the proxy and CA settings that requests would take from the
environment resolved once when it is made.

Failures are urllib3's own exceptions (``NewConnectionError``, ``ReadTimeoutError``,
``SSLError``, ...); the backend turns them into its errors. Nothing here logs or keeps a body.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.exceptions import MaxRetryError

# Redirects are followed (a standby node may send clients to the active one); every other
# failure is left to the backend's own retry policy.
_RETRIES = urllib3.util.Retry(total=None, connect=0, read=0, other=0, status=0, redirect=5, raise_on_redirect=True,
                              raise_on_status=False)


class Response:
    """What hvac reads of a response: status, headers, body, JSON."""

    __slots__ = ("content", "headers", "reason", "status_code", "url")

    def __init__(self, status_code: int, reason: str, headers: Mapping[str, str], content: bytes, url: str) -> None:
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


class Transport:
    """A session for one Vault address: TLS verification (``verify``: a flag or a CA bundle), an
    optional client certificate, a proxy (``proxies`` maps a scheme to its proxy URL), and a
    callback told each response's status."""

    def __init__(self, addr: str, *, verify: bool | str = True, cert: tuple[str, str] | None = None,
                 proxies: Mapping[str, str] | None = None, on_status: Callable[[int], None] | None = None) -> None:
        self.verify = verify
        self.cert = cert
        self.proxies = dict(proxies or {})
        self._on_status = on_status
        tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED" if verify else "CERT_NONE"}
        if isinstance(verify, str):
            tls["ca_certs"] = verify
        elif verify:
            tls["ca_certs"] = _default_ca_bundle()
        if cert is not None:
            tls["cert_file"], tls["key_file"] = cert
        proxy = self.proxies.get(urlsplit(addr).scheme) or self.proxies.get("all")
        self._pool: urllib3.PoolManager = (urllib3.ProxyManager(proxy, num_pools=4, maxsize=4, **tls) if proxy
                                           else urllib3.PoolManager(num_pools=4, maxsize=4, **tls))

    def request(self, method: str, url: str, headers: Mapping[str, str] | None = None, allow_redirects: bool = True,
                json: Any = None, params: Mapping[str, Any] | None = None, data: Any = None,
                timeout: float | None = None, **_ignored: Any) -> Response:
        """Send one request; ``_ignored`` takes the per-request TLS and proxy arguments hvac
        passes along, which are this transport's own settings."""
        sent = dict(headers or {})
        body: bytes | None = None
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
        try:
            response = self._pool.urlopen(method.upper(), url, body=body, headers=sent, redirect=allow_redirects,
                                          retries=_RETRIES if allow_redirects else False,
                                          timeout=urllib3.Timeout(connect=timeout, read=timeout),
                                          preload_content=True)
        except MaxRetryError as exc:
            raise (exc.reason or exc) from None
        if self._on_status is not None:
            self._on_status(response.status)
        return Response(response.status, response.reason or "", response.headers, response.data,
                        response.geturl() or url)

    def close(self) -> None:
        self._pool.clear()


def _default_ca_bundle() -> str | None:
    """The CA bundle requests would use (certifi's), when it is installed."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with requests, which hvac needs
        return None
    return str(certifi.where())
