"""Secret zero: the identity each app logs in to the vault with, and how it reaches the host.

For each app of the access model, roles named ``PREFIX-APP`` whose tokens get only the app's
policy (``PREFIX-app-APP``), on the auth mounts ``access.auth`` names:

- AppRole (always): ``bind_secret_id``, ``secret_id_num_uses = 1``, TTLs and optional CIDR
  bounds from the options. A secret id is delivered response-wrapped
  (:func:`deliver_secret_id`): the controller gets the role id and a short-lived, single-use
  wrapping token, never the secret id; the host unwraps it (:func:`unwrap_secret_id`, or the
  Ansible module ``vaultshift.secrets.approle_identity``) and keeps it in a root-only file. A
  wrapping token that was unwrapped before it reached the host means someone else holds the
  secret id: reported as a possible interception, naming the secret id's accessor to revoke.
- Kubernetes (when configured): the app's service accounts and namespaces.
- JWT (when configured): ``role_type = jwt``, the user claim, audiences, and the app's subject
  or bound claims (a role with neither would let in any JWT the issuer signs: refused).

The options (``access.auth.METHOD`` besides ``mount``; durations in seconds or ``90s``, ``10m``,
``1h``, ``2d``)::

    approle:
      secret_id_ttl: 24h          # an unused secret id expires (default 24h)
      token_ttl: 1h               # default 1h
      token_max_ttl: 24h          # default 24h; token_period: a periodic token instead
      secret_id_bound_cidrs: [10.0.0.0/8]    # where a secret id may be used from
      token_bound_cidrs: [10.0.0.0/8]        # where its tokens may be used from
      wrap_ttl: 60s               # how long a delivered wrapping token lives (default 60s)
      apps: {shop: {secret_id_bound_cidrs: [10.1.2.0/24], token_bound_cidrs: [...]}}
    kubernetes:
      token_ttl: 1h, token_max_ttl: 24h, audience: vault       # optional
      apps: {shop: {namespace: shop, service_accounts: [shop-web]}}   # or namespaces: [...]
    jwt:
      user_claim: sub             # default sub
      bound_audiences: [https://vault.example.org]
      token_ttl: 1h, token_max_ttl: 24h
      apps: {shop: {bound_subject: "repo:org/shop:ref:refs/heads/main", bound_claims: {...}}}

Only the apps listed under ``kubernetes.apps`` / ``jwt.apps`` get those roles. Each role is a
:class:`~migrator.access.vault_apply.Managed` whose state is only the fields vaultshift sets (the
server adds its defaults); a role of the same name whose token policies are not the prefix's app
policies was not written by vaultshift, and is a collision. No value passes through here but the
wrapping token (held, never shown) and, on the host, the secret id (likewise).
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import hvac
import hvac.exceptions
import requests

from migrator.access.model import AccessError, AccessModel
from migrator.access.settings import AccessSettings, AuthMount
from migrator.access.vault_apply import Managed
from migrator.backends.base import BackendError, NotFound
from migrator.backends.vault import VaultBackend
from migrator.config import ConfigError
from migrator.rewrite.base import KUBERNETES_TOKEN_FILE, AutoAuth

DEFAULT_SECRET_ID_TTL = 24 * 3600
DEFAULT_TOKEN_TTL = 3600
DEFAULT_TOKEN_MAX_TTL = 24 * 3600
DEFAULT_WRAP_TTL = 60
APPROLE_DIR = "/etc/vaultshift/approle"  # where AutoAuth's defaults read role_id and secret_id
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_TOKEN_KEYS = {"token_ttl", "token_max_ttl", "token_period", "token_bound_cidrs"}
_OPTIONS = {
    "approle": _TOKEN_KEYS | {"secret_id_ttl", "secret_id_bound_cidrs", "wrap_ttl", "apps"},
    "kubernetes": _TOKEN_KEYS | {"audience", "apps"},
    "jwt": _TOKEN_KEYS | {"user_claim", "bound_audiences", "apps"},
}
_APP_OPTIONS = {
    "approle": {"secret_id_bound_cidrs", "token_bound_cidrs"},
    "kubernetes": {"namespace", "namespaces", "service_accounts", "token_bound_cidrs"},
    "jwt": {"bound_subject", "bound_claims", "bound_audiences", "user_claim", "token_bound_cidrs"},
}
_SPENT = ("unwrapped before: someone else may hold the secret id (the wrapping token was intercepted): revoke the "
          "secret id accessor {accessor} and investigate")


class SecretZeroError(AccessError):
    """A secret id cannot be delivered or unwrapped; one line naming the app or the token's
    accessor, never a token or a secret id."""


# -- options ----------------------------------------------------------------------------------------

def duration(value: Any, where: str) -> int:
    """Seconds, from a whole number or ``1d2h3m4s`` (any of the parts); ConfigError naming ``where``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit():
            return int(text)
        found = _DURATION.match(text)
        if found:
            days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
            return ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    raise ConfigError(f"{where}: {value!r} is not a duration (seconds, or like 90s, 10m, 1h, 2d)")


def _cidrs(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: must be a list of CIDR blocks")
    out = []
    for text in value:
        try:
            out.append(str(ipaddress.ip_network(text.strip(), strict=False)))
        except ValueError:
            raise ConfigError(f"{where}: {text!r} is not an IP address or CIDR block") from None
    return out


def _strings(value: Any, where: str, *, required: bool = False) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if value is None or value == []:
        if required:
            raise ConfigError(f"{where}: required (a name or a list of names)")
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: must be a name or a list of names")
    return [v.strip() for v in value]


@dataclass(frozen=True, slots=True)
class TokenOptions:
    """What every role's tokens get: TTLs (seconds; ``period`` 0: not periodic) and CIDR bounds."""

    ttl: int = DEFAULT_TOKEN_TTL
    max_ttl: int = DEFAULT_TOKEN_MAX_TTL
    period: int = 0
    bound_cidrs: tuple[str, ...] = ()

    def fields(self, policy: str) -> dict[str, Any]:
        return {"token_policies": [policy], "token_ttl": self.ttl, "token_max_ttl": self.max_ttl,
                "token_period": self.period, "token_bound_cidrs": list(self.bound_cidrs)}


def _token_options(options: Mapping[str, Any], where: str, cidrs: Any = None) -> TokenOptions:
    ttl = duration(options.get("token_ttl", DEFAULT_TOKEN_TTL), f"{where}.token_ttl")
    max_ttl = duration(options.get("token_max_ttl", DEFAULT_TOKEN_MAX_TTL), f"{where}.token_max_ttl")
    if max_ttl and ttl > max_ttl:
        raise ConfigError(f"{where}: token_ttl ({ttl} s) is longer than token_max_ttl ({max_ttl} s)")
    period = duration(options.get("token_period", 0), f"{where}.token_period")
    bound = _cidrs(options.get("token_bound_cidrs") if cidrs is None else cidrs, f"{where}.token_bound_cidrs")
    return TokenOptions(ttl, max_ttl, period, tuple(bound))


def _mapping(value: Any, where: str, known: Collection[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a mapping")
    unknown = sorted(str(k) for k in value if k not in known)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (use {', '.join(sorted(known))})")
    return value


def _apps(mount: AuthMount, where: str) -> dict[str, dict[str, Any]]:
    """``apps``: app name -> that app's options."""
    apps = mount.options.get("apps")
    if apps is None:
        return {}
    if not isinstance(apps, dict):
        raise ConfigError(f"{where}.apps: must be a mapping of app name to its options")
    return {str(name): _mapping(entry, f"{where}.apps.{name}", _APP_OPTIONS[mount.method])
            for name, entry in apps.items()}


@dataclass(frozen=True, slots=True)
class AppRoleOptions:
    mount: str
    secret_id_ttl: int
    wrap_ttl: int
    secret_id_bound_cidrs: tuple[str, ...]
    token: TokenOptions
    apps: Mapping[str, tuple[tuple[str, ...], TokenOptions]]  # app -> its own secret id and token CIDRs

    def for_app(self, app: str) -> tuple[tuple[str, ...], TokenOptions]:
        return self.apps.get(app, (self.secret_id_bound_cidrs, self.token))


@dataclass(frozen=True, slots=True)
class KubernetesRole:
    namespaces: tuple[str, ...]
    service_accounts: tuple[str, ...]
    token: TokenOptions


@dataclass(frozen=True, slots=True)
class KubernetesOptions:
    mount: str
    audience: str
    apps: Mapping[str, KubernetesRole]


@dataclass(frozen=True, slots=True)
class JwtRole:
    user_claim: str
    bound_audiences: tuple[str, ...]
    bound_subject: str
    bound_claims: Mapping[str, Any]
    token: TokenOptions


@dataclass(frozen=True, slots=True)
class JwtOptions:
    mount: str
    apps: Mapping[str, JwtRole]


@dataclass(frozen=True, slots=True)
class IdentityOptions:
    """The parsed ``access.auth`` options: AppRole's (None when the settings name no approle
    mount), and the Kubernetes and JWT roles per app (None when not configured)."""

    approle: AppRoleOptions | None
    kubernetes: KubernetesOptions | None
    jwt: JwtOptions | None


def identity_options(settings: AccessSettings) -> IdentityOptions:
    """``settings.auth``'s options, checked; ConfigError (one line naming the key) otherwise."""
    base = f"{settings.source}: access.auth"
    approle: AppRoleOptions | None = None
    kubernetes: KubernetesOptions | None = None
    jwt: JwtOptions | None = None
    for mount in settings.auth:
        where = f"{base}.{mount.method}"
        options = _mapping(mount.options, where, _OPTIONS[mount.method])
        apps = _apps(mount, where)
        if mount.method == "approle":
            secret_cidrs = _cidrs(options.get("secret_id_bound_cidrs"), f"{where}.secret_id_bound_cidrs")
            token = _token_options(options, where)
            per_app = {}
            for name, entry in apps.items():
                own = f"{where}.apps.{name}"
                cidrs = _cidrs(entry.get("secret_id_bound_cidrs"), f"{own}.secret_id_bound_cidrs") \
                    if "secret_id_bound_cidrs" in entry else secret_cidrs
                per_app[name] = (tuple(cidrs), _token_options(options, own, entry.get("token_bound_cidrs"))
                                 if "token_bound_cidrs" in entry else token)
            wrap_ttl = duration(options.get("wrap_ttl", DEFAULT_WRAP_TTL), f"{where}.wrap_ttl")
            if wrap_ttl < 1:
                raise ConfigError(f"{where}.wrap_ttl: must be at least 1 s")
            approle = AppRoleOptions(mount.mount, duration(options.get("secret_id_ttl", DEFAULT_SECRET_ID_TTL),
                                                           f"{where}.secret_id_ttl"),
                                     wrap_ttl, tuple(secret_cidrs), token, per_app)
        elif mount.method == "kubernetes":
            audience = options.get("audience", "")
            if not isinstance(audience, str):
                raise ConfigError(f"{where}.audience: must be a string")
            roles = {}
            for name, entry in apps.items():
                own = f"{where}.apps.{name}"
                if "namespace" in entry and "namespaces" in entry:
                    raise ConfigError(f"{own}: give namespace or namespaces, not both")
                namespaces = _strings(entry.get("namespace", entry.get("namespaces")), f"{own}.namespace",
                                      required=True)
                accounts = _strings(entry.get("service_accounts"), f"{own}.service_accounts", required=True)
                if "*" in namespaces and "*" in accounts:
                    raise ConfigError(f"{own}: '*' for both namespaces and service accounts lets every pod in")
                bound = entry.get("token_bound_cidrs") if "token_bound_cidrs" in entry else None
                roles[name] = KubernetesRole(tuple(namespaces), tuple(accounts), _token_options(options, own, bound))
            kubernetes = KubernetesOptions(mount.mount, audience, roles)
        else:
            claim = options.get("user_claim", "sub")
            audiences = _strings(options.get("bound_audiences"), f"{where}.bound_audiences")
            roles_jwt = {}
            for name, entry in apps.items():
                own = f"{where}.apps.{name}"
                subject = entry.get("bound_subject", "")
                claims = entry.get("bound_claims") or {}
                if not isinstance(subject, str) or not isinstance(claims, dict):
                    raise ConfigError(f"{own}: bound_subject must be a string and bound_claims a mapping")
                if not subject and not claims:
                    raise ConfigError(f"{own}: give bound_subject or bound_claims (without, any JWT the issuer "
                                      "signs would log in as this app)")
                user_claim = entry.get("user_claim", claim)
                if not isinstance(user_claim, str) or not user_claim:
                    raise ConfigError(f"{own}.user_claim: must name a claim")
                own_audiences = _strings(entry["bound_audiences"], f"{own}.bound_audiences") \
                    if "bound_audiences" in entry else audiences
                bound = entry.get("token_bound_cidrs") if "token_bound_cidrs" in entry else None
                roles_jwt[name] = JwtRole(user_claim, tuple(own_audiences), subject, dict(claims),
                                          _token_options(options, own, bound))
            jwt = JwtOptions(mount.mount, roles_jwt)
    return IdentityOptions(approle, kubernetes, jwt)


# -- roles ------------------------------------------------------------------------------------------

def role_name(model: AccessModel, app: str) -> str:
    """The role of ``app`` on every auth mount: ``PREFIX-APP``."""
    return f"{model.prefix}-{model.app(app).name}"


def _approle_fields(options: AppRoleOptions, app: str, policy: str) -> dict[str, Any]:
    secret_cidrs, token = options.for_app(app)
    return {"bind_secret_id": True, "secret_id_num_uses": 1, "secret_id_ttl": options.secret_id_ttl,
            "secret_id_bound_cidrs": list(secret_cidrs), **token.fields(policy)}


def _kubernetes_fields(options: KubernetesOptions, role: KubernetesRole, policy: str) -> dict[str, Any]:
    return {"bound_service_account_names": list(role.service_accounts),
            "bound_service_account_namespaces": list(role.namespaces), "audience": options.audience,
            **role.token.fields(policy)}


def _jwt_fields(role: JwtRole, policy: str) -> dict[str, Any]:
    return {"role_type": "jwt", "user_claim": role.user_claim, "bound_audiences": list(role.bound_audiences),
            "bound_subject": role.bound_subject, "bound_claims": dict(role.bound_claims), **role.token.fields(policy)}


def _normal(wanted: Mapping[str, Any], found: Mapping[str, Any]) -> dict[str, Any]:
    """``found`` (the server's role) reduced to the keys of ``wanted``, its empty values (null,
    absent) written as ``wanted`` writes them, so that ``==`` compares what vaultshift sets."""
    out = {}
    for key, want in wanted.items():
        value = found.get(key)
        if value is None:
            value = type(want)()
        elif isinstance(want, list) and isinstance(value, list):
            value = [_cidr(str(v)) if key.endswith("_cidrs") else str(v) for v in value]
        out[key] = value
    return out


def _cidr(text: str) -> str:
    """A CIDR block as the options are normalized (the server shows ``10.0.0.1/32`` as ``10.0.0.1``)."""
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return text


def role(backend: VaultBackend, kind: str, mount: str, name: str, wanted: dict[str, Any], prefix: str) -> Managed:
    """One auth role (``auth/MOUNT/role/NAME``) on ``backend``'s server; vaultshift's own when its
    token policies are all ``PREFIX-app-*``."""
    path = f"/v1/auth/{mount}/role/{name}"

    def read() -> dict[str, Any] | None:
        def get(client: hvac.Client) -> dict[str, Any] | None:
            try:
                response = client.adapter.get(path)
            except hvac.exceptions.InvalidPath:
                return None
            data = response.get("data") if isinstance(response, dict) else None
            return _normal(wanted, data) if isinstance(data, dict) else None
        return backend.call(f"read {kind}", f"auth/{mount}/role/{name}", get)

    def write(state: dict[str, Any]) -> None:
        backend.call(f"write {kind}", f"auth/{mount}/role/{name}", lambda c: c.adapter.post(path, json=state))

    def delete() -> None:
        backend.call(f"delete {kind}", f"auth/{mount}/role/{name}", lambda c: c.adapter.delete(path))

    def ours(current: Any) -> bool:
        policies = current.get("token_policies") if isinstance(current, dict) else None
        return isinstance(policies, list) and bool(policies) and all(str(p).startswith(f"{prefix}-app-")
                                                                     for p in policies)

    def show(state: Any) -> str:
        return "".join(f"{key} = {json.dumps(value, sort_keys=True)}\n" for key, value in sorted(state.items()))

    return Managed(kind, f"{mount}/{name}", wanted, read, write, delete, ours=ours, show=show)


def app_roles(model: AccessModel, backend: VaultBackend, policies: Collection[str] | None = None) -> list[Managed]:
    """The roles apps log in with: an AppRole role per app on the approle mount, and the
    Kubernetes and JWT roles of the apps the options list. ``policies``: the policies
    ``access apply`` writes (an app without one, reading only from Secrets Manager, gets no role);
    None: every app has one. ConfigError for bad options, AccessError for an app the options
    list that the model does not have."""
    options = identity_options(model.settings)
    known = {app.name for app in model.apps}
    for method, listed in (("kubernetes", options.kubernetes.apps if options.kubernetes else {}),
                           ("jwt", options.jwt.apps if options.jwt else {}),
                           ("approle", options.approle.apps if options.approle else {})):
        stray = sorted(set(listed) - known)
        if stray:
            raise AccessError(f"access.auth.{method}.apps: no app {stray[0]!r} in the access model (apps: "
                              f"{', '.join(sorted(known)) or 'none'})")
    out: list[Managed] = []
    for app in model.apps:
        policy = model.app_policy(app)
        if policies is not None and policy not in policies:
            continue
        name = role_name(model, app.name)
        if options.approle is not None:
            out.append(role(backend, "approle role", options.approle.mount, name,
                            _approle_fields(options.approle, app.name, policy), model.prefix))
        if options.kubernetes is not None and app.name in options.kubernetes.apps:
            fields = _kubernetes_fields(options.kubernetes, options.kubernetes.apps[app.name], policy)
            out.append(role(backend, "kubernetes role", options.kubernetes.mount, name, fields, model.prefix))
        if options.jwt is not None and app.name in options.jwt.apps:
            out.append(role(backend, "jwt role", options.jwt.mount, name, _jwt_fields(options.jwt.apps[app.name],
                                                                                       policy), model.prefix))
    return out


def agent_auth(model: AccessModel, app: str, method: str = "approle", *, role_id_file: str = "",
               secret_id_file: str = "", jwt_file: str = "") -> AutoAuth:
    """The agent's ``auto_auth`` for ``app`` with ``method`` (approle, kubernetes or jwt): the
    mount the settings give and the app's role. Only paths: approle reads the delivered files
    (default under :data:`APPROLE_DIR`), kubernetes the pod's token (default
    :data:`~migrator.rewrite.base.KUBERNETES_TOKEN_FILE`), jwt the file ``jwt_file``."""
    mount = model.settings.auth_mount(method)
    if mount is None:
        raise AccessError(f"access.auth has no {method} mount: the agent of {app} cannot log in with {method}")
    name = role_name(model, app)
    if method == "approle":
        return AutoAuth(method="approle", mount_path=f"auth/{mount.mount}",
                        role_id_file=role_id_file or f"{APPROLE_DIR}/role_id",
                        secret_id_file=secret_id_file or f"{APPROLE_DIR}/secret_id")
    if method == "kubernetes":
        return AutoAuth.kubernetes(name, mount.mount, jwt_file or KUBERNETES_TOKEN_FILE)
    if not jwt_file:
        raise AccessError(f"the jwt agent of {app} needs the path of its JWT file")
    return AutoAuth.jwt(name, jwt_file, mount.mount)


# -- delivery ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WrappedSecretId:
    """A secret id of ``app``'s AppRole role, response-wrapped: the role id (not a secret), the
    wrapping token (single use; never in the repr), the secret id's accessor (to revoke it), the
    wrapping's TTL and where it was made (``creation_path``: what the host checks before
    unwrapping), and when it expires by this machine's clock."""

    app: str
    role: str
    mount: str
    role_id: str
    token: str = field(repr=False)
    accessor: str
    ttl: int
    creation_path: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class SecretId:
    """An unwrapped secret id (``value``, never in the repr) and its accessor."""

    value: str = field(repr=False)
    accessor: str


def _approle_mount(model: AccessModel) -> str:
    mount = model.settings.auth_mount("approle")
    if mount is None:
        raise SecretZeroError("access.auth has no approle mount: secret ids are AppRole's")
    return mount.mount


def deliver_secret_id(backend: VaultBackend, model: AccessModel, app: str, wrap_ttl: int | str | None = None, *,
                      host: str = "") -> WrappedSecretId:
    """A fresh secret id of ``app``'s AppRole role, wrapped for ``wrap_ttl`` (default the
    options' ``wrap_ttl``, 60 s), with the role id. ``host`` goes into the secret id's metadata
    (and so into the audit log of its logins). SecretZeroError when the role does not exist
    (``access apply`` makes it) or the server refuses."""
    mount = _approle_mount(model)
    name = role_name(model, app)
    options = identity_options(model.settings).approle
    ttl = duration(wrap_ttl, "wrap_ttl") if wrap_ttl is not None else (options.wrap_ttl if options else
                                                                         DEFAULT_WRAP_TTL)
    if ttl < 1:
        raise SecretZeroError(f"{app}: the wrap TTL must be at least 1 s")
    base = f"auth/{mount}/role/{name}"
    metadata = json.dumps({"vaultshift_app": app, **({"host": host} if host else {})})

    def role_id(client: hvac.Client) -> str:
        data = client.adapter.get(f"/v1/{base}/role-id").get("data") or {}
        return str(data.get("role_id") or "")

    def generate(client: hvac.Client) -> dict[str, Any]:
        response = client.adapter.post(f"/v1/{base}/secret-id", json={"metadata": metadata}, wrap_ttl=f"{ttl}s")
        info = response.get("wrap_info") if isinstance(response, dict) else None
        return dict(info) if isinstance(info, dict) else {}

    try:
        found = backend.call("read role id", base, role_id)
        if not found:
            raise SecretZeroError(f"{app}: approle role {name} on {mount}/ has no role id")
        started = time.time()
        info = backend.call("generate wrapped secret id", base, generate)
    except NotFound:
        raise SecretZeroError(f"{app}: no approle role {name} on {mount}/ (run vaultshift access apply first)") \
            from None
    except BackendError as exc:
        raise SecretZeroError(f"{app}: {exc}") from None
    token, accessor = info.get("token"), info.get("wrapped_accessor")
    if not isinstance(token, str) or not token or not isinstance(accessor, str) or not accessor:
        raise SecretZeroError(f"{app}: the server did not wrap the secret id of {name} (is a proxy in between "
                              "dropping the X-Vault-Wrap-TTL header?)")
    return WrappedSecretId(app, name, mount, found, token, accessor, int(info.get("ttl") or ttl),
                           str(info.get("creation_path") or f"{base}/secret-id"), started + int(info.get("ttl") or ttl))


def destroy_secret_id(backend: VaultBackend, model: AccessModel, app: str, accessor: str) -> bool:
    """Destroy the secret id of ``app``'s role with ``accessor``; False when it no longer exists
    (used up, expired or destroyed before)."""
    base = f"auth/{_approle_mount(model)}/role/{role_name(model, app)}"

    def destroy(client: hvac.Client) -> bool:
        try:
            client.adapter.post(f"/v1/{base}/secret-id-accessor/destroy", json={"secret_id_accessor": accessor})
        except (hvac.exceptions.InvalidPath, hvac.exceptions.InternalServerError, hvac.exceptions.InvalidRequest) \
                as exc:
            if "failed to find accessor" in str(exc) or isinstance(exc, hvac.exceptions.InvalidPath):
                return False
            raise
        return True

    try:
        return bool(backend.call("destroy secret id", f"{base}/secret-id-accessor/{accessor}", destroy))
    except BackendError as exc:
        raise SecretZeroError(f"{app}: {exc}") from None


def unwrap_secret_id(address: str, token: str, *, ca_cert: str | None = None, verify: bool = True,
                     namespace: str | None = None, accessor: str = "", creation_path: str = "",
                     expires_at: float | None = None, timeout: float = 10.0) -> SecretId:
    """The host side: the secret id inside the wrapping ``token``, from the server at ``address``.

    The token is looked up first: one made anywhere but ``creation_path`` (when given) is refused
    unopened (a substituted token). One that no longer exists was unwrapped by someone else,
    unless it expired (``expires_at``, this machine's clock): SecretZeroError telling to revoke
    the secret id ``accessor`` and investigate. The unwrapped secret id must have ``accessor``."""
    what = f"the wrapped secret id (accessor {accessor})" if accessor else "the wrapped secret id"
    client = hvac.Client(url=address, namespace=namespace or None, timeout=timeout,
                         verify=ca_cert if verify and ca_cert else verify)
    client.token = None

    def spent() -> SecretZeroError:
        if expires_at is not None and time.time() > expires_at:
            return SecretZeroError(f"{what} has expired before it was unwrapped: deliver a new one")
        return SecretZeroError(f"{what} was " + _SPENT.format(accessor=accessor or "(unknown)"))

    def request(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized,
                hvac.exceptions.InvalidPath):
            raise spent() from None
        except hvac.exceptions.VaultError as exc:
            raise SecretZeroError(f"{what}: the server at {address} failed: {type(exc).__name__}") from None
        except requests.exceptions.RequestException as exc:
            raise SecretZeroError(f"{what}: cannot reach {address} ({type(exc).__name__})") from None

    looked = request(lambda: client.adapter.post("/v1/sys/wrapping/lookup", json={"token": token}))
    made_at = str(((looked or {}).get("data") or {}).get("creation_path") or "")
    if creation_path and made_at != creation_path:
        raise SecretZeroError(f"{what}: the wrapping token was made at {made_at or 'an unknown path'}, not "
                              f"{creation_path}: refused unopened (it may have been substituted); investigate")
    answer = request(lambda: client.adapter.post("/v1/sys/wrapping/unwrap", headers={"X-Vault-Token": token}))
    data = (answer or {}).get("data") or {}
    value, got = data.get("secret_id"), str(data.get("secret_id_accessor") or "")
    if not isinstance(value, str) or not value:
        raise SecretZeroError(f"{what}: the wrapping token did not hold an AppRole secret id")
    if accessor and got != accessor:
        raise SecretZeroError(f"{what}: it held the secret id with accessor {got}, not {accessor}; investigate")
    return SecretId(value, got)
