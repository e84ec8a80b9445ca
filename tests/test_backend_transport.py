"""The Vault backend's HTTP transport (under hvac) against real servers: TLS with the
server's CA, from settings or ``$VAULT_CACERT``, and refused without it; a standby's redirect
followed with the request's body; an HTTP proxy from the environment used (a CONNECT tunnel for
https), and bypassed for NO_PROXY hosts; query parameters encoded; chunked answers, connections
the server closed, answers that are not HTTP, and header injection."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from servers import BaoServer, bao_server, make_value

from migrator.backends import BackendError, make_backend
from migrator.backends.transport import Transport
from migrator.plan.models import SecretRef

META = {"source": "web01:/etc/app.yml", "first_seen": "2026-01-05T10:00:00Z", "fingerprint": "hmac-sha256:00"}


@pytest.fixture(scope="module")
def tls_bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    with bao_server(tmp_path_factory.mktemp("bao-tls"), tls=True) as server:
        yield server


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy", "VAULT_CACERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    yield


def round_trip(server: BaoServer, monkeypatch: pytest.MonkeyPatch, **settings: Any) -> None:
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", server.token)
    backend = make_backend("vault", server.settings(prefix=f"t-{uuid.uuid4().hex[:8]}", **settings))
    ref = SecretRef("vault", "apps/web/db", "password")
    value = make_value()
    assert backend.store(ref, value, META).wrote
    assert backend.read(ref) == value


class _Stub(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler], target: str) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.target = target
        self.seen: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Stub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        self.handle_any()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_LIST = do_GET

    def handle_any(self) -> None:
        raise NotImplementedError


class _Redirect(_Handler):
    """A standby node: every request is sent to the active one with 307 (method and body kept)."""

    def handle_any(self) -> None:
        self._body()
        self.server.seen.append(self.command)
        self.send_response(307)
        self.send_header("Location", self.server.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Proxy(_Handler):
    """A forward HTTP proxy: records each absolute URL it is asked for, and relays it."""

    def handle_any(self) -> None:
        body = self._body()
        self.server.seen.append(self.path)
        where = urlsplit(self.path)
        upstream = http.client.HTTPConnection(where.hostname or "", where.port, timeout=5)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
        upstream.request(self.command, where.path + (f"?{where.query}" if where.query else ""), body or None,
                         headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()


class _Tunnel(_Handler):
    """A forward proxy's CONNECT: records the target, answers 200 and relays bytes both ways."""

    def do_CONNECT(self) -> None:
        self.server.seen.append(f"CONNECT {self.path}")
        host, _, port = self.path.rpartition(":")
        upstream = socket.create_connection((host, int(port)), timeout=5)
        self.send_response(200, "Connection established")
        self.end_headers()

        def pump(source: socket.socket, sink: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while chunk := source.recv(65536):
                    sink.sendall(chunk)
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=pump, args=(upstream, self.connection), daemon=True)
        back.start()
        pump(self.connection, upstream)
        back.join(5)
        upstream.close()
        self.close_connection = True


class _Chunked(_Handler):
    """Answers in chunks, and closes the connection after every answer without saying so."""

    def handle_any(self) -> None:
        self._body()
        self.server.seen.append(self.command)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in (b'{"data": ', b'{"n": ' + str(len(self.server.seen)).encode() + b"}", b"}"):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def stub() -> Iterator[Any]:
    started: list[_Stub] = []

    def start(handler: type[_Handler], target: str = "") -> _Stub:
        server = _Stub(handler, target)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


# ---- TLS ---------------------------------------------------------------------------------------

def test_tls_with_the_servers_ca_from_settings(tls_bao: BaoServer, token_env: None, monkeypatch: pytest.MonkeyPatch):
    round_trip(tls_bao, monkeypatch, ca_cert=tls_bao.ca_cert)


def test_tls_with_the_ca_from_vault_cacert(tls_bao: BaoServer, token_env: None, monkeypatch: pytest.MonkeyPatch):
    assert tls_bao.ca_cert
    monkeypatch.setenv("VAULT_CACERT", tls_bao.ca_cert)
    round_trip(tls_bao, monkeypatch)


def test_tls_without_the_ca_is_one_line_and_not_retried(tls_bao: BaoServer, token_env: None,
                                                       monkeypatch: pytest.MonkeyPatch):
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        round_trip(tls_bao, monkeypatch)
    where = tls_bao.addr.removeprefix("https://")
    assert str(caught.value).endswith(f"TLS handshake with {where} failed (certificate verify failed); check ca_cert")
    assert "\n" not in str(caught.value)
    assert "retr" not in str(caught.value)
    assert time.monotonic() - started < 2


def test_tls_without_verification_when_asked(tls_bao: BaoServer, token_env: None, monkeypatch: pytest.MonkeyPatch):
    round_trip(tls_bao, monkeypatch, verify=False)


# ---- redirects and proxies ---------------------------------------------------------------------

def test_a_standby_redirect_is_followed_with_the_body(bao: BaoServer, token_env: None, stub: Any,
                                                      monkeypatch: pytest.MonkeyPatch):
    standby = stub(_Redirect, bao.addr)
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao.token)
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    backend = make_backend("vault", bao.settings(prefix=prefix, addr=standby.url))
    ref = SecretRef("vault", "apps/web/db", "password")
    value = make_value()
    assert backend.store(ref, value, META).wrote
    assert "POST" in standby.seen and "PATCH" in standby.seen
    stored = bao.client().secrets.kv.v2.read_secret_version(path=f"{prefix}/apps/web/db", mount_point="secret",
                                                            raise_on_deleted_version=True)["data"]
    assert stored["data"] == {"password": value}
    assert stored["metadata"]["custom_metadata"]["password:source"] == META["source"]


def test_the_environments_http_proxy_is_used(bao: BaoServer, token_env: None, stub: Any,
                                             monkeypatch: pytest.MonkeyPatch):
    proxy = stub(_Proxy)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    round_trip(bao, monkeypatch)
    assert any(url.startswith(f"{bao.addr}/v1/secret/data/") for url in proxy.seen)


def test_no_proxy_hosts_bypass_the_proxy(bao: BaoServer, token_env: None, stub: Any,
                                         monkeypatch: pytest.MonkeyPatch):
    proxy = stub(_Proxy)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    round_trip(bao, monkeypatch)
    assert proxy.seen == []


def test_https_goes_through_the_proxys_tunnel(tls_bao: BaoServer, token_env: None, stub: Any,
                                              monkeypatch: pytest.MonkeyPatch):
    proxy = stub(_Tunnel)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    round_trip(tls_bao, monkeypatch, ca_cert=tls_bao.ca_cert)
    assert proxy.seen and all(seen == f"CONNECT {tls_bao.addr.removeprefix('https://')}" for seen in proxy.seen)


def test_chunked_answers_and_connections_the_server_closed(stub: Any):
    server = stub(_Chunked)
    transport = Transport(server.url)
    first = transport.request("GET", f"{server.url}/v1/a", timeout=5)
    time.sleep(0.2)  # the server has closed the connection meanwhile: a new one is opened
    second = transport.request("POST", f"{server.url}/v1/b", json={"x": 1}, timeout=5)
    assert (first.json(), second.json()) == ({"data": {"n": 1}}, {"data": {"n": 2}})
    assert first.headers.get("content-type") == first.headers["Content-Type"] == "application/json"
    assert server.seen == ["GET", "POST"]


def test_an_answer_that_is_not_http_is_one_line(token_env: None, monkeypatch: pytest.MonkeyPatch):
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
                conn.close()

    threading.Thread(target=answer, daemon=True).start()
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", "not-a-real-token")
    addr = f"http://127.0.0.1:{listener.getsockname()[1]}"
    backend = make_backend("vault", {"type": "vault", "addr": addr, "retries": 0,
                                     "auth": {"method": "token", "token_env": "VAULTSHIFT_TEST_TOKEN"}})
    try:
        with pytest.raises(BackendError) as caught:
            backend.read(SecretRef("vault", "apps/web/db", "password"))
    finally:
        listener.close()
    assert str(caught.value) == f"vault: read apps/web/db: cannot connect to {addr}: the server's answer is not HTTP"


def test_a_header_with_a_line_break_is_refused(bao: BaoServer):
    transport = Transport(bao.addr)
    with pytest.raises(ValueError, match="'X-Vault-Token' holds a line break") as caught:
        transport.request("GET", f"{bao.addr}/v1/sys/health", headers={"X-Vault-Token": "a\r\nX-Evil: 1"})
    assert "Evil" not in str(caught.value)


def test_query_parameters_are_encoded(bao: BaoServer, token_env: None, stub: Any):
    proxy = stub(_Proxy)
    transport = Transport(bao.addr, proxies={"http": proxy.url})
    response = transport.request("GET", f"{bao.addr}/v1/sys/health", params={"standbycode": 200, "x": "a b&c"},
                                 timeout=5)
    assert response.ok and response.json()["initialized"] is True
    assert proxy.seen == [f"{bao.addr}/v1/sys/health?standbycode=200&x=a+b%26c"]


def test_a_response_reports_its_status_to_the_callback(bao: BaoServer, tmp_path: Path):
    statuses: list[int] = []
    transport = Transport(bao.addr, on_status=statuses.append)
    missing = transport.request("GET", f"{bao.addr}/v1/secret/data/nothing-here", timeout=5,
                                headers={"X-Vault-Token": bao.token})
    assert not missing.ok and missing.status_code == 404 and statuses == [404]
