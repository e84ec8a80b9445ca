"""Shared fixtures: runtime-built fake tokens, a scan of a real tree, and the CLI as a subprocess."""

from __future__ import annotations

import os
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from trees import write_tree

from migrator.discover.detectors.entropy import wordlike
from migrator.discover.models import ScanResult
from migrator.discover.scanner import Scanner, ScanOptions
from migrator.fingerprint import Fingerprinter

ROOT = Path(__file__).resolve().parent.parent
_VENV_CLI = ROOT / ".venv" / "bin" / "vaultshift"
CLI = _VENV_CLI if _VENV_CLI.exists() else Path(sys.executable).parent / "vaultshift"
ALNUM = string.ascii_letters + string.digits
TEST_KEY = bytes(range(32))
# Substrings the filters read as "made up"; a random token must never contain one by chance.
_MARKERS = ("test", "demo", "example", "sample", "dummy", "fake", "mock", "secret", "passw", "foo", "xxx",
            "lorem", "ipsum", "redact", "notreal", "your", "change", "placeholder")


def make_token(length: int = 32, alphabet: str = ALNUM, prefix: str = "") -> str:
    """``prefix`` + ``length`` random characters; with the default alphabet always mixed-case with digits."""
    while True:
        body = "".join(secrets.choice(alphabet) for _ in range(length))
        if any(marker in body.lower() for marker in _MARKERS) or wordlike(body):
            continue  # about 1 in 600 random strings reads as words, which the filters drop
        if alphabet == ALNUM and not (any(c.islower() for c in body) and any(c.isupper() for c in body)
                                      and any(c.isdigit() for c in body)):
            continue
        return prefix + body


@pytest.fixture
def token() -> Callable[..., str]:
    return make_token


@pytest.fixture
def tree(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Path]:
    """``tree(files)``: write ``files`` under ``tmp_path / "tree"`` and return that root."""
    return lambda files: write_tree(tmp_path / "tree", files)


@pytest.fixture
def scan(tmp_path: Path) -> Callable[..., ScanResult]:
    """``scan(files, **ScanOptions fields)``: write ``files`` under a fresh root and scan it."""
    counter = iter(range(1_000_000))

    def _scan(files: dict[str, str | bytes], **options: object) -> ScanResult:
        root = write_tree(tmp_path / f"tree{next(counter)}", files)
        return Scanner(Fingerprinter(TEST_KEY), ScanOptions(**options)).scan([root])  # type: ignore[arg-type]

    return _scan


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTSHIFT_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), NO_COLOR="1",
               VAULTSHIFT_FINGERPRINT_KEY=secrets.token_hex(32))
    return env


@pytest.fixture
def cli(tmp_path: Path, cli_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli(*args, env=None, cwd=None, input=None)``: run ``vaultshift`` for real; text output captured."""

    def _run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
             input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=60, input=input,
                              env=env if env is not None else cli_env, cwd=cwd or tmp_path)

    return _run


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory the unprivileged child can reach (pytest's tmp_path sits in a 0700 dir)."""
    if os.geteuid() != 0:
        pytest.skip("dropping privileges needs root")
    path = Path(tempfile.mkdtemp(prefix="vaultshift-fs-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for dirpath, dirnames, filenames in os.walk(path):
            for name in dirnames + filenames:
                full = os.path.join(dirpath, name)
                if not os.path.islink(full):
                    os.chmod(full, 0o700)
        shutil.rmtree(path)


@pytest.fixture
def git_cli_env(tmp_path: Path, cli_env: dict[str, str]) -> dict[str, str]:
    """``cli_env`` plus an isolated git configuration (identity, default branch main)."""
    from gitrepo import git_env

    return git_env(cli_env, Path(cli_env["HOME"]))


@pytest.fixture
def repo(tmp_path: Path, git_cli_env: dict[str, str]) -> Callable[..., object]:
    """``repo(name, bare=False)``: a fresh git repository under ``tmp_path``."""
    from gitrepo import GitRepo

    return lambda name="work", bare=False: GitRepo(tmp_path / name, git_cli_env, bare=bare)


# ---- Secret stores for the backend tests: real OpenBao and moto servers (tests/servers.py) ----

from servers import (  # noqa: E402
    BaoServer,
    MotoServer,
    PostgresServer,
    apply_aws_test_env,
    bao_server,
    moto_server,
    postgres_server,
)


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """An OpenBao dev server shared by the whole session: ``addr``, ``token`` (root), ``client()``.
    Tests keep to their own paths and never stop or seal it (use ``bao_private`` for that)."""
    with bao_server(tmp_path_factory.mktemp("bao")) as server:
        yield server


@pytest.fixture
def bao_private(tmp_path: Path) -> Iterator[BaoServer]:
    """An OpenBao dev server for one test, which may stop, freeze or seal it."""
    with bao_server(tmp_path / "bao") as server:
        yield server


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's Secrets Manager shared by the session: ``endpoint``; tests keep to their own names."""
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL shared by the session (``port``, ``superuser``, ``password``, ``connect()``);
    tests make roles of their own names."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """boto3 in this process kept off real AWS: dummy keys, no config or credentials files, no
    instance metadata, region us-east-1. Returns the variables set (for subprocess environments)."""
    env = apply_aws_test_env(dict(os.environ))
    for name in set(os.environ) - set(env):
        monkeypatch.delenv(name)
    for name, value in env.items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)
    return env


# ---- A small fleet to migrate (plan -> apply -> rollback tests) ----


@pytest.fixture
def fleet(tmp_path: Path, token: Callable[..., str]) -> tuple[Path, dict[str, bytes], dict[str, str]]:
    """A small fleet: an Ansible vars file, an agent-rendered config, an .env; and its canaries."""
    canaries = {"vars": token(24), "config": token(28), "env": token(20)}
    root = tmp_path / "fleet"
    files = {
        "ansible/group_vars/all/main.yml": f"# shared\napp_name: shop\ndb_password: {canaries['vars']}\nport: 5432\n",
        "web01/etc/shop/config.ini": f"[db]\nhost = db1\npassword = {canaries['config']}\n; {{{{ keep }}}}\n",
        "web01/srv/shop/.env": f"export HOST=db1\nAPI_TOKEN={canaries['env']}\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root, {name: (root / name).read_bytes() for name in files}, canaries


@pytest.fixture
def vault_env(cli_env: dict[str, str], bao: BaoServer) -> dict[str, str]:
    """``cli_env`` pointed at the session's OpenBao dev server (VAULT_ADDR, VAULT_TOKEN)."""
    return dict(cli_env, VAULT_ADDR=bao.addr, VAULT_TOKEN=bao.token)


@pytest.fixture(scope="session", autouse=True)
def _ansible_runtime_dirs() -> Iterator[None]:
    """Remove the runtime directories the Ansible runs of the session were given."""
    yield
    import shutil

    from ansible_run import RUNTIME_DIRS

    for directory in RUNTIME_DIRS:
        shutil.rmtree(directory, ignore_errors=True)


from terraform_run import Workspace, make_workspace  # noqa: E402


@pytest.fixture
def workspace(tmp_path: Path, bao: BaoServer, cli: Callable[..., subprocess.CompletedProcess[str]]) -> Workspace:
    """A Terraform working directory with the vaultshift provider installed (tests/terraform_run.py)."""
    return make_workspace(tmp_path, bao, cli)
