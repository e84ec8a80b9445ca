"""Helpers the rewrite tests share: real scans that give spans and values, a byte-preservation
check, and a real OpenBao dev server (own helper until tests/servers.py is shared)."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac

from migrator.discover.detectors.entropy import wordlike
from migrator.discover.document import Document
from migrator.discover.models import Finding
from migrator.discover.scanner import Scanner, ScanOptions
from migrator.fingerprint import Fingerprinter
from migrator.plan.models import SecretRef
from migrator.rewrite import Replacement, RewriteResult

BAO = Path(sys.executable).parent / "bao"
_ALNUM = string.ascii_letters + string.digits
# Substrings the filters read as "made up"; a canary must never contain one by chance.
_MARKERS = ("test", "demo", "example", "sample", "dummy", "fake", "mock", "secret", "passw", "foo", "xxx",
            "lorem", "ipsum", "redact", "notreal", "your", "change", "placeholder")


def make_token(length: int = 32) -> str:
    """A random canary the scanner reports as a credential: mixed case with digits, not word-like
    (tests/conftest.py has the same; a module named conftest is ambiguous across test folders)."""
    while True:
        body = "".join(secrets.choice(_ALNUM) for _ in range(length))
        if any(m in body.lower() for m in _MARKERS) or wordlike(body):
            continue
        if any(c.islower() for c in body) and any(c.isupper() for c in body) and any(c.isdigit() for c in body):
            return body


@dataclass(frozen=True)
class Found:
    """A finding of a real scan: its replacement (span and a vault ref) and the value a backend
    would store for it."""

    replacement: Replacement
    value: str
    key_path: str


def scan_values(path: str, data: bytes, app: str = "web", backend: str = "vault") -> list[Found]:
    """Scan ``data`` as the file ``path``; each finding gets ``apps/<app>#<last key>`` (made unique)."""
    seen: list[tuple[Finding, str]] = []
    scanner = Scanner(Fingerprinter(bytes(range(32))), ScanOptions(value_observer=lambda f, v: seen.append((f, v))))
    doc, _ = Document.from_bytes(path, data)
    scanner.scan_document(doc)
    found = []
    used: set[str] = set()
    for finding, value in seen:
        key = finding.key_path.rsplit(".", 1)[-1].split("[")[0] or finding.kind
        field = key.lower().replace("-", "_")
        while field in used:
            field += "_x"
        used.add(field)
        span = finding.span
        found.append(Found(Replacement(span.start, span.end, SecretRef(backend, f"apps/{app}", field)), value,
                           finding.key_path))
    return found


def outside(data: bytes, spans: list[tuple[int, int]]) -> list[bytes]:
    """The bytes between and around ``spans`` (sorted, not overlapping)."""
    pieces = []
    done = 0
    for begin, end in sorted(spans):
        pieces.append(data[done:begin])
        done = end
    pieces.append(data[done:])
    return pieces


def assert_only_spans_changed(original: bytes, result: RewriteResult, replacements: list[Replacement]) -> None:
    """Every byte outside the replaced spans is where it was, byte for byte."""
    old = outside(original, [(r.start_byte, r.end_byte) for r in replacements])
    new = outside(result.new_bytes, list(result.spans))
    assert new == old


def assert_no_canary(result: RewriteResult, values: list[str]) -> None:
    """No value in the rewritten file or in any generated file."""
    blobs = [result.new_bytes, *result.companions.values()]
    for value in values:
        for blob in blobs:
            assert value.encode() not in blob


# -- a real OpenBao dev server ---------------------------------------------------------------------

def _free_port_pair() -> int:
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no free loopback port pair")


@dataclass(frozen=True)
class DevServer:
    addr: str
    token: str

    def client(self) -> hvac.Client:
        return hvac.Client(url=self.addr, token=self.token)

    def put(self, path: str, data: dict[str, str], mount: str = "secret") -> None:
        self.client().secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point=mount)


@contextlib.contextmanager
def dev_server(workdir: Path) -> Iterator[DevServer]:
    """``bao server -dev`` on a random loopback port (P and P+1), stopped with its process group."""
    port = _free_port_pair()
    token = secrets.token_hex(16)
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "bao.log"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir)}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(BAO), "server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}",
             "-dev-no-store-token"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            cwd=workdir, start_new_session=True)
    addr = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("bao dev server did not start: " + log_path.read_text(errors="replace")[-2000:])
            time.sleep(0.05)
        yield DevServer(addr, token)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
