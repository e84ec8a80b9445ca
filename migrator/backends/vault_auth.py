"""How a Vault/OpenBao backend logs in: one small class per auth method, picked by name.

The ``auth`` mapping of a vault backend's settings chooses the method::

    auth: {method: token}                         # $VAULT_TOKEN, else ~/.vault-token
    auth: {method: token, token_env: CI_VAULT_TOKEN}
    auth: {method: approle, role_id: 7d1c..., secret_id_env: VAULTSHIFT_SECRET_ID}
    auth: {method: approle, role_id: 7d1c..., wrapped_secret_id_env: VAULTSHIFT_WRAPPED_SECRET_ID}
    auth: {method: kubernetes, role: vaultshift}  # the pod's service account token
    auth: {method: jwt, role: ci, jwt_env: CI_JOB_JWT}
    auth: {method: userpass, username: migrator, password_env: VAULTSHIFT_PASSWORD}

Credentials are never values in the file (:func:`auth_from_settings`): a token, an AppRole
secret id (or a wrapping token around one), a JWT or a password comes from the environment
variable (or, for a JWT, the file) the settings name. Programmatic callers that already hold a
credential (the Ansible lookup plugin, given it as an option, possibly from ansible-vault) pass
it as a value through :func:`auth_from_options`. Either way, a value is never shown: not in a
repr, a message or a log. Adding a method is adding a class to :data:`AUTH_METHODS`.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import hvac.exceptions

from migrator.backends.settings import Settings
from migrator.config import ConfigError

DEFAULT_TOKEN_ENV = "VAULT_TOKEN"
KUBERNETES_JWT_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"
UNWRAP_PATH = "/v1/sys/wrapping/unwrap"


class CredentialError(Exception):
    """A credential cannot be used; the message says which and where it was expected, never a value."""


class MissingCredential(CredentialError):
    """A credential the auth method needs is not where the settings say (the message says where)."""


class SpentCredential(CredentialError):
    """A single-use credential was used already or has expired (a response-wrapping token)."""


class _Hidden:
    """A credential value held in memory; its repr and str never show it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__


class Credential:
    """Where one credential (``what``: "token", "AppRole secret id", ...) is read at each login:
    a value a programmatic caller gave (kept hidden), an environment variable, or a file (read
    again at every login, so a rotated file is picked up). Its repr says where, never what."""

    __slots__ = ("_given", "env", "file", "strip", "what")

    def __init__(self, what: str, *, env: str | None = None, file: str | None = None, given: str | None = None,
                 strip: bool = True) -> None:
        if (env is not None) + (file is not None) + (given is not None) != 1:
            raise ValueError("a credential comes from exactly one of env, file and given")
        self.what = what
        self.env = env
        self.file = file
        self._given = _Hidden(given) if given is not None else None
        self.strip = strip  # False for a password, whose spaces may be part of it

    @property
    def where(self) -> str:
        if self._given is not None:
            return "the value given"
        return f"${self.env}" if self.env else str(self.file)

    def __repr__(self) -> str:
        return f"<{self.what} from {self.where}>"

    def read(self) -> str:
        """The value; :class:`MissingCredential` (naming the variable or the file) when there is none."""
        if self._given is not None:
            value = self._given.value
            if not value.strip():
                raise MissingCredential(f"no {self.what}: the value given is empty")
        elif self.env is not None:
            value = os.environ.get(self.env, "")
            if not value.strip():
                raise MissingCredential(f"no {self.what}: set ${self.env}")
        else:
            try:
                value = Path(str(self.file)).read_text(encoding="utf-8")
            except OSError as exc:
                raise MissingCredential(f"no {self.what}: cannot read {self.file} "
                                        f"({exc.strerror or type(exc).__name__})") from None
            except UnicodeDecodeError:
                raise MissingCredential(f"no {self.what}: {self.file} is not text") from None
            if not value.strip():
                raise MissingCredential(f"no {self.what}: {self.file} is empty")
        return value.strip() if self.strip else value

    def peek(self) -> str | None:
        """The value when there is one, else None (never raises)."""
        try:
            return self.read()
        except CredentialError:
            return None


class VaultAuth(ABC):
    """One auth method's settings, and how it logs an hvac client in.

    ``NAME`` is the ``method`` the settings give, ``OPTIONS`` the other keys it accepts and
    ``LITERALS`` the keys of credential values, which only :func:`auth_from_options` accepts.
    ``renewable`` says whether logging in again can replace a token the server rejected.
    """

    NAME: ClassVar[str]
    OPTIONS: ClassVar[frozenset[str]]
    LITERALS: ClassVar[frozenset[str]] = frozenset()
    renewable: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> VaultAuth:
        """The method configured by ``settings`` (its ``auth`` mapping); ConfigError when unusable."""

    @abstractmethod
    def authenticate(self, client: Any) -> None:
        """Give ``client`` (an ``hvac.Client``) a token. Raises :class:`CredentialError`, or the
        client's own exceptions, which the backend translates."""

    def credentials(self) -> tuple[Credential, ...]:
        """Where this method's credentials come from (for its repr and :meth:`values`)."""
        return ()

    def values(self) -> tuple[str, ...]:
        """The credential values available now, so that a server message quoting one is withheld."""
        return tuple(value for value in (c.peek() for c in self.credentials()) if value)

    def __repr__(self) -> str:
        mount = getattr(self, "mount", None)
        parts = [f"mount={mount}"] if mount else []
        parts += [repr(c) for c in self.credentials()]
        return f"<{type(self).__name__}{' ' if parts else ''}{' '.join(parts)}>"


def _given(settings: Settings, key: str) -> str | None:
    """A literal credential under ``key`` (only :func:`auth_from_options` lets one through)."""
    return settings.string(key) if key in settings.data else None


def _one_source(settings: Settings, what: str, *, env: str | None = None, file: str | None = None,
                given: str | None = None, strip: bool = True) -> Credential | None:
    """The credential from whichever one of the keys ``env``, ``file`` and ``given`` the settings
    hold (two of them: a ConfigError); None when they hold none."""
    keys = [key for key in (given, env, file) if key and settings.data.get(key) is not None]
    if len(keys) > 1:
        raise settings.error(keys[1], f"give one of {' or '.join(keys)}, not both")
    if given and keys == [given]:
        return Credential(what, given=_given(settings, given), strip=strip)
    if env and keys == [env]:
        return Credential(what, env=settings.string(env), strip=strip)
    if file and keys == [file]:
        return Credential(what, file=settings.string(file), strip=strip)
    return None


def _mount(settings: Settings, default: str) -> str:
    mount = (settings.string("mount", default) or default).strip("/")
    if not mount:
        raise settings.error("mount", "must name an auth mount")
    return mount


class TokenAuth(VaultAuth):
    """A token read from ``$token_env`` (default ``$VAULT_TOKEN``, then ``~/.vault-token`` as the
    Vault and OpenBao CLIs write it after ``login``), or given as ``token`` by a programmatic
    caller. No request: the first call proves it."""

    NAME = "token"
    OPTIONS = frozenset({"token_env"})
    LITERALS = frozenset({"token"})

    def __init__(self, token_env: str | None = None, token: str | None = None) -> None:
        self.token_env = token_env  # None: $VAULT_TOKEN, then the token helper file
        self._token = Credential("token", given=token) if token is not None else None

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenAuth:
        _one_source(settings, "token", env="token_env", given="token")
        return cls(settings.string("token_env"), _given(settings, "token"))

    def credentials(self) -> tuple[Credential, ...]:
        if self._token is not None:
            return (self._token,)
        return (Credential("token", env=self.token_env or DEFAULT_TOKEN_ENV),)

    def authenticate(self, client: Any) -> None:
        if self._token is not None:
            client.token = self._token.read()
            return
        name = self.token_env or DEFAULT_TOKEN_ENV
        token = os.environ.get(name, "").strip()
        if not token and self.token_env is None:
            helper = Path.home() / ".vault-token"
            if helper.is_file():
                token = helper.read_text(encoding="utf-8").strip()
        if not token:
            where = f"${name}" if self.token_env else f"${name} (or ~/.vault-token)"
            raise MissingCredential(f"no token: set {where}")
        client.token = token


class AppRoleAuth(VaultAuth):
    """AppRole: a ``role_id`` (not a secret; given in the file or in ``$role_id_env``) and a
    secret id from ``$secret_id_env`` (omit it only for a role with ``bind_secret_id=false``),
    at the auth mount ``mount`` (default ``approle``). Logged in once per backend, and again when
    the token it got expires.

    With ``wrapped_secret_id_env`` the variable holds a response-wrapping token around the secret
    id (``generate_secret_id`` with ``wrap_ttl``): at the first login it is unwrapped, with the
    wrapping token as the request's own token, and the secret id it held is kept in memory (in
    this object only) for later logins, since a wrapping token unwraps once. A token that was
    unwrapped already (by someone else: the secret id may be known to them) or has expired is a
    :class:`SpentCredential`.
    """

    NAME = "approle"
    OPTIONS = frozenset({"role_id", "role_id_env", "secret_id_env", "wrapped_secret_id_env", "mount"})
    LITERALS = frozenset({"secret_id", "wrapped_secret_id"})
    renewable = True

    def __init__(self, role_id: str | None, role_id_env: str | None, secret_id_env: str | None,
                 mount: str = "approle", *, wrapped_secret_id_env: str | None = None, secret_id: str | None = None,
                 wrapped_secret_id: str | None = None) -> None:
        self.role_id = role_id
        self.role_id_env = role_id_env
        self.secret_id_env = secret_id_env
        self.wrapped_secret_id_env = wrapped_secret_id_env
        self.mount = mount
        sources = [Credential("AppRole secret id", env=secret_id_env) if secret_id_env else None,
                   Credential("AppRole secret id", given=secret_id) if secret_id is not None else None]
        wrapped = [Credential("wrapped AppRole secret id", env=wrapped_secret_id_env) if wrapped_secret_id_env
                   else None,
                   Credential("wrapped AppRole secret id", given=wrapped_secret_id) if wrapped_secret_id is not None
                   else None]
        if len([s for s in sources + wrapped if s is not None]) > 1:
            raise ValueError("approle: one secret id source at most")
        self._secret_id = next((s for s in sources if s is not None), None)
        self._wrapped = next((s for s in wrapped if s is not None), None)
        self._unwrapped: _Hidden | None = None
        self._lock = threading.Lock()  # clones of a backend share this object: one unwrap between them

    @classmethod
    def from_settings(cls, settings: Settings) -> AppRoleAuth:
        role_id, role_id_env = settings.string("role_id"), settings.string("role_id_env")
        if not role_id and not role_id_env:
            raise settings.error("role_id", "approle needs role_id (or role_id_env)")
        present = [key for key in ("secret_id", "secret_id_env", "wrapped_secret_id", "wrapped_secret_id_env")
                   if settings.data.get(key) is not None]
        if len(present) > 1:
            raise settings.error(present[1], f"give one of {' or '.join(present)}, not both")
        return cls(role_id, role_id_env, settings.string("secret_id_env"), _mount(settings, "approle"),
                   wrapped_secret_id_env=settings.string("wrapped_secret_id_env"),
                   secret_id=_given(settings, "secret_id"), wrapped_secret_id=_given(settings, "wrapped_secret_id"))

    def credentials(self) -> tuple[Credential, ...]:
        return tuple(c for c in (self._secret_id, self._wrapped) if c is not None)

    def values(self) -> tuple[str, ...]:
        return (*super().values(), *((self._unwrapped.value,) if self._unwrapped is not None else ()))

    def authenticate(self, client: Any) -> None:
        role_id = self.role_id
        if not role_id and self.role_id_env:
            role_id = os.environ.get(self.role_id_env, "").strip()
            if not role_id:
                raise MissingCredential(f"no AppRole role id: set ${self.role_id_env}")
        secret_id = None
        if self._wrapped is not None:
            secret_id = self._unwrap(client, self._wrapped)
        elif self._secret_id is not None:
            secret_id = self._secret_id.read()
        client.auth.approle.login(role_id=role_id, secret_id=secret_id, mount_point=self.mount, use_token=True)

    def _unwrap(self, client: Any, wrapped: Credential) -> str:
        """The secret id inside the wrapping token (unwrapped at the first login, then remembered)."""
        with self._lock:
            if self._unwrapped is None:
                wrapping = wrapped.read()
                saved, client.token = client.token, None  # the wrapping token is this request's token
                try:
                    response = client.adapter.post(UNWRAP_PATH, headers={"X-Vault-Token": wrapping})
                except (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden,
                        hvac.exceptions.Unauthorized):
                    raise SpentCredential(f"the wrapped secret_id ({wrapped.where}) was already unwrapped or has "
                                          "expired: ask for a new one") from None
                finally:
                    client.token = saved
                data = response.get("data") if isinstance(response, dict) else None
                secret_id = data.get("secret_id") if isinstance(data, dict) else None
                if not isinstance(secret_id, str) or not secret_id:
                    raise SpentCredential(f"the wrapping token ({wrapped.where}) does not wrap an AppRole secret_id")
                self._unwrapped = _Hidden(secret_id)
            return self._unwrapped.value


class KubernetesAuth(VaultAuth):
    """Kubernetes: the pod's service account token (a JWT, read from ``jwt_file``, default
    ``/var/run/secrets/kubernetes.io/serviceaccount/token``, at every login, or from
    ``$jwt_env``), sent with ``role`` to the auth mount ``mount`` (default ``kubernetes``); the
    server checks it with the cluster's TokenReview API."""

    NAME = "kubernetes"
    OPTIONS = frozenset({"role", "mount", "jwt_file", "jwt_env"})
    LITERALS = frozenset({"jwt"})
    renewable = True

    def __init__(self, role: str, jwt: Credential, mount: str = "kubernetes") -> None:
        self.role = role
        self.jwt = jwt
        self.mount = mount

    @classmethod
    def from_settings(cls, settings: Settings) -> KubernetesAuth:
        role = settings.string("role")
        if not role:
            raise settings.error("role", "kubernetes needs role (the role bound to the service account)")
        what = "Kubernetes service account token"
        jwt = (_one_source(settings, what, env="jwt_env", file="jwt_file", given="jwt")
               or Credential(what, file=KUBERNETES_JWT_FILE))
        return cls(role, jwt, _mount(settings, "kubernetes"))

    def credentials(self) -> tuple[Credential, ...]:
        return (self.jwt,)

    def authenticate(self, client: Any) -> None:
        jwt = self.jwt.read()
        client.auth.kubernetes.login(self.role, jwt, use_token=True, mount_point=self.mount)


class JwtAuth(VaultAuth):
    """JWT (a CI job's OIDC token, a workload identity): the JWT from ``jwt_file`` (read at every
    login) or ``$jwt_env``, sent with ``role`` (default: the mount's ``default_role``) to the auth
    mount ``mount`` (default ``jwt``), which checks its signature and claims."""

    NAME = "jwt"
    OPTIONS = frozenset({"role", "mount", "jwt_file", "jwt_env"})
    LITERALS = frozenset({"jwt"})
    renewable = True

    def __init__(self, role: str | None, jwt: Credential, mount: str = "jwt") -> None:
        self.role = role
        self.jwt = jwt
        self.mount = mount

    @classmethod
    def from_settings(cls, settings: Settings) -> JwtAuth:
        jwt = _one_source(settings, "JWT", env="jwt_env", file="jwt_file", given="jwt")
        if jwt is None:
            raise settings.error("jwt_file", "jwt needs jwt_file or jwt_env")
        return cls(settings.string("role") or None, jwt, _mount(settings, "jwt"))

    def credentials(self) -> tuple[Credential, ...]:
        return (self.jwt,)

    def authenticate(self, client: Any) -> None:
        jwt = self.jwt.read()
        client.auth.jwt.jwt_login(role=self.role, jwt=jwt, use_token=True, path=self.mount)


class UserpassAuth(VaultAuth):
    """Username and password: ``username`` (or ``$username_env``), the password from
    ``$password_env``, at the auth mount ``mount`` (default ``userpass``)."""

    NAME = "userpass"
    OPTIONS = frozenset({"username", "username_env", "password_env", "mount"})
    LITERALS = frozenset({"password"})
    renewable = True

    def __init__(self, username: Credential, password: Credential, mount: str = "userpass") -> None:
        self.username = username
        self.password = password
        self.mount = mount

    @classmethod
    def from_settings(cls, settings: Settings) -> UserpassAuth:
        username = _one_source(settings, "userpass username", env="username_env", given="username")
        if username is None:
            raise settings.error("username", "userpass needs username (or username_env)")
        password = _one_source(settings, "userpass password", env="password_env", given="password", strip=False)
        if password is None:
            raise settings.error("password_env", "userpass needs password_env")
        return cls(username, password, _mount(settings, "userpass"))

    def credentials(self) -> tuple[Credential, ...]:
        return (self.password,)

    def __repr__(self) -> str:
        shown = self.username.peek() if self.username.env is None else self.username.where
        return f"<UserpassAuth mount={self.mount} username={shown} {self.password!r}>"

    def authenticate(self, client: Any) -> None:
        username, password = self.username.read(), self.password.read()
        client.auth.userpass.login(username, password, use_token=True, mount_point=self.mount)


AUTH_METHODS: dict[str, type[VaultAuth]] = {method.NAME: method for method in (
    TokenAuth, AppRoleAuth, KubernetesAuth, JwtAuth, UserpassAuth)}
# A credential given as a value in a configuration file, and what to write instead.
_LITERALS = {
    "token": "name the environment variable that holds it in token_env",
    "secret_id": "name the environment variable that holds it in secret_id_env",
    "wrapped_secret_id": "name the environment variable that holds it in wrapped_secret_id_env",
    "jwt": "name the file or the environment variable that holds it in jwt_file or jwt_env",
    "password": "name the environment variable that holds it in password_env",
}
# community.hashi_vault's names for options that vaultshift calls otherwise (auth_from_options).
_ALIASES = {"auth_method": "method", "mount_point": "mount"}


def _unknown_method(method: object) -> str:
    return f"unknown method {method!r} (use one of {', '.join(sorted(AUTH_METHODS))})"


def auth_from_settings(backend: Settings) -> VaultAuth:
    """The auth method of a vault backend's settings (``auth``; token when absent). A credential
    as a value (``token:``, ``secret_id:``, ``password:``, ...) is refused: files get shared."""
    data = backend.mapping("auth")
    method = data.get("method", "token")
    if method not in AUTH_METHODS:
        raise backend.error("auth.method", _unknown_method(method))
    cls = AUTH_METHODS[method]
    for literal, instead in _LITERALS.items():
        if literal in data:
            raise backend.error(f"auth.{literal}", f"never put credentials in the file: {instead}")
    options = {k: v for k, v in data.items() if k != "method"}
    return cls.from_settings(Settings(backend.name, options, cls.OPTIONS, where="auth"))


def auth_from_options(name: str, options: Mapping[str, Any]) -> VaultAuth:
    """The auth method ``options`` describe, for a programmatic caller (the Ansible lookup plugin);
    ``name`` is the backend's name in messages.

    Accepts what :func:`auth_from_settings` accepts, plus credentials as values, under the names
    community.hashi_vault uses: ``token``, ``secret_id``, ``wrapped_secret_id`` (the wrapping
    token), ``jwt``, ``password`` (and ``username``, ``role_id``); ``method`` (or
    ``auth_method``, default token) and ``mount`` (or ``mount_point``: the auth mount). For jwt
    and kubernetes, ``role_id`` is taken as the ``role`` (as community.hashi_vault does for jwt).
    Options whose value is None count as not given (Ansible passes unset options so).
    :class:`ConfigError` (one line naming the option, never its value) when they cannot be used.
    """
    data = {str(key): value for key, value in options.items() if value is not None}
    for alias, key in _ALIASES.items():
        if alias in data:
            if key in data:
                raise ConfigError(f"backend {name!r}: auth.{alias}: give {key} or {alias}, not both")
            data[key] = data.pop(alias)
    method = data.pop("method", "token")
    if not isinstance(method, str) or method not in AUTH_METHODS:
        raise ConfigError(f"backend {name!r}: auth.method: {_unknown_method(method)}")
    cls = AUTH_METHODS[method]
    if "role" in cls.OPTIONS and "role_id" in data:
        if "role" in data:
            raise ConfigError(f"backend {name!r}: auth.role_id: give role or role_id, not both")
        data["role"] = data.pop("role_id")
    return cls.from_settings(Settings(name, data, cls.OPTIONS | cls.LITERALS, where="auth"))
