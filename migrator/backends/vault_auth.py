"""How a Vault/OpenBao backend logs in: one small class per auth method, picked by name.

The ``auth`` mapping of a vault backend's settings chooses the method::

    auth: {method: token}                         # $VAULT_TOKEN, else ~/.vault-token
    auth: {method: token, token_env: CI_VAULT_TOKEN}
    auth: {method: approle, role_id: 7d1c..., secret_id_env: VAULTSHIFT_SECRET_ID}

Credentials are never values in the file: a token or an AppRole secret id comes from the
environment variable the file names. Adding a method is adding a class to :data:`AUTH_METHODS`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from migrator.backends.settings import Settings

DEFAULT_TOKEN_ENV = "VAULT_TOKEN"


class MissingCredential(Exception):
    """A credential the auth method needs is not where the settings say (the message says where)."""


class VaultAuth(ABC):
    """One auth method's settings, and how it logs an hvac client in.

    ``NAME`` is the ``method`` the settings give, ``OPTIONS`` the other keys it accepts.
    ``renewable`` says whether logging in again can replace a token the server rejected.
    """

    NAME: ClassVar[str]
    OPTIONS: ClassVar[frozenset[str]]
    renewable: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> VaultAuth:
        """The method configured by ``settings`` (its ``auth`` mapping); ConfigError when unusable."""

    @abstractmethod
    def authenticate(self, client: Any) -> None:
        """Give ``client`` (an ``hvac.Client``) a token. Raises :class:`MissingCredential`, or the
        client's own exceptions, which the backend translates."""


class TokenAuth(VaultAuth):
    """A token read from ``$token_env`` (default ``$VAULT_TOKEN``, then ``~/.vault-token`` as the
    Vault and OpenBao CLIs write it after ``login``). No request: the first call proves it."""

    NAME = "token"
    OPTIONS = frozenset({"token_env"})

    def __init__(self, token_env: str | None = None) -> None:
        self.token_env = token_env  # None: $VAULT_TOKEN, then the token helper file

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenAuth:
        return cls(settings.string("token_env"))

    def authenticate(self, client: Any) -> None:
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
    the token it got expires."""

    NAME = "approle"
    OPTIONS = frozenset({"role_id", "role_id_env", "secret_id_env", "mount"})
    renewable = True

    def __init__(self, role_id: str | None, role_id_env: str | None, secret_id_env: str | None,
                 mount: str = "approle") -> None:
        self.role_id = role_id
        self.role_id_env = role_id_env
        self.secret_id_env = secret_id_env
        self.mount = mount

    @classmethod
    def from_settings(cls, settings: Settings) -> AppRoleAuth:
        role_id, role_id_env = settings.string("role_id"), settings.string("role_id_env")
        if not role_id and not role_id_env:
            raise settings.error("role_id", "approle needs role_id (or role_id_env)")
        mount = settings.string("mount", "approle") or "approle"
        return cls(role_id, role_id_env, settings.string("secret_id_env"), mount.strip("/"))

    def authenticate(self, client: Any) -> None:
        role_id = self.role_id
        if not role_id and self.role_id_env:
            role_id = os.environ.get(self.role_id_env, "").strip()
            if not role_id:
                raise MissingCredential(f"no AppRole role id: set ${self.role_id_env}")
        secret_id = None
        if self.secret_id_env:
            secret_id = os.environ.get(self.secret_id_env, "").strip()
            if not secret_id:
                raise MissingCredential(f"no AppRole secret id: set ${self.secret_id_env}")
        client.auth.approle.login(role_id=role_id, secret_id=secret_id, mount_point=self.mount, use_token=True)


_LITERALS = {"token": "token_env", "secret_id": "secret_id_env", "password": "a *_env setting"}
AUTH_METHODS: dict[str, type[VaultAuth]] = {method.NAME: method for method in (TokenAuth, AppRoleAuth)}


def auth_from_settings(backend: Settings) -> VaultAuth:
    """The auth method of a vault backend's settings (``auth``; token when absent)."""
    data = backend.mapping("auth")
    method = data.get("method", "token")
    if method not in AUTH_METHODS:
        raise backend.error("auth.method", f"unknown method {method!r} (use {' or '.join(sorted(AUTH_METHODS))})")
    cls = AUTH_METHODS[method]
    for literal, instead in _LITERALS.items():
        if literal in data:
            raise backend.error(f"auth.{literal}", f"never put credentials in the file: name the environment "
                                                   f"variable that holds it in {instead}")
    options = {k: v for k, v in data.items() if k != "method"}
    return cls.from_settings(Settings(backend.name, options, cls.OPTIONS, where="auth"))
