"""Dynamic database users from a real OpenBao's database engine on a real PostgreSQL: a dynamic role
built from a static user's grants gives each lease a user with exactly those privileges, which is
gone (and its password refused) once the lease is revoked; the engine's role and lease calls, and
their failures, each one line with no password."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from assertions import one_line
from servers import BaoServer, PostgresServer, make_value

from migrator.backends import NotFound, make_backend
from migrator.backends.vault import VaultBackend
from migrator.rotate.classify import POSTGRESQL, DatabaseTarget
from migrator.rotate.database import DatabaseEngine
from migrator.rotate.postgres import PostgresAdmin, can_log_in, dynamic_statements


@pytest.fixture
def pg(postgres: PostgresServer) -> PostgresServer:
    return postgres


@pytest.fixture
def engine(bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[DatabaseEngine]:
    """The database engine at a mount of its own on the session's OpenBao; unmounted after the
    test, which closes the engine's connections to PostgreSQL (else the session's PostgreSQL
    waits for them when it shuts down)."""
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao.token)
    backend = make_backend("vault", bao.settings())
    assert isinstance(backend, VaultBackend)
    database = DatabaseEngine(backend, mount=f"db-{uuid.uuid4().hex[:8]}")
    database.enable()
    yield database
    bao.client().sys.disable_secrets_engine(database.mount)


def name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def target(pg: PostgresServer) -> DatabaseTarget:
    return DatabaseTarget(POSTGRESQL, "127.0.0.1", pg.port, None, "postgres", "shop/.env:5")


@pytest.fixture
def shop(pg: PostgresServer) -> Iterator[tuple[str, str]]:
    """A static user and its schema: SELECT on orders, CREATE on the schema, membership in a
    group that may read reports; nothing on payroll. Yields (user, schema)."""
    user, schema, group = name("app"), name("shop"), name("readers")
    with pg.connect() as root:
        for statement in (f"CREATE ROLE {user} LOGIN PASSWORD '{make_value()}'", f"CREATE ROLE {group} NOLOGIN",
                          f"CREATE SCHEMA {schema}", f"CREATE TABLE {schema}.orders (id int)",
                          f"CREATE TABLE {schema}.reports (id int)", f"CREATE TABLE {schema}.payroll (id int)",
                          f"INSERT INTO {schema}.orders VALUES (1), (2)",
                          f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {user}",
                          f"GRANT SELECT ON {schema}.orders TO {user}",
                          f"GRANT SELECT ON {schema}.reports TO {group}", f"GRANT {group} TO {user}"):
            root.execute(statement)
    yield user, schema


def test_a_dynamic_user_has_the_static_users_privileges_for_its_lease(engine: DatabaseEngine, pg: PostgresServer,
                                                                     shop: tuple[str, str]) -> None:
    user, schema = shop
    with PostgresAdmin(target(pg), pg.superuser, pg.password) as admin:
        creation, revocation = dynamic_statements(admin.grants_of(user), "postgres")
    engine.register("shop", target(pg), pg.superuser, pg.password)
    engine.create_dynamic_role("shop-dyn", "shop", creation, revocation, default_ttl=600, max_ttl=1200)
    creds = engine.dynamic_credentials("shop-dyn")
    assert creds.password not in repr(creds) and creds.lease_id.startswith(f"{engine.mount}/creds/shop-dyn/")
    assert 0 < creds.lease_duration <= 600 and creds.renewable
    assert pg.role_exists(creds.username)
    with pg.connect(creds.username, creds.password) as dynamic:
        assert dynamic.execute(f"SELECT count(*) FROM {schema}.orders").fetchone()[0] == 2
        assert dynamic.execute(f"SELECT count(*) FROM {schema}.reports").fetchone()[0] == 0  # through the group
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            dynamic.execute(f"SELECT * FROM {schema}.payroll")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            dynamic.execute(f"INSERT INTO {schema}.orders VALUES (3)")
        dynamic.execute(f"CREATE TABLE {schema}.scratch (id int)")  # it may create, as the static user may
    assert 600 < engine.renew(creds.lease_id, 900) <= 1200
    engine.revoke_leases("shop-dyn")
    assert not pg.role_exists(creds.username)
    assert not can_log_in(target(pg), creds.username, creds.password)
    with pg.connect() as root:  # what it made is the static user's now, not dropped with it
        owner = root.execute("SELECT tableowner FROM pg_tables WHERE schemaname = %s AND tablename = 'scratch'",
                             (schema,)).fetchone()[0]
    assert owner == user


def test_revoking_a_role_with_several_leases_drops_every_user(engine: DatabaseEngine, pg: PostgresServer,
                                                              shop: tuple[str, str]) -> None:
    user, _ = shop
    with PostgresAdmin(target(pg), pg.superuser, pg.password) as admin:
        creation, revocation = dynamic_statements(admin.grants_of(user), "postgres")
    engine.register("shop", target(pg), pg.superuser, pg.password)
    engine.create_dynamic_role("many", "shop", creation, revocation)
    users = [engine.dynamic_credentials("many").username for _ in range(3)]
    assert len(set(users)) == 3 and all(pg.role_exists(u) for u in users)
    engine.revoke_leases("many")
    assert not any(pg.role_exists(u) for u in users)
    engine.revoke_leases("many")  # no lease left: nothing to do


def test_a_role_on_a_connection_that_does_not_exist_fails_in_one_line(engine: DatabaseEngine) -> None:
    creation, revocation = dynamic_statements_for_nobody()
    with pytest.raises(NotFound) as caught:
        engine.create_dynamic_role("orphan", "no-such-connection", creation, revocation)
    assert one_line(caught.value) == (f"vault: create dynamic role {engine.mount}/roles/orphan: no database "
                                      f"connection 'no-such-connection' on {engine.mount}/ (register the database "
                                      "first)")


def dynamic_statements_for_nobody() -> tuple[list[str], list[str]]:
    from migrator.rotate.postgres import UserGrants

    return dynamic_statements(UserGrants("nobody", "postgres"), "postgres")


def test_roles_are_read_and_deleted(engine: DatabaseEngine, pg: PostgresServer) -> None:
    user = name("app")
    with pg.connect() as root:
        root.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{make_value()}'")
    engine.register("shop", target(pg), pg.superuser, pg.password)
    assert engine.read_static_role("static") is None
    engine.take_over("static", "shop", user, rotation_period=3600)
    settings = engine.read_static_role("static")
    assert settings is not None and settings["username"] == user and settings["db_name"] == "shop"
    engine.delete_static_role("static")
    assert engine.read_static_role("static") is None and engine.managed_by(user) is None
    engine.delete_static_role("static")  # already gone: nothing to do
    creation, revocation = dynamic_statements_for_nobody()
    engine.create_dynamic_role("dyn", "shop", creation, revocation)
    engine.delete_role("dyn")
    with pytest.raises(NotFound) as caught:
        engine.dynamic_credentials("dyn")
    assert one_line(caught.value).endswith(f"{engine.mount}/creds/dyn: no such dynamic role")


def test_a_dynamic_role_without_creation_statements_is_refused(engine: DatabaseEngine) -> None:
    with pytest.raises(ValueError, match="needs creation statements"):
        engine.create_dynamic_role("empty", "shop", [], [])
