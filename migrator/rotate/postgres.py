"""The PostgreSQL side of rotation, through psycopg 3: whether a login works, what an admin may do
to a user, what a user was granted, a password set, and what a vault's dynamic role should run.

:func:`can_log_in` tells a refused login (False) from a server that cannot be reached
(:class:`DatabaseUnreachable`). :class:`PostgresAdmin` is a connection as the operator's admin
user: :meth:`~PostgresAdmin.check_can_manage` says, changing nothing, whether the admin may set the
user's password; :meth:`~PostgresAdmin.grants_of` reads the user's privileges from the catalogs of
the database it is connected to (:class:`UserGrants`); :meth:`~PostgresAdmin.set_password` sets
one. :func:`dynamic_statements` turns a user's grants into the creation and revocation statements
of a Vault/OpenBao dynamic role that gives its users the same privileges and leaves nothing behind.
:class:`PostgresPassword` sets, tests and undoes a password for AWS Secrets Manager's staged
rotation.

A password goes to libpq as a keyword (never inside a connection string) and to ``ALTER ROLE`` as
a SCRAM verifier computed here, so the server (and its statement log) never sees it in clear; no
error, repr or message holds one (a server message quoting one is withheld whole).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql

from migrator.backends.errors import one_line, scrub
from migrator.rotate.classify import POSTGRESQL, DatabaseTarget
from migrator.rotate.errors import DatabaseUnreachable, RotationError

DEFAULT_PORT = 5432
DEFAULT_DATABASE = "postgres"
# libpq's messages for a login the server refused (SQLSTATE 28P01 and 28000; psycopg gives no
# SQLSTATE for a failed connection, only libpq's text).
_REFUSED = re.compile(r"password authentication failed|authentication failed for user|is not permitted to log in"
                      r"|no pg_hba\.conf entry|pg_hba\.conf rejects|role \S+ does not exist|no password supplied"
                      r"|password is expired|invalid password", re.IGNORECASE)
_AFTER_ADDRESS = re.compile(r"port \d+ failed: ")  # libpq: 'connection to server at "h", port 5432 failed: ...'
_SERVER_SAID = re.compile(r"\b(FATAL|ERROR|PANIC):\s+")
_SYSTEM_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'"
# Vault's postgresql plugin splits each statement on ';' and fills in {{...}} templates: a name
# holding either cannot be written into a dynamic role's statements safely.
_UNSAFE_NAME = re.compile(r";|\{\{|\}\}")
DYNAMIC_USER = sql.SQL('"{{name}}"')


# ---- logging in ---------------------------------------------------------------------------------


def _where(target: DatabaseTarget) -> tuple[str, int, str]:
    """Host, port and database of ``target`` (a PostgreSQL one with a host)."""
    if target.engine not in (POSTGRESQL, None):
        raise RotationError(target.found_in, f"a {target.engine} database, not PostgreSQL")
    if not target.host:
        raise RotationError(target.found_in, "the database's host is not known")
    return target.host, target.port or DEFAULT_PORT, target.database or DEFAULT_DATABASE


def _address(target: DatabaseTarget) -> str:
    host, port, _ = _where(target)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _connect(target: DatabaseTarget, user: str, password: str, tls: str, timeout: float,
             autocommit: bool = True) -> psycopg.Connection[Any]:
    """A connection as ``user``; the password goes as a keyword, never in a connection string."""
    host, port, database = _where(target)
    return psycopg.connect(host=host, port=port, user=user, password=password, dbname=database, sslmode=tls,
                           connect_timeout=max(1, math.ceil(timeout)), autocommit=autocommit,
                           application_name="vaultshift")


def _login_failure(exc: psycopg.Error, target: DatabaseTarget, user: str, *values: str) -> RotationError | None:
    """None when the server refused these credentials; else the one-line error to raise: the
    server cannot be reached (:class:`DatabaseUnreachable`) or answered something else."""
    text = str(exc)
    if _REFUSED.search(text):
        return None
    reason = scrub(one_line(_AFTER_ADDRESS.split(text)[-1]), values)
    said = _SERVER_SAID.search(reason)
    if said:  # the server answered: not a network problem (no such database, too many connections...)
        return RotationError(f"{user}@{_address(target)}", reason[said.end():])
    return DatabaseUnreachable(_address(target), f"cannot connect: {reason}")


def can_log_in(target: DatabaseTarget, user: str, password: str, tls: str = "disable", timeout: float = 5.0) -> bool:
    """Whether the server at ``target`` lets ``user`` in with ``password`` (``tls``: libpq's
    sslmode). False when it refuses these credentials (wrong password, no such user, NOLOGIN,
    expired, pg_hba); :class:`DatabaseUnreachable` when it cannot be reached; :class:`RotationError`
    when it answers something else (no such database, too many connections)."""
    try:
        _connect(target, user, password, tls, timeout).close()
    except psycopg.Error as exc:
        failure = _login_failure(exc, target, user, password)
        if failure is None:
            return False
        raise failure from None
    return True


# ---- what a user holds --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectGrant:
    """Privileges a user holds on one object: granted to it (or implied by owning the object) when
    ``via`` is None, else through the group role ``via``, of which it is a member."""

    kind: str  # "database", "schema", "table" (views and the like too), "sequence", "routine"
    schema: str | None  # None for a database or a schema
    name: str
    privileges: tuple[str, ...]  # sorted, as PostgreSQL spells them: ("INSERT", "SELECT")
    via: str | None = None
    arguments: str = ""  # a routine's identity arguments: "integer, text"

    @property
    def target(self) -> sql.Composable:
        """The object as a GRANT names it: ``"schema"."table"``, ``"schema"."fn"(integer)``."""
        name = sql.Identifier(self.name) if self.schema is None else sql.Identifier(self.schema, self.name)
        return sql.SQL("{}({})").format(name, sql.SQL(self.arguments)) if self.kind == "routine" else name

    @property
    def label(self) -> str:
        """Schema-qualified, for people: ``public.orders``."""
        text = self.name if self.schema is None else f"{self.schema}.{self.name}"
        return f"{text}({self.arguments})" if self.kind == "routine" else text


@dataclass(frozen=True, slots=True)
class UserGrants:
    """What ``user`` may do in ``database`` (the database whose catalogs were read; databases are
    shared): its privileges, granted to it or through the group (NOLOGIN) roles it belongs to, and
    those memberships. PUBLIC's privileges and column-level grants are not listed."""

    user: str
    database: str
    grants: tuple[ObjectGrant, ...] = ()
    memberships: tuple[str, ...] = ()  # the NOLOGIN roles it is directly a member of
    owns: tuple[str, ...] = ()  # schemas and relations it owns ("public.orders"): a copy gets the privileges only

    def direct(self, kind: str | None = None) -> list[ObjectGrant]:
        """The grants it holds itself (not through a group role), of ``kind`` when given."""
        return [g for g in self.grants if g.via is None and (kind is None or g.kind == kind)]

    def on(self, label: str, kind: str | None = None) -> frozenset[str]:
        """Every privilege it holds on the object ``label`` (``public.orders``), however held."""
        return frozenset(p for g in self.grants if g.label == label and (kind is None or g.kind == kind)
                         for p in g.privileges)


# Rows: (kind, schema, name, arguments, privilege, holder); holder is the role the ACL names.
_GRANTS_QUERY = f"""
WITH RECURSIVE me AS (SELECT oid FROM pg_roles WHERE rolname = %(user)s),
member_of(oid) AS (SELECT m.roleid FROM pg_auth_members m JOIN me ON m.member = me.oid
                   UNION SELECT m.roleid FROM pg_auth_members m JOIN member_of ON m.member = member_of.oid),
holders AS (SELECT oid FROM me
            UNION SELECT r.oid FROM member_of JOIN pg_roles r USING (oid), me
            WHERE NOT r.rolcanlogin AND pg_has_role(me.oid, r.oid, 'USAGE')),
acl AS (
  SELECT 'database' AS kind, NULL::name AS schema, d.datname AS name, '' AS arguments,
         (aclexplode(coalesce(d.datacl, acldefault('d', d.datdba)))).* FROM pg_database d
  WHERE d.datname = current_database()
  UNION ALL
  SELECT 'schema', NULL, n.nspname, '', (aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner)))).*
  FROM pg_namespace n WHERE {_SYSTEM_SCHEMAS}
  UNION ALL
  SELECT CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, n.nspname, c.relname, '',
         (aclexplode(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char",
                                                    c.relowner)))).*
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND {_SYSTEM_SCHEMAS}
  UNION ALL
  SELECT 'routine', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
         (aclexplode(p.proacl)).*
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE p.proacl IS NOT NULL AND {_SYSTEM_SCHEMAS}
)
SELECT acl.kind, acl.schema, acl.name, acl.arguments, acl.privilege_type, r.rolname
FROM acl JOIN holders h ON h.oid = acl.grantee JOIN pg_roles r ON r.oid = acl.grantee
ORDER BY 1, 2, 3, 4, 6, 5
"""

_OWNS_QUERY = f"""
WITH me AS (SELECT oid FROM pg_roles WHERE rolname = %(user)s)
SELECT n.nspname, NULL FROM pg_namespace n, me WHERE n.nspowner = me.oid AND {_SYSTEM_SCHEMAS}
UNION ALL
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, me
WHERE c.relowner = me.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND {_SYSTEM_SCHEMAS}
ORDER BY 1, 2 NULLS FIRST
"""


# ---- the admin's connection ---------------------------------------------------------------------


class PostgresAdmin:
    """A connection to ``target``'s database (or ``postgres``) as the operator's admin user; a
    context manager (connects on enter, closes on exit)."""

    def __init__(self, target: DatabaseTarget, admin_user: str, admin_password: str, tls: str = "disable",
                 timeout: float = 5.0) -> None:
        _where(target)
        self.target = target
        self.admin_user = admin_user
        self._password = admin_password
        self.tls = tls
        self.timeout = timeout
        self._conn: psycopg.Connection[Any] | None = None

    def __repr__(self) -> str:
        return f"<PostgresAdmin {self.admin_user}@{_address(self.target)}>"

    def __enter__(self) -> PostgresAdmin:
        try:
            self._conn = _connect(self.target, self.admin_user, self._password, self.tls, self.timeout)
        except psycopg.Error as exc:
            failure = _login_failure(exc, self.target, self.admin_user, self._password)
            raise (failure or RotationError(f"admin {self.admin_user}@{_address(self.target)}",
                                            "the server refused the admin's login")) from None
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _item(self, user: str) -> str:
        return f"user {user!r} on {_address(self.target)}"

    def _query(self, user: str, query: sql.SQL | sql.Composed | str, params: Mapping[str, Any] | None = None,
               values: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``query``; a failure is a one-line :class:`RotationError` about ``user`` (the
        server's primary message only: its context may quote the statement)."""
        if self._conn is None:
            raise RuntimeError("PostgresAdmin is used outside its with block")
        try:
            cursor = self._conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []
        except psycopg.OperationalError as exc:
            if exc.sqlstate:  # the server's answer (a query cancelled, too many connections...)
                raise RotationError(self._item(user), scrub(one_line(exc.diag.message_primary or ""), values)) from None
            raise DatabaseUnreachable(_address(self.target),
                                      f"connection lost: {scrub(one_line(str(exc)), values)}") from None
        except psycopg.Error as exc:
            reason = exc.diag.message_primary or type(exc).__name__
            raise RotationError(self._item(user), scrub(one_line(reason), values)) from None

    def check_can_manage(self, user: str) -> None:
        """Raise :class:`RotationError` (naming ``user`` and why) unless ``user`` exists, may log
        in, and the admin may change its password: a superuser may; a CREATEROLE admin may for a
        non-superuser when it holds the ADMIN OPTION on it (PostgreSQL 16 and later; before 16,
        CREATEROLE is enough); anyone may change their own. Nothing is changed."""
        rows = self._query(user, "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %(user)s",
                           {"user": user})
        if not rows:
            raise RotationError(self._item(user), "no such role")
        can_login, is_super = rows[0]
        if not can_login:
            raise RotationError(self._item(user), "the role cannot log in (NOLOGIN): it is not an application's user")
        ((me, admin_super, admin_createrole, version, has_admin),) = self._query(user, """
            SELECT rolname, rolsuper, rolcreaterole, current_setting('server_version_num')::int,
                   pg_has_role(current_user, %(user)s, 'USAGE WITH ADMIN OPTION')
            FROM pg_roles WHERE rolname = current_user""", {"user": user})
        if admin_super or me == user:
            return
        if is_super:
            raise RotationError(self._item(user), f"it is a superuser: only a superuser may change its password, "
                                                  f"and admin {me!r} is not one")
        if not admin_createrole:
            raise RotationError(self._item(user), f"admin {me!r} has neither SUPERUSER nor CREATEROLE: it may not "
                                                  "change another role's password")
        if version >= 160000 and not has_admin:
            raise RotationError(self._item(user), f"admin {me!r} has CREATEROLE but not the ADMIN OPTION on the role "
                                                  f"(GRANT {user} TO {me} WITH ADMIN OPTION)")

    def grants_of(self, user: str) -> UserGrants:
        """``user``'s privileges in the connected database, read from the catalogs: on the database,
        its schemas, tables (views, materialized views, foreign tables), sequences and routines
        with a non-default ACL; granted to it, implied by ownership, or held through the NOLOGIN
        roles it belongs to (directly or not, listed as ``via``); and its direct memberships."""
        if not self._query(user, "SELECT 1 FROM pg_roles WHERE rolname = %(user)s", {"user": user}):
            raise RotationError(self._item(user), "no such role")
        merged: dict[tuple[str, str | None, str, str, str | None], set[str]] = {}
        for kind, schema, name, arguments, privilege, holder in self._query(user, _GRANTS_QUERY, {"user": user}):
            via = None if holder == user else holder
            merged.setdefault((kind, schema, name, arguments, via), set()).add(privilege)
        grants = tuple(ObjectGrant(kind, schema, name, tuple(sorted(privileges)), via, arguments)
                       for (kind, schema, name, arguments, via), privileges in merged.items())
        memberships = tuple(row[0] for row in self._query(user, """
            SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
            JOIN pg_roles me ON me.oid = m.member
            WHERE me.rolname = %(user)s AND NOT r.rolcanlogin ORDER BY 1""", {"user": user}))
        owns = tuple(schema if name is None else f"{schema}.{name}"
                     for schema, name in self._query(user, _OWNS_QUERY, {"user": user}))
        ((database,),) = self._query(user, "SELECT current_database()")
        return UserGrants(user, str(database), grants, memberships, owns)

    def set_password(self, user: str, password: str) -> None:
        """Set ``user``'s password. It leaves as a SCRAM verifier computed here (libpq's
        PQencryptPasswordConn, with the server's password_encryption), inside a quoted literal:
        the plaintext never reaches the server or its logs."""
        if not password:
            raise RotationError(self._item(user), "refusing to set an empty password")
        if self._conn is None:
            raise RuntimeError("PostgresAdmin is used outside its with block")
        try:
            verifier = self._conn.pgconn.encrypt_password(password.encode(), user.encode()).decode()
        except psycopg.Error:
            raise RotationError(self._item(user), "the password could not be encrypted for the server") from None
        self._query(user, sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(user), sql.Literal(verifier)),
                    values=(password, verifier))

    def create_twin(self, user: str, twin: str) -> None:
        """A second login role for ``user``'s application (dual-credential rotation): a member of
        ``user`` with its privileges, whose sessions act as ``user`` (objects they create belong
        to ``user``). No password yet: the vault's static role sets it. An existing twin that is
        already such a member is kept."""
        rows = self._query(twin, "SELECT pg_has_role(%(twin)s, %(user)s, 'MEMBER') FROM pg_roles WHERE rolname = "
                                 "%(twin)s", {"twin": twin, "user": user})
        if rows and not rows[0][0]:
            raise RotationError(self._item(twin), f"exists and is not a member of {user}: choose another name")
        if not rows:
            self._query(twin, sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(twin)))
        self._query(twin, sql.SQL("GRANT {} TO {}").format(sql.Identifier(user), sql.Identifier(twin)))
        self._query(twin, sql.SQL("ALTER ROLE {} SET role TO {}").format(sql.Identifier(twin),
                                                                        sql.Literal(user)))

    def drop_twin(self, user: str, twin: str) -> None:
        """Remove a twin made by :meth:`create_twin` (what it owns goes to ``user``); nothing to
        do when it is gone."""
        rows = self._query(twin, "SELECT 1 FROM pg_roles WHERE rolname = %(twin)s", {"twin": twin})
        if not rows:
            return
        for statement in ("REASSIGN OWNED BY {} TO {}", "DROP OWNED BY {}", "DROP ROLE {}"):
            names = [sql.Identifier(twin), sql.Identifier(user)][: statement.count("{}")]
            self._query(twin, sql.SQL(statement).format(*names))


# ---- a dynamic role's statements ----------------------------------------------------------------


def _checked(name: str, what: str) -> str:
    if _UNSAFE_NAME.search(name):
        raise RotationError(f"{what} {name!r}", "its name holds ';', '{{' or '}}', which the vault's statements "
                                                "cannot carry")
    return name


def _text(composed: sql.Composable) -> str:
    return composed.as_string(None)


def dynamic_statements(grants: UserGrants, database: str) -> tuple[list[str], list[str]]:
    """The creation and revocation statements of a Vault/OpenBao dynamic role whose users get
    what ``grants.user`` holds itself, no more: a LOGIN role valid until its lease ends; CONNECT
    (and the user's own CREATE/TEMPORARY) on ``database``; the user's own privileges on schemas,
    tables, sequences and routines, exactly; membership in the NOLOGIN roles it belongs to (which
    brings what it holds through them). Revocation gives whatever the dynamic user came to own to
    the static user, drops its privileges and drops the role, so a revoked lease leaves no user."""
    owner = sql.Identifier(_checked(grants.user, "user"))
    creation = [_text(sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD '{{{{password}}}}' "
                              "VALID UNTIL '{{{{expiration}}}}';").format(DYNAMIC_USER))]
    on_database = {"CONNECT"}
    if database == grants.database:
        on_database.update(p for g in grants.direct("database") for p in g.privileges)
    creation.append(_text(sql.SQL("GRANT {} ON DATABASE {} TO {};").format(
        sql.SQL(", ").join(sql.SQL(p) for p in sorted(on_database)), sql.Identifier(_checked(database, "database")),
        DYNAMIC_USER)))
    for kind, keyword in (("schema", "SCHEMA"), ("table", "TABLE"), ("sequence", "SEQUENCE"), ("routine", "ROUTINE")):
        for grant in grants.direct(kind):
            _checked(grant.label, kind)
            creation.append(_text(sql.SQL("GRANT {} ON {} {} TO {};").format(
                sql.SQL(", ").join(sql.SQL(p) for p in grant.privileges), sql.SQL(keyword), grant.target,
                DYNAMIC_USER)))
    for role in grants.memberships:
        creation.append(_text(sql.SQL("GRANT {} TO {};").format(sql.Identifier(_checked(role, "role")), DYNAMIC_USER)))
    revocation = [_text(sql.SQL("REASSIGN OWNED BY {} TO {};").format(DYNAMIC_USER, owner)),
                  _text(sql.SQL("DROP OWNED BY {};").format(DYNAMIC_USER)),
                  _text(sql.SQL("DROP ROLE IF EXISTS {};").format(DYNAMIC_USER))]
    return creation, revocation


# ---- AWS Secrets Manager's staged rotation ------------------------------------------------------


class PostgresPassword:
    """Sets, tests and undoes a PostgreSQL user's password for a staged rotation (the ``Setter``
    of migrator.rotate.aws_staged). The secret's ``field`` (default ``password``) holds the
    password; the user is the secret's ``username`` field when it has one, else ``user``, else
    ``target.user``. The admin's credentials change it."""

    def __init__(self, target: DatabaseTarget, admin_user: str, admin_password: str, *, user: str | None = None,
                 field: str = "password", tls: str = "disable", timeout: float = 5.0) -> None:
        _where(target)
        self.target = target
        self.admin_user = admin_user
        self._admin_password = admin_password
        self.user = user
        self.field = field
        self.tls = tls
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<PostgresPassword {self.user or self.target.user or '?'}@{_address(self.target)} field={self.field!r}>"

    def _user(self, *secrets: Mapping[str, str]) -> str:
        for secret in secrets:
            if secret.get("username"):
                return secret["username"]
        if self.user or self.target.user:
            return str(self.user or self.target.user)
        raise RotationError(_address(self.target), "the secret has no username field and no user is given")

    def _password(self, secret: Mapping[str, str], stage: str, user: str) -> str:
        password = secret.get(self.field)
        if not password:
            raise RotationError(f"user {user!r} on {_address(self.target)}",
                                f"the {stage} secret has no {self.field!r} field")
        return password

    def _admin(self) -> PostgresAdmin:
        return PostgresAdmin(self.target, self.admin_user, self._admin_password, self.tls, self.timeout)

    def set(self, current: Mapping[str, str], pending: Mapping[str, str]) -> None:
        """Give the user the pending password (the current one stops working)."""
        user = self._user(pending, current)
        password = self._password(pending, "pending", user)
        with self._admin() as admin:
            admin.set_password(user, password)

    def test(self, pending: Mapping[str, str]) -> None:
        """Raise :class:`RotationError` unless the pending password logs in."""
        user = self._user(pending)
        if not can_log_in(self.target, user, self._password(pending, "pending", user), self.tls, self.timeout):
            raise RotationError(f"user {user!r} on {_address(self.target)}", "the pending password does not log in")

    def undo(self, current: Mapping[str, str], pending: Mapping[str, str]) -> None:
        """Give the user its current password back (after a failed test)."""
        user = self._user(pending, current)
        password = self._password(current, "current", user)
        with self._admin() as admin:
            admin.set_password(user, password)
