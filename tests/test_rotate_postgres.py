"""The PostgreSQL side of rotation against a real PostgreSQL 18: logins told apart (accepted,
refused, unreachable), what an admin may manage, a user's grants read from the catalogs, a
password set, a dynamic role's statements, and the setter of AWS's staged rotation. Every error is
one line and no canary password appears in one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from assertions import one_line
from servers import PostgresServer, free_port, make_value

from migrator.rotate.classify import MYSQL, POSTGRESQL, DatabaseTarget
from migrator.rotate.errors import DatabaseUnreachable, RotationError
from migrator.rotate.postgres import PostgresAdmin, PostgresPassword, UserGrants, can_log_in, dynamic_statements


@pytest.fixture
def pg(postgres: PostgresServer) -> PostgresServer:
    return postgres


def name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def target(pg: PostgresServer, user: str | None = None, port: int | None = None,
           database: str | None = "postgres") -> DatabaseTarget:
    return DatabaseTarget(POSTGRESQL, "127.0.0.1", port or pg.port, user, database, "shop/.env:5")


def make_user(pg: PostgresServer, *options: str) -> tuple[str, str]:
    user, password = name("app"), make_value()
    with pg.connect() as admin:
        login = "" if "NOLOGIN" in options else "LOGIN"
        admin.execute(f"CREATE ROLE {user} {login} {' '.join(options)} PASSWORD '{password}'")
    return user, password


@pytest.fixture
def superadmin(pg: PostgresServer) -> Iterator[PostgresAdmin]:
    with PostgresAdmin(target(pg), pg.superuser, pg.password) as admin:
        yield admin


# ---- can_log_in ---------------------------------------------------------------------------------


def test_can_log_in_tells_an_accepted_login_from_refused_ones(pg: PostgresServer) -> None:
    user, password = make_user(pg)
    canary = make_value()
    locked, locked_password = make_user(pg, "NOLOGIN")
    assert can_log_in(target(pg), user, password)
    assert not can_log_in(target(pg), user, canary)
    assert not can_log_in(target(pg), name("ghost"), canary)
    assert not can_log_in(target(pg), locked, locked_password)


def test_an_unreachable_server_raises_one_line_naming_host_and_port(pg: PostgresServer,
                                                                   capfd: pytest.CaptureFixture[str],
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    canary, port = make_value(), free_port()
    with pytest.raises(DatabaseUnreachable) as caught:
        can_log_in(target(pg, port=port), "app", canary, timeout=2)
    text = one_line(caught.value, canary)
    assert text.startswith(f"127.0.0.1:{port}: cannot connect") and "refused" in text.lower()
    assert not can_log_in(target(pg), "app", canary)
    captured = capfd.readouterr()
    assert canary not in captured.out + captured.err + caplog.text


def test_a_server_answer_other_than_a_refusal_is_an_error_not_false(pg: PostgresServer) -> None:
    user, password = make_user(pg)
    with pytest.raises(RotationError) as caught:
        can_log_in(target(pg, database=name("nodb")), user, password)
    assert not isinstance(caught.value, DatabaseUnreachable)
    assert "does not exist" in one_line(caught.value, password)


def test_a_target_that_is_not_postgresql_is_refused(pg: PostgresServer) -> None:
    mysql = DatabaseTarget(MYSQL, "127.0.0.1", 3306, "app", "shop", "shop/.env:5")
    with pytest.raises(RotationError, match="not PostgreSQL"):
        can_log_in(mysql, "app", make_value())


# ---- check_can_manage -----------------------------------------------------------------------------


def test_a_superuser_admin_may_manage_an_app_user(superadmin: PostgresAdmin, pg: PostgresServer) -> None:
    user, password = make_user(pg)
    superadmin.check_can_manage(user)
    assert can_log_in(target(pg), user, password)  # nothing changed


def test_a_createrole_admin_needs_the_admin_option_on_the_user(pg: PostgresServer) -> None:
    user, password = make_user(pg)
    admin, admin_password = make_user(pg, "CREATEROLE")
    with PostgresAdmin(target(pg), admin, admin_password) as weak:
        with pytest.raises(RotationError) as caught:
            weak.check_can_manage(user)
        text = one_line(caught.value, admin_password, password)
        assert f"user {user!r}" in text and "ADMIN OPTION" in text
        with pg.connect() as root:
            root.execute(f"GRANT {user} TO {admin} WITH ADMIN OPTION")
        weak.check_can_manage(user)
        superuser, _ = make_user(pg, "SUPERUSER")
        with pytest.raises(RotationError, match="superuser"):
            weak.check_can_manage(superuser)
    assert can_log_in(target(pg), user, password)


def test_an_admin_without_createrole_may_not_manage_others(pg: PostgresServer) -> None:
    user, _ = make_user(pg)
    admin, admin_password = make_user(pg)
    with PostgresAdmin(target(pg), admin, admin_password) as weak:
        with pytest.raises(RotationError, match="neither SUPERUSER nor CREATEROLE"):
            weak.check_can_manage(user)
        weak.check_can_manage(admin)  # its own password: anyone may


def test_a_missing_or_nologin_user_cannot_be_managed(superadmin: PostgresAdmin, pg: PostgresServer) -> None:
    ghost = name("ghost")
    with pytest.raises(RotationError) as caught:
        superadmin.check_can_manage(ghost)
    assert one_line(caught.value).endswith(f"user {ghost!r} on 127.0.0.1:{pg.port}: no such role")
    group, _ = make_user(pg, "NOLOGIN")
    with pytest.raises(RotationError, match=f"user '{group}' .*NOLOGIN"):
        superadmin.check_can_manage(group)


def test_an_admin_whose_login_is_refused_fails_in_one_line(pg: PostgresServer) -> None:
    canary = make_value()
    with pytest.raises(RotationError) as caught, PostgresAdmin(target(pg), pg.superuser, canary):
        pass
    text = one_line(caught.value, canary, pg.password)
    assert text == f"admin {pg.superuser}@127.0.0.1:{pg.port}: the server refused the admin's login"


# ---- grants_of -----------------------------------------------------------------------------------


def test_grants_of_reads_a_users_own_and_group_privileges(superadmin: PostgresAdmin, pg: PostgresServer) -> None:
    user, _ = make_user(pg)
    schema, group = name("shop"), name("readers")
    with pg.connect() as root:
        for statement in (
                f"CREATE SCHEMA {schema}",
                f"CREATE TABLE {schema}.orders (id int)", f"CREATE TABLE {schema}.items (id int)",
                f"CREATE TABLE {schema}.secret_stuff (id int)", f"CREATE TABLE {schema}.reports (id int)",
                f"CREATE SEQUENCE {schema}.order_ids",
                f"CREATE ROLE {group} NOLOGIN",
                f"GRANT USAGE ON SCHEMA {schema} TO {user}",
                f"GRANT SELECT ON {schema}.orders TO {user}",
                f"GRANT INSERT, SELECT ON {schema}.items TO {user}",
                f"GRANT USAGE, SELECT ON SEQUENCE {schema}.order_ids TO {user}",
                f"GRANT SELECT ON {schema}.reports TO {group}",
                f"GRANT {group} TO {user}"):
            root.execute(statement)
    grants = superadmin.grants_of(user)
    assert isinstance(grants, UserGrants) and grants.user == user and grants.database == "postgres"
    assert grants.on(schema, "schema") == {"USAGE"}
    assert grants.on(f"{schema}.orders", "table") == {"SELECT"}
    assert grants.on(f"{schema}.items", "table") == {"INSERT", "SELECT"}
    assert grants.on(f"{schema}.order_ids", "sequence") == {"SELECT", "USAGE"}
    assert grants.on(f"{schema}.secret_stuff") == frozenset()
    assert grants.memberships == (group,)
    [through] = [g for g in grants.grants if g.label == f"{schema}.reports"]
    assert through.via == group and through.privileges == ("SELECT",)
    assert {g.label for g in grants.direct("table")} == {f"{schema}.orders", f"{schema}.items"}
    assert grants.owns == ()


def test_grants_of_counts_what_a_user_owns(superadmin: PostgresAdmin, pg: PostgresServer) -> None:
    user, _ = make_user(pg)
    schema = name("own")
    with pg.connect() as root:
        root.execute(f"CREATE SCHEMA {schema} AUTHORIZATION {user}")
        root.execute(f"CREATE TABLE {schema}.ledger (id int)")
        root.execute(f"ALTER TABLE {schema}.ledger OWNER TO {user}")
    grants = superadmin.grants_of(user)
    assert grants.owns == (schema, f"{schema}.ledger")
    assert {"SELECT", "INSERT", "UPDATE", "DELETE"} <= grants.on(f"{schema}.ledger", "table")
    assert grants.on(schema, "schema") == {"CREATE", "USAGE"}
    with pytest.raises(RotationError, match="no such role"):
        superadmin.grants_of(name("ghost"))


# ---- set_password --------------------------------------------------------------------------------


def test_set_password_changes_the_login(superadmin: PostgresAdmin, pg: PostgresServer) -> None:
    user, old = make_user(pg)
    new = make_value() + "'; DROP ROLE x; --"  # a literal, not SQL
    superadmin.set_password(user, new)
    assert can_log_in(target(pg), user, new) and not can_log_in(target(pg), user, old)
    with pg.connect() as root:
        stored = root.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (user,)).fetchone()[0]
    assert stored.startswith("SCRAM-SHA-256$") and new not in stored


def test_set_password_refused_is_one_line_without_the_password(pg: PostgresServer) -> None:
    user, old = make_user(pg)
    admin, admin_password = make_user(pg)
    canary = make_value()
    with PostgresAdmin(target(pg), admin, admin_password) as weak, pytest.raises(RotationError) as caught:
        weak.set_password(user, canary)
    assert "permission denied to alter role" in one_line(caught.value, canary, admin_password)
    assert can_log_in(target(pg), user, old)


# ---- dynamic_statements --------------------------------------------------------------------------


def test_dynamic_statements_mirror_the_users_own_grants_with_quoted_names(superadmin: PostgresAdmin,
                                                                         pg: PostgresServer) -> None:
    user, _ = make_user(pg)
    schema, group = name("Shop"), name("grp")
    with pg.connect() as root:
        for statement in (f'CREATE SCHEMA "{schema}"', f'CREATE TABLE "{schema}"."Order Items" (id int)',
                          f'CREATE SEQUENCE "{schema}".ids',
                          f'CREATE FUNCTION "{schema}".total(n integer) RETURNS integer LANGUAGE sql AS $$ SELECT n $$',
                          f'REVOKE EXECUTE ON FUNCTION "{schema}".total(integer) FROM PUBLIC',
                          f"CREATE ROLE {group} NOLOGIN", f'GRANT USAGE ON SCHEMA "{schema}" TO {user}',
                          f'GRANT SELECT, UPDATE ON "{schema}"."Order Items" TO {user}',
                          f'GRANT USAGE ON SEQUENCE "{schema}".ids TO {user}',
                          f'GRANT EXECUTE ON FUNCTION "{schema}".total(integer) TO {user}', f"GRANT {group} TO {user}"):
            root.execute(statement)
    creation, revocation = dynamic_statements(superadmin.grants_of(user), "postgres")
    assert creation[0] == ("CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
                           "VALID UNTIL '{{expiration}}';")
    assert creation[1:] == ['GRANT CONNECT ON DATABASE "postgres" TO "{{name}}";',
                            f'GRANT USAGE ON SCHEMA "{schema}" TO "{{{{name}}}}";',
                            f'GRANT SELECT, UPDATE ON TABLE "{schema}"."Order Items" TO "{{{{name}}}}";',
                            f'GRANT USAGE ON SEQUENCE "{schema}"."ids" TO "{{{{name}}}}";',
                            f'GRANT EXECUTE ON ROUTINE "{schema}"."total"(n integer) TO "{{{{name}}}}";',
                            f'GRANT "{group}" TO "{{{{name}}}}";']
    assert revocation == [f'REASSIGN OWNED BY "{{{{name}}}}" TO "{user}";', 'DROP OWNED BY "{{name}}";',
                          'DROP ROLE IF EXISTS "{{name}}";']
    dynamic = name("v-dyn")  # what the vault would fill in: every statement runs as written
    fill = {"{{name}}": dynamic, "{{password}}": make_value(), "{{expiration}}": "2099-01-01 00:00:00+00"}
    with pg.connect() as root:
        for statement in creation + revocation:
            for template, value in fill.items():
                statement = statement.replace(template, value)
            root.execute(statement)
        assert root.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (dynamic,)).fetchone()[0] == 0


def test_a_name_the_vault_would_split_is_refused() -> None:
    with pytest.raises(RotationError, match="';'"):
        dynamic_statements(UserGrants("app;drop", "postgres"), "postgres")


# ---- PostgresPassword (AWS staged rotation) -------------------------------------------------------


def test_postgres_password_sets_tests_and_undoes(pg: PostgresServer, capfd: pytest.CaptureFixture[str],
                                                caplog: pytest.LogCaptureFixture) -> None:
    user, current_password = make_user(pg)
    pending_password, canary = make_value(), make_value()
    setter = PostgresPassword(target(pg), pg.superuser, pg.password)
    assert pg.password not in repr(setter)
    current = {"username": user, "password": current_password}
    pending = {"username": user, "password": pending_password}
    setter.set(current, pending)
    assert can_log_in(target(pg), user, pending_password) and not can_log_in(target(pg), user, current_password)
    setter.test(pending)
    with pytest.raises(RotationError) as caught:
        setter.test({"username": user, "password": canary})
    assert one_line(caught.value, canary, pending_password).endswith("the pending password does not log in")
    setter.undo(current, pending)
    assert can_log_in(target(pg), user, current_password) and not can_log_in(target(pg), user, pending_password)
    captured = capfd.readouterr()
    for value in (current_password, pending_password, canary, pg.password):
        assert value not in captured.out + captured.err + caplog.text


def test_postgres_password_takes_the_user_from_the_target_and_needs_a_password(pg: PostgresServer) -> None:
    user, current_password = make_user(pg)
    setter = PostgresPassword(target(pg, user=user), pg.superuser, pg.password)
    pending = {"password": make_value()}
    setter.set({"password": current_password}, pending)
    setter.test(pending)
    with pytest.raises(RotationError, match="the current secret has no 'password' field"):
        setter.undo({}, pending)
    with pytest.raises(RotationError, match="no username field and no user is given"):
        PostgresPassword(target(pg), pg.superuser, pg.password).test(pending)


def test_postgres_password_reads_a_named_field_for_a_given_user(pg: PostgresServer) -> None:
    user, current_password = make_user(pg)
    setter = PostgresPassword(target(pg), pg.superuser, pg.password, user=user, field="db_password")
    assert repr(setter) == f"<PostgresPassword {user}@127.0.0.1:{pg.port} field='db_password'>"
    current, pending = {"db_password": current_password}, {"db_password": make_value()}
    setter.set(current, pending)
    setter.test(pending)
    assert not can_log_in(target(pg), user, current_password)
    setter.undo(current, pending)
    assert can_log_in(target(pg), user, current_password)
