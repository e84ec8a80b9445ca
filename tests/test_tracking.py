"""The migration inventory (migrator.state.tracking), every test run twice: on SQLite in a state
directory and on the session's real PostgreSQL (a database of the test's own). Real scans of real
files feed it; the states move as a plan is applied, rotated and rolled back; data points come
back in time order; two migrations in one store never meet; concurrent writers (threads, each as
a CI job would be) lose nothing; every failure is one line naming the store, never a password;
no value is ever in the store."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from assertions import assert_no_canary, one_line
from servers import PostgresServer, free_port, make_value

from migrator.discover.models import ScanError, ScanResult
from migrator.discover.scanner import Scanner, ScanOptions
from migrator.fingerprint import Fingerprinter
from migrator.git.history import HistoryScan, Introduction
from migrator.plan.models import Occurrence, Plan, PlannedSecret, ReferenceStyle, SecretRef
from migrator.report import kpis as kpis_module
from migrator.rotate import inventory as rotate_inventory
from migrator.state.tracking import (
    DISCOVERED,
    DYNAMIC,
    GONE,
    INVENTORY_NAME,
    LOCAL_GROUP,
    PLAINTEXT,
    REFERENCED,
    ROTATING,
    ROTATION_STATES,
    STORED,
    Tracker,
    TrackingError,
    newest_introduction,
    redact_url,
)

TABLES = ("vs_meta", "vs_secrets", "vs_occurrences", "vs_points", "vs_guards", "vs_history_scans")

TEST_KEY = bytes(range(32))  # the fingerprint key the scans are made with


@contextlib.contextmanager
def new_database(pg: PostgresServer) -> Iterator[str]:
    """A database of this test's own on the session's PostgreSQL: its URL (the superuser's)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with pg.connect() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield pg.url(database=name)
    finally:
        with pg.connect() as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def database(postgres: PostgresServer) -> Iterator[str]:
    """One database for this module's tests (each test keeps to a schema of its own: a schema
    is made in a millisecond, a database in half a second)."""
    with new_database(postgres) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh inventory goes: a state directory, or a PostgreSQL URL whose search path is
    a new schema (what a team sharing one database with other tools would do)."""
    if request.param == "sqlite":
        return str(tmp_path / "state")
    url: str = request.getfixturevalue("database")
    schema = f"s_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    return f"{url}?options=-csearch_path%3D{schema}"


def run_sql(target: str, query: str) -> list[tuple[Any, ...]]:
    """``query`` run on the store behind the tracker's back (as another tool would)."""
    if target.startswith("postgresql://"):
        with psycopg.connect(target, autocommit=True, connect_timeout=5) as db:
            cursor = db.execute(query)
            return list(cursor.fetchall()) if cursor.description else []
    local = sqlite3.connect(Path(target) / INVENTORY_NAME)
    try:
        rows = local.execute(query).fetchall()
        local.commit()
        return rows
    finally:
        local.close()


def scan_root(root: Path) -> ScanResult:
    return Scanner(Fingerprinter(TEST_KEY), ScanOptions()).scan([root])


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Two files holding two values: ``token`` twice (both files), ``password`` once."""
    values = {"token": make_value(24), "password": make_value(28)}
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.env").write_text(f"API_TOKEN={values['token']}\n")
    (root / "config.yml").write_text(f"db_password: {values['password']}\nother_token: {values['token']}\n")
    return root, values


def plan_of(result: ScanResult, root: Path, backend: str = "vault") -> Plan:
    """A plan of what ``result`` found below ``root``: one secret per fingerprint, its occurrences."""
    by_fingerprint: dict[str, list[Any]] = {}
    for finding in result.findings:
        by_fingerprint.setdefault(finding.fingerprint, []).append(finding)
    secrets = tuple(
        PlannedSecret(fingerprint, found[0].kind, SecretRef(backend, f"apps/repo/{found[0].kind}", "value"),
                      tuple(Occurrence(f.path, f.span.start, f.span.end, f.span.line, f.key_path, f.reader,
                                       ReferenceStyle.AGENT_TEMPLATE, "digest", root=str(root)) for f in found))
        for fingerprint, found in sorted(by_fingerprint.items()))
    return Plan(secrets, (str(root),), "key-id", "default")


def fingerprint_of(result: ScanResult, path: str) -> str:
    return next(f.fingerprint for f in result.findings if f.path == path and f.span.line == 1)


# ---- Round trips ----------------------------------------------------------------------------------


def test_a_scan_is_its_secrets_its_occurrences_and_a_point(target: str, tree: tuple[Path, dict[str, str]]) -> None:
    root, _ = tree
    result = scan_root(root)
    token, password = fingerprint_of(result, "app.env"), fingerprint_of(result, "config.yml")
    with Tracker.open(target) as tracker:
        point = tracker.record_scan(result, root, now=1000.0)
        assert {(s.fingerprint, s.kind, s.state, s.first_seen) for s in tracker.secrets()} == {
            (token, "token", DISCOVERED, 1000.0), (password, "password", DISCOVERED, 1000.0)}
        assert [(o.fingerprint, o.file, o.line, o.repo, o.host, o.host_group, o.state)
                for o in tracker.occurrences()] == [
            (token, str(root / "app.env"), 1, str(root), "", LOCAL_GROUP, PLAINTEXT),
            (password, str(root / "config.yml"), 1, str(root), "", LOCAL_GROUP, PLAINTEXT),
            (token, str(root / "config.yml"), 2, str(root), "", LOCAL_GROUP, PLAINTEXT)]
    assert point.source == "scan" and point.at == 1000.0 and point.kpis == {} and point.migration_kpis() is None
    assert point.inventory["hardcoded"] == 3
    assert point.inventory["hardcoded_by_repo"] == {str(root): 3}
    assert point.inventory["hardcoded_by_group"] == {LOCAL_GROUP: 3}
    assert point.inventory["scanned"] == {"repo": str(root), "host": "", "findings": 3, "complete": True}
    with Tracker.open(target) as again:  # reopened: everything is still there
        assert again.points() == [point] and again.latest() == point
        assert len(again.occurrences(PLAINTEXT)) == 3 and again.occurrences(REFERENCED) == []
        assert again.repos() == [str(root)]
    if target.startswith("postgresql://"):  # in the URL's schema: stores of one database stay apart
        schema = target.rsplit("%3D", 1)[1]
        assert run_sql(target, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'vs_points'") \
            == [(schema,)]


def test_a_scan_seen_twice_is_one_occurrence_each(target: str, tree: tuple[Path, dict[str, str]]) -> None:
    root, _ = tree
    result = scan_root(root)
    with Tracker.open(target) as tracker:
        tracker.record_scan(result, root, host="web1", group="web", now=100.0)
        tracker.record_scan(result, str(root) + "/", host="web1", group="web", now=200.0)  # the same root
        occurrences = tracker.occurrences()
        assert len(occurrences) == 3 and len(tracker.secrets()) == 2
        assert {(o.first_seen, o.updated, o.host, o.host_group) for o in occurrences} == {(100.0, 200.0, "web1", "web")}
        assert [p.inventory["hardcoded_by_group"] for p in tracker.points()] == [{"web": 3}, {"web": 3}]
        tracker.record_scan(result, root, host="web2", now=300.0)  # the same files on another host are theirs
        assert len(tracker.occurrences()) == 6
        assert tracker.latest().inventory["hardcoded_by_group"] == {"web": 3, "web2": 3}  # type: ignore[union-attr]


def test_a_value_taken_out_is_gone_but_not_after_an_incomplete_scan(target: str,
                                                                    tree: tuple[Path, dict[str, str]]) -> None:
    root, _ = tree
    with Tracker.open(target) as tracker:
        tracker.record_scan(scan_root(root), root, now=100.0)
        (root / "app.env").write_text("API_TOKEN=\n")  # someone removed it by hand
        after = scan_root(root)
        incomplete = ScanResult(after.findings, [ScanError(str(root / "sub"), "permission denied")], after.stats)
        point = tracker.record_scan(incomplete, root, now=150.0)
        assert point.inventory["hardcoded"] == 3 and point.inventory["scanned"]["complete"] is False
        point = tracker.record_scan(after, root, now=200.0)
        assert point.inventory["hardcoded"] == 2
        assert point.inventory["occurrences_by_state"] == {PLAINTEXT: 2, REFERENCED: 0, GONE: 1}
        [gone] = tracker.occurrences(GONE)
        assert (gone.file, gone.updated) == (str(root / "app.env"), 200.0)
        tracker.record_scan(scan_root(root / "config.yml"), root / "config.yml", now=250.0)  # a file as the root
        assert [(o.file, o.line) for o in tracker.occurrences(PLAINTEXT)] == [
            (str(root / "config.yml"), 1), (str(root / "config.yml"), 2)]
        assert len(tracker.occurrences()) == 3  # the same occurrences as under the directory
        (root / "app.env").write_text(tree[1]["token"].join(["API_TOKEN=", "\n"]))  # put back: plaintext again
        assert tracker.record_scan(scan_root(root), root, now=300.0).inventory["hardcoded"] == 3


def test_apply_rotate_and_rollback_move_the_states(target: str, tree: tuple[Path, dict[str, str]]) -> None:
    root, _ = tree
    result = scan_root(root)
    plan = plan_of(result, root)
    token, password = fingerprint_of(result, "app.env"), fingerprint_of(result, "config.yml")
    env, config = str(root / "app.env"), str(root / "config.yml")
    with Tracker.open(target) as tracker:
        tracker.record_scan(result, root, now=100.0)
        tracker.record_plan(plan, now=110.0)
        secrets = {s.fingerprint: s for s in tracker.secrets()}
        assert (secrets[token].backend, secrets[token].path, secrets[token].field) == ("vault", "apps/repo/token",
                                                                                      "value")
        assert {s.state for s in secrets.values()} == {DISCOVERED} and len(tracker.occurrences()) == 3

        def states() -> tuple[dict[str, str], dict[tuple[str, int], str]]:
            return ({s.fingerprint: s.state for s in tracker.secrets()},
                    {(o.file, o.line): o.state for o in tracker.occurrences()})

        # Apply stored both and rewrote app.env only: the token is still in plaintext in config.yml.
        tracker.record_progress(plan, stored=[token, password], migrated=[("", env)], now=200.0)
        assert states() == ({token: STORED, password: STORED},
                            {(env, 1): REFERENCED, (config, 1): PLAINTEXT, (config, 2): PLAINTEXT})
        tracker.record_progress(plan, stored=[token, password], migrated=[("", env), ("", config)], now=300.0)
        assert states() == ({token: REFERENCED, password: REFERENCED},
                            {(env, 1): REFERENCED, (config, 1): REFERENCED, (config, 2): REFERENCED})
        assert tracker.record_kpis("apply", {"hardcoded": 0}, now=310.0).inventory["hardcoded"] == 0
        tracker.record_plan(plan, now=320.0)  # a plan recorded again moves nothing back
        assert set(states()[0].values()) == {REFERENCED}
        tracker.record_progress(plan, stored=[token, password], migrated=[("", env), ("", config)],
                                rotations={token: "static", password: "dynamic"}, now=400.0)
        assert states()[0] == {token: ROTATING, password: DYNAMIC}
        # Rolled back: the files hold their values again, the secrets stay stored, rotation undone.
        tracker.record_progress(plan, stored=[token, password], migrated=[], rotations={token: "kv"}, now=500.0)
        assert states() == ({token: STORED, password: STORED},
                            {(env, 1): PLAINTEXT, (config, 1): PLAINTEXT, (config, 2): PLAINTEXT})
        point = tracker.record_kpis("rollback", {"hardcoded": 3}, now=510.0)
        assert point.inventory["secrets_by_state"] == {DISCOVERED: 0, STORED: 2, REFERENCED: 0, ROTATING: 0,
                                                       DYNAMIC: 0}
        assert [p.inventory["hardcoded"] for p in tracker.points()] == [3, 0, 3]


def test_a_referenced_secret_found_in_plaintext_again_is_stored(target: str, tree: tuple[Path, dict[str, str]]) -> None:
    root, _ = tree
    result = scan_root(root)
    plan = plan_of(result, root)
    every_file = [("", str(root / "app.env")), ("", str(root / "config.yml"))]
    with Tracker.open(target) as tracker:
        tracker.record_progress(plan, stored=[s.fingerprint for s in plan.secrets], migrated=every_file, now=1.0)
        assert {s.state for s in tracker.secrets()} == {REFERENCED}
        tracker.record_scan(result, root, now=2.0)  # someone pasted the values back
        assert {s.state for s in tracker.secrets()} == {STORED}
        assert {o.state for o in tracker.occurrences()} == {PLAINTEXT}


def test_points_come_back_in_time_order_with_the_kpis(target: str, tmp_path: Path,
                                                      tree: tuple[Path, dict[str, str]]) -> None:
    root, _ = tree
    plan = plan_of(scan_root(root), root)
    (tmp_path / "applied").mkdir()
    measured = kpis_module.measure(plan, tmp_path / "applied", now=250.0)  # nothing applied there yet
    with Tracker.open(target) as tracker:
        tracker.record_kpis("status", {"n": 3}, now=300.0)
        tracker.record_kpis("status", {"n": 1}, now=100.0)  # a CI job whose clock lagged, or a late report
        tracker.record_kpis("apply", measured, now=200.0)
        tracker.record_kpis("rotate", {"n": 4}, now=300.0)  # the same time: recording order
        points = tracker.points()
        assert [(p.at, p.source) for p in points] == [(100.0, "status"), (200.0, "apply"), (300.0, "status"),
                                                      (300.0, "rotate")]
        assert [p.at for p in tracker.points(since=200.0)] == [200.0, 300.0, 300.0]
        assert tracker.points(since=301.0) == []
        assert tracker.latest() == points[-1]
        assert points[1].migration_kpis() == measured  # MigrationKpis round trip through JSON
        assert points[1].kpis["hardcoded"] == 3 and points[1].kpis["hardcoded_by_group"] == {"local": 3}
        with pytest.raises(TrackingError, match="needs a source"):
            tracker.record_kpis("", {})


def test_two_migrations_in_one_store_are_kept_apart(target: str, tree: tuple[Path, dict[str, str]]) -> None:
    root, _ = tree
    result = scan_root(root)
    with Tracker.open(target, migration="payments") as payments, Tracker.open(target, migration="shop") as shop:
        payments.record_scan(result, root, now=1.0)
        payments.record_guard(root, "pre-commit", now=1.0)
        shop.record_kpis("status", {"n": 1}, now=2.0)
        shop.record_history_scan("https://git.example.org/shop.git", "abc123", 0, None, now=2.0)
        assert [p.source for p in payments.points()] == ["scan"] and [p.source for p in shop.points()] == ["status"]
        assert shop.secrets() == [] and shop.occurrences() == [] and shop.guards() == []
        assert payments.history_scans() == [] and shop.repos() == ["https://git.example.org/shop.git"]
        assert payments.latest().inventory["hardcoded"] == 3  # type: ignore[union-attr]
        assert payments.migrations() == ["payments", "shop"]
    with Tracker.open(target) as default:
        assert default.migration == "default" and default.points() == [] and default.secrets() == []


def test_guards_and_history_scans(target: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    with Tracker.open(target) as tracker:
        tracker.record_guard(repo, "pre-commit", now=10.0)
        tracker.record_guard(repo, "pre-commit", now=20.0)  # installed again while in place: since 10
        tracker.record_guard("git@git.example.org:org/app.git", "pre-receive", now=15.0)
        assert [(g.repo, g.hook, g.installed_at, g.active) for g in tracker.guards()] == [
            (str(repo), "pre-commit", 10.0, True), ("git@git.example.org:org/app.git", "pre-receive", 15.0, True)]
        tracker.record_guard(repo, "pre-commit", removed=True, now=30.0)
        assert [(g.removed_at, g.active) for g in tracker.guards()][:1] == [(30.0, False)]
        tracker.record_guard(repo, "pre-commit", now=40.0)  # back: guarded since 40
        assert [(g.installed_at, g.removed_at) for g in tracker.guards()][:1] == [(40.0, None)]

        history = HistoryScan()
        history.commits[("fp", "a.env", "A")] = [Introduction("c1", "dev", "2025-01-02T03:04:05+00:00", "add"),
                                                 Introduction("c3", "dev", "2025-03-01T00:00:00+02:00", "re-add")]
        history.commits[("fp2", "b.env", "B")] = [Introduction("c2", "dev", "2025-02-01T00:00:00Z", "add b")]
        newest = newest_introduction(history)
        assert newest == datetime.fromisoformat("2025-02-28T22:00:00+00:00").timestamp()
        assert newest_introduction(HistoryScan()) is None
        tracker.record_history_scan(str(repo) + "/.", "c3", 2, newest, now=60.0)
        tracker.record_history_scan(repo, "c4", 0, None, now=50.0)
        assert [(h.repo, h.head, h.findings, h.newest_introduced) for h in tracker.history_scans(repo)] == [
            (str(repo), "c4", 0, None), (str(repo), "c3", 2, newest)]
        assert tracker.history_scans("elsewhere") == []
        assert tracker.repos() == sorted([str(repo), "git@git.example.org:org/app.git"])


# ---- Failures: one line, naming the store, no password -------------------------------------------------


def test_a_url_that_is_not_postgresql_is_one_line_without_its_password() -> None:
    canary = make_value(20)
    with pytest.raises(TrackingError) as caught:
        Tracker.open(f"mysql://admin:{canary}@db.example.org/inventory")
    assert one_line(caught.value, canary) == \
        "mysql://admin:***@db.example.org/inventory: not a state directory or a postgresql:// URL"
    with pytest.raises(TrackingError, match="state directory or a postgresql"):
        Tracker.open("")


@pytest.mark.parametrize("shape", [
    "postgresql://admin:{pw}@127.0.0.1:notaport/inventory",
    "postgresql://admin:{pw}@127.0.0.1:{port}/inventory",  # nobody listens there
    "postgresql://admin@127.0.0.1:{port}/inventory?password={pw}&sslmode=disable",
])
def test_an_unreachable_or_malformed_postgresql_is_one_line_without_its_password(shape: str) -> None:
    canary = make_value(20)
    url = shape.format(pw=canary, port=free_port())
    with pytest.raises(TrackingError) as caught:
        Tracker.open(url)
    text = one_line(caught.value, canary)
    assert text.startswith(redact_url(url) + ": cannot open the inventory: ") and "admin" in text


def test_a_wrong_postgresql_password_is_one_line_without_it(postgres: PostgresServer) -> None:
    canary = make_value(20)
    with pytest.raises(TrackingError) as caught:
        Tracker.open(postgres.url(password=canary))
    text = one_line(caught.value, canary, postgres.password)
    assert "password authentication failed" in text and f"127.0.0.1:{postgres.port}" in text


def test_a_lost_postgresql_connection_is_one_line(tree: tuple[Path, dict[str, str]],
                                                  postgres: PostgresServer) -> None:
    root, _ = tree
    with new_database(postgres) as url, Tracker.open(url) as tracker:
        with postgres.connect() as admin:  # the server restarted, or an admin ended the session
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                          (url.rsplit("/", 1)[1],))
        with pytest.raises(TrackingError) as caught:
            tracker.record_scan(scan_root(root), root)
    text = one_line(caught.value, postgres.password)
    assert text.startswith(redact_url(url) + ": cannot record the scan: ")


def test_a_state_dir_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory\n")
    with pytest.raises(TrackingError) as caught:
        Tracker.open(tmp_path / "file" / "state")
    assert one_line(caught.value) == \
        f"{tmp_path / 'file' / 'state' / INVENTORY_NAME}: cannot open the inventory: Not a directory"


def test_a_file_that_is_not_an_inventory_is_refused(tmp_path: Path) -> None:
    (tmp_path / INVENTORY_NAME).write_bytes(b"not sqlite at all " * 200)
    with pytest.raises(TrackingError) as caught:
        Tracker.open(tmp_path)
    text = one_line(caught.value)
    assert "not a vaultshift inventory" in text and str(tmp_path / INVENTORY_NAME) in text


def test_another_schema_or_another_apps_tables_are_refused(target: str) -> None:
    Tracker.open(target).close()
    run_sql(target, "UPDATE vs_meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(TrackingError) as caught:
        Tracker.open(target)
    assert "inventory schema 99 is not supported (this vaultshift reads 1)" in one_line(caught.value)
    run_sql(target, "UPDATE vs_meta SET value = 'something else' WHERE key = 'app'")
    with pytest.raises(TrackingError, match="not a vaultshift inventory"):
        Tracker.open(target)


def test_redact_url() -> None:
    assert redact_url("postgresql://u:p%40ss@h:5432/db?sslmode=require") == "postgresql://u:***@h:5432/db?sslmode=require"
    assert redact_url("postgresql://u@h/db?Password=x&a=b") == "postgresql://u@h/db?Password=***&a=b"
    assert redact_url("postgresql://h/db") == "postgresql://h/db"
    assert redact_url("postgresql://u:p@ss@[::1/db") == "postgresql://u:***@[::1/db"  # not even a URL


# ---- Concurrency -------------------------------------------------------------------------------------


def test_concurrent_writers_lose_nothing(target: str, tmp_path: Path) -> None:
    """Two CI jobs at once, each with its own connection, from a store that does not exist yet:
    every scan, point and guard of both is there, the occurrences both saw are one each."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "app.env").write_text(f"API_TOKEN={make_value(24)}\n")
    shared_scan = scan_root(shared)
    own = {}
    for job in ("a", "b"):
        root = tmp_path / job
        root.mkdir()
        for index in range(5):
            (root / f"f{index}.env").write_text(f"API_TOKEN={make_value(24)}\n")
        own[job] = (root, scan_root(root))
    start = threading.Barrier(2)
    failures: list[BaseException] = []
    rounds = 8

    def run_job(name: str) -> None:
        try:
            start.wait(5)
            with Tracker.open(target) as tracker:  # both make the schema at once
                root, result = own[name]
                for index in range(rounds):
                    tracker.record_scan(shared_scan, shared)
                    tracker.record_scan(result, root, host=name)
                    tracker.record_kpis("status", {"job": name, "round": index})
                    tracker.record_guard(tmp_path / f"repo-{name}-{index}", "pre-commit")
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run_job, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    with Tracker.open(target) as tracker:
        points = tracker.points()
        assert len(points) == 2 * rounds * 3
        assert sorted((p.kpis["job"], p.kpis["round"]) for p in points if p.source == "status") == sorted(
            (name, index) for name in ("a", "b") for index in range(rounds))
        assert len(tracker.occurrences()) == 1 + 5 + 5 and len(tracker.secrets()) == 11
        assert len(tracker.guards()) == 2 * rounds
        assert tracker.latest().inventory["hardcoded"] == 11  # type: ignore[union-attr]


def test_one_tracker_shared_by_threads(target: str) -> None:
    with Tracker.open(target) as tracker:
        threads = [threading.Thread(target=lambda n=n: [tracker.record_kpis("status", {"n": n, "i": i})
                                                         for i in range(10)]) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(tracker.points()) == 30


# ---- No value, anywhere ---------------------------------------------------------------------------


def test_no_value_is_ever_in_the_store(target: str, tree: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, values = tree
    result = scan_root(root)
    plan = plan_of(result, root)
    with Tracker.open(target) as tracker:
        tracker.record_scan(result, root)
        tracker.record_plan(plan)
        in_vault = [s.fingerprint for s in plan.secrets]
        tracker.record_progress(plan, stored=in_vault, migrated=[("", str(root / "app.env"))],
                                rotations={in_vault[0]: "static"})
        tracker.record_kpis("status", kpis_module.measure(plan, tmp_path, now=1.0))
        text = repr(tracker) + repr(tracker.secrets()) + repr(tracker.occurrences()) + repr(tracker.points())
    assert_no_canary(text, values, "what the tracker returns")
    if target.startswith("postgresql://"):
        stored = "".join(repr(run_sql(target, f"SELECT * FROM {table}")) for table in TABLES)
    else:
        stored = "".join(path.read_bytes().decode("latin-1") for path in Path(target).iterdir() if path.is_file())
    assert "vaultshift inventory" in stored  # the dump is real
    assert_no_canary(stored, values, "the inventory")


def test_sqlite_inventory_is_private_and_shares_the_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Tracker.open(state) as tracker:
        assert tracker.name == str(state / INVENTORY_NAME)
    assert state.stat().st_mode & 0o777 == 0o700 and (state / INVENTORY_NAME).stat().st_mode & 0o777 == 0o600


def test_names_agree_with_the_modules_they_mirror() -> None:
    assert LOCAL_GROUP == kpis_module.LOCAL
    assert set(ROTATION_STATES) == {rotate_inventory.STATIC, rotate_inventory.DYNAMIC, rotate_inventory.AWS_STAGED}
