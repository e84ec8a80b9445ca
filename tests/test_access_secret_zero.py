"""Secret zero on a real OpenBao: the roles apps log in with (AppRole, Kubernetes, JWT) made by
``access apply`` beside the policies, all or none and idempotent; a response-wrapped secret id
that unwraps once and never twice (the second time reported as an interception, naming the
accessor to revoke), whose secret id logs in once; a real ``bao agent`` with the generated
configuration that renders the app's secret and gets 403 on another app's; JWT logins through the
backend and through an agent; Kubernetes role bindings enforced for the agent's generated
configuration (no cluster here: the server's TokenReview call, the last step, cannot succeed)."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
from assertions import one_line
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from servers import BIN, BaoServer, free_port, make_value

from migrator.access.engine import load_model, managed
from migrator.access.model import AccessError, AccessModel
from migrator.access.secret_zero import (
    SecretZeroError,
    agent_auth,
    deliver_secret_id,
    destroy_secret_id,
    identity_options,
    role_name,
    unwrap_secret_id,
)
from migrator.access.settings import access_settings
from migrator.access.vault_apply import Managed, apply_changes, plan_changes
from migrator.backends import make_backend
from migrator.backends.base import AuthError, Forbidden
from migrator.backends.vault import VaultBackend
from migrator.config import Config, ConfigError, parse_config
from migrator.plan.models import Occurrence, Plan, PlannedSecret, ReferenceStyle, SecretRef
from migrator.rewrite.agent_config import TemplateBlock, agent_hcl, secret_action
from migrator.rewrite.base import AgentOptions, AutoAuth, KvMount

BAO = BIN / "bao"
AUDIENCE = "vaultshift-tests"
ISSUER = "https://ci.vaultshift.test"


def occurrence(path: str, host: str) -> Occurrence:
    return Occurrence(path, 0, 8, 1, "password", "yaml", ReferenceStyle.AGENT_TEMPLATE, "hmac:x", host, "/srv")


class World:
    """Two apps (shop on web01, billing on web02) with a secret each, a unique prefix and auth
    mounts (approle, kubernetes, jwt) on the shared server, and the roles applied."""

    def __init__(self, bao: BaoServer, monkeypatch: pytest.MonkeyPatch, **auth: dict[str, Any]) -> None:
        monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao.token)
        self.bao = bao
        self.run = uuid.uuid4().hex[:8]
        self.prefix = f"z{self.run}"
        self.mounts = {"approle": f"approle-{self.run}", "kubernetes": f"k8s-{self.run}", "jwt": f"jwt-{self.run}"}
        for method, mount in self.mounts.items():
            bao.client().sys.enable_auth_method(method, path=mount)
        self.refs = {app: SecretRef("vault", f"{self.run}/apps/{app}/db", "password") for app in ("shop", "billing")}
        self.values = {app: make_value() for app in self.refs}
        for app, ref in self.refs.items():
            bao.client().secrets.kv.v2.create_or_update_secret(ref.path, secret={"password": self.values[app]},
                                                                mount_point="secret")
        options = {
            "approle": {"mount": self.mounts["approle"], "token_ttl": "5m", "token_max_ttl": "1h",
                        "secret_id_ttl": "10m", **auth.get("approle", {})},
            "kubernetes": {"mount": self.mounts["kubernetes"],
                           "apps": {"shop": {"namespace": "shop-ns", "service_accounts": ["shop-web"]}}},
            "jwt": {"mount": self.mounts["jwt"], "bound_audiences": [AUDIENCE],
                    "apps": {"shop": {"bound_claims": {"app": "shop"}}, "billing": {"bound_subject": "billing-ci"}}},
        }
        self.config = parse_config({"backends": {"vault": bao.settings()},
                                    "access": {"prefix": self.prefix, "auth": options}}, "vaultshift.yml")
        plan = Plan((PlannedSecret("fp:shop", "password", self.refs["shop"], (occurrence("shop/a.yml", "web01"),)),
                     PlannedSecret("fp:billing", "password", self.refs["billing"],
                                   (occurrence("billing/a.yml", "web02"),))), ("/srv",), "key", "apps/{app}/{key}")
        self.model: AccessModel = load_model(plan, self.config)
        backend = make_backend("vault", bao.settings())
        assert isinstance(backend, VaultBackend)
        self.backend = backend

    def items(self, config: Config | None = None) -> list[Managed]:
        """What ``access apply`` manages: the policies, then the roles (which name them)."""
        config = config or self.config
        model = dataclasses.replace(self.model, settings=access_settings(config)) if config is not self.config \
            else self.model
        return managed(model, config, self.backend)

    def apply(self) -> None:
        apply_changes(plan_changes(self.items()))

    def role(self, method: str, app: str) -> dict[str, Any]:
        response = self.bao.client().adapter.get(f"/v1/auth/{self.mounts[method]}/role/{role_name(self.model, app)}")
        return dict(response["data"])


def run_agent(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BAO), "agent", f"-config={config}", "-exit-after-auth"], capture_output=True,
                          text=True, timeout=30, cwd=cwd, env={"PATH": os.environ["PATH"], "HOME": str(cwd)},
                          check=False)


def agent_config(world: World, directory: Path, auth: AutoAuth, app: str) -> tuple[Path, Path]:
    """An agent configuration as the engine writes it (``auth`` from :func:`agent_auth`), one
    template reading ``app``'s secret; fails fast (exit on a failed login, one retry)."""
    source, destination = directory / f"{app}.ctmpl", directory / f"{app}.rendered"
    source.write_text(secret_action(KvMount(), world.refs[app]))
    options = AgentOptions(address=world.bao.addr, auth=dataclasses.replace(auth, exit_on_err=True), retries=1)
    config = directory / f"{app}.agent.hcl"
    config.write_bytes(agent_hcl(options, ["test"], templates=[TemplateBlock(str(source), str(destination), 0o600)]))
    return config, destination


def identity_files(world: World, directory: Path, app: str) -> tuple[Path, Path, str]:
    """A delivered identity, unwrapped as a host does, in 0600 files: (role id file, secret id file, secret id)."""
    wrapped = deliver_secret_id(world.backend, world.model, app, 30)
    secret = unwrap_secret_id(world.bao.addr, wrapped.token, accessor=wrapped.accessor,
                              creation_path=wrapped.creation_path)
    directory.mkdir(parents=True, exist_ok=True)
    files = directory / "role_id", directory / "secret_id"
    for path, text in zip(files, (wrapped.role_id, secret.value), strict=True):
        path.write_text(text)
        path.chmod(0o600)
    return files[0], files[1], secret.value


# -- the roles ------------------------------------------------------------------------------------------

def test_roles_are_applied_with_the_policies_all_or_none_and_twice_changes_nothing(
        bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(bao, monkeypatch)
    changes = plan_changes(world.items())
    roles = sorted((c.action, c.label) for c in changes if "role" in c.managed.kind)
    approle, k8s, jwt = world.mounts["approle"], world.mounts["kubernetes"], world.mounts["jwt"]
    p = world.prefix
    assert roles == sorted([
        ("create", f"approle role {approle}/{p}-shop"), ("create", f"approle role {approle}/{p}-billing"),
        ("create", f"kubernetes role {k8s}/{p}-shop"),  # billing runs on no cluster: no kubernetes role
        ("create", f"jwt role {jwt}/{p}-shop"), ("create", f"jwt role {jwt}/{p}-billing")])
    assert [c.managed.kind for c in changes].index("approle role") > max(
        i for i, c in enumerate(changes) if c.managed.kind == "policy")  # roles name policies: after them
    apply_changes(changes)
    again = plan_changes(world.items())
    assert {c.action for c in again} == {"unchanged"}, [c.diff() for c in again if c.action != "unchanged"]

    shop = world.role("approle", "shop")
    assert shop["token_policies"] == [f"{p}-app-shop"] and shop["bind_secret_id"] is True
    assert (shop["secret_id_num_uses"], shop["secret_id_ttl"], shop["token_ttl"], shop["token_max_ttl"]) == \
        (1, 600, 300, 3600)
    k8s_role = world.role("kubernetes", "shop")
    assert (k8s_role["bound_service_account_names"], k8s_role["bound_service_account_namespaces"]) == \
        (["shop-web"], ["shop-ns"])
    jwt_role = world.role("jwt", "billing")
    assert (jwt_role["role_type"], jwt_role["bound_subject"], jwt_role["bound_audiences"],
            jwt_role["token_policies"]) == ("jwt", "billing-ci", [AUDIENCE], [f"{p}-app-billing"])

    # A changed option updates only the roles it concerns; applying it twice changes nothing.
    raw = dict(world.config.extra["access"])
    raw["auth"] = {**raw["auth"], "approle": {**raw["auth"]["approle"], "token_ttl": "10m",
                                              "secret_id_bound_cidrs": ["10.1.0.0/16"],
                                              "token_bound_cidrs": ["10.1.2.3", "fd00::/8"]}}
    changed = parse_config({"backends": {"vault": bao.settings()}, "access": raw}, "vaultshift.yml")
    updates = [c.label for c in plan_changes(world.items(changed)) if c.action != "unchanged"]
    assert sorted(updates) == [f"approle role {approle}/{p}-billing", f"approle role {approle}/{p}-shop"]
    apply_changes(plan_changes(world.items(changed)))
    assert world.role("approle", "shop")["secret_id_bound_cidrs"] == ["10.1.0.0/16"]
    assert world.role("approle", "shop")["token_bound_cidrs"] == ["10.1.2.3", "fd00::/8"]  # shown without /32
    assert {c.action for c in plan_changes(world.items(changed))} == {"unchanged"}


def test_a_role_vaultshift_did_not_write_stops_everything(bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(bao, monkeypatch)
    bao.client().auth.approle.create_or_update_approle(f"{world.prefix}-billing", token_policies=["default"],
                                                       mount_point=world.mounts["approle"])
    with pytest.raises(AccessError) as caught:
        apply_changes(plan_changes(world.items()))
    assert str(caught.value) == (f"approle role {world.mounts['approle']}/{world.prefix}-billing exists on the server "
                                 "and was not written by vaultshift; rename it, or set access.prefix so vaultshift's "
                                 "names differ")
    assert f"{world.prefix}-app-shop" not in bao.client().sys.list_acl_policies()["data"]["keys"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        world.role("approle", "shop")
    with pytest.raises(SecretZeroError) as missing:
        deliver_secret_id(world.backend, world.model, "shop", 30)
    assert str(missing.value) == (f"shop: no approle role {world.prefix}-shop on {world.mounts['approle']}/ (run "
                                  "vaultshift access apply first)")


@pytest.mark.parametrize(("auth", "message"), [
    ({"jwt": {"apps": {"shop": {}}}}, "access.auth.jwt.apps.shop: give bound_subject or bound_claims"),
    ({"approle": {"token_bound_cidrs": ["10.0.0.300"]}}, "access.auth.approle.token_bound_cidrs: '10.0.0.300' is "
                                                         "not an IP address"),
    ({"approle": {"token_ttl": "2h", "token_max_ttl": "1h"}}, "token_ttl (7200 s) is longer than token_max_ttl"),
    ({"approle": {"wrap_ttl": "soon"}}, "access.auth.approle.wrap_ttl: 'soon' is not a duration"),
    ({"kubernetes": {"apps": {"shop": {"namespace": "*", "service_accounts": ["*"]}}}}, "lets every pod in"),
    ({"kubernetes": {"apps": {"shop": {"namespace": "ns"}}}}, "access.auth.kubernetes.apps.shop.service_accounts: "
                                                              "required"),
    ({"approle": {"ttl": 5}}, "access.auth.approle: unknown key 'ttl'"),
])
def test_bad_identity_options_are_one_line_naming_the_key(auth: dict[str, Any], message: str) -> None:
    config = parse_config({"backends": {"vault": {"type": "vault"}}, "access": {"auth": auth}}, "vaultshift.yml")
    with pytest.raises(ConfigError) as caught:
        identity_options(access_settings(config))
    assert message in one_line(caught.value) and str(caught.value).startswith("vaultshift.yml: access.auth.")


# -- delivery ---------------------------------------------------------------------------------------------

def test_a_wrapped_secret_id_unwraps_once_and_logs_in_once(bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(bao, monkeypatch)
    world.apply()
    wrapped = deliver_secret_id(world.backend, world.model, "shop", "30s", host="web01")
    assert wrapped.token not in repr(wrapped) and wrapped.token not in str(wrapped)
    assert (wrapped.role, wrapped.ttl, wrapped.creation_path) == (
        f"{world.prefix}-shop", 30, f"auth/{world.mounts['approle']}/role/{world.prefix}-shop/secret-id")
    secret = unwrap_secret_id(bao.addr, wrapped.token, accessor=wrapped.accessor,
                              creation_path=wrapped.creation_path, expires_at=wrapped.expires_at)
    assert secret.value not in repr(secret) and secret.accessor == wrapped.accessor

    with pytest.raises(SecretZeroError) as caught:  # the second time: someone else got there first
        unwrap_secret_id(bao.addr, wrapped.token, accessor=wrapped.accessor, expires_at=wrapped.expires_at)
    message = one_line(caught.value, wrapped.token, secret.value)
    assert f"(accessor {wrapped.accessor}) was unwrapped before" in message
    assert f"revoke the secret id accessor {wrapped.accessor} and investigate" in message
    with pytest.raises(SecretZeroError, match="has expired before it was unwrapped"):
        unwrap_secret_id(bao.addr, wrapped.token, expires_at=time.time() - 1)

    client = bao.client()
    login = client.auth.approle.login(wrapped.role_id, secret.value, mount_point=world.mounts["approle"],
                                      use_token=False)
    assert login["auth"]["policies"] == ["default", f"{world.prefix}-app-shop"]
    assert login["auth"]["metadata"]["host"] == "web01"  # in the audit log of every login with it
    with pytest.raises(hvac.exceptions.InvalidRequest):  # single use
        client.auth.approle.login(wrapped.role_id, secret.value, mount_point=world.mounts["approle"], use_token=False)


def test_a_substituted_wrapping_token_is_refused_unopened_and_an_unused_secret_id_can_be_destroyed(
        bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(bao, monkeypatch)
    world.apply()
    wrapped = deliver_secret_id(world.backend, world.model, "shop", 30)
    other = bao.client().adapter.post("/v1/sys/wrapping/wrap", json={"secret_id": "attacker-chosen"},
                                      wrap_ttl="30s")["wrap_info"]["token"]
    with pytest.raises(SecretZeroError) as caught:
        unwrap_secret_id(bao.addr, other, accessor=wrapped.accessor, creation_path=wrapped.creation_path)
    assert "was made at sys/wrapping/wrap, not auth/" in one_line(caught.value, other)
    # Refused unopened: it still unwraps (the lookup does not spend it).
    anonymous = hvac.Client(url=bao.addr, timeout=5)
    anonymous.token = None
    assert anonymous.adapter.post("/v1/sys/wrapping/unwrap", headers={"X-Vault-Token": other})["data"]

    # The operators policy is enough to deliver and destroy secret ids (no root token needed).
    operator = bao.client().auth.token.create(policies=[world.model.operators_policy], ttl="5m")["auth"]
    monkeypatch.setenv("OPERATOR_TOKEN", operator["client_token"])
    as_operator = make_backend("operator", bao.settings(auth={"method": "token", "token_env": "OPERATOR_TOKEN"}))
    assert isinstance(as_operator, VaultBackend)
    spare = deliver_secret_id(as_operator, world.model, "billing", 30)
    assert destroy_secret_id(as_operator, world.model, "billing", spare.accessor) is True
    assert destroy_secret_id(world.backend, world.model, "shop", wrapped.accessor) is True
    assert destroy_secret_id(world.backend, world.model, "shop", wrapped.accessor) is False
    secret = unwrap_secret_id(bao.addr, wrapped.token, creation_path=wrapped.creation_path)
    with pytest.raises(hvac.exceptions.InvalidRequest):  # destroyed before it was used
        bao.client().auth.approle.login(wrapped.role_id, secret.value, mount_point=world.mounts["approle"],
                                        use_token=False)
    with pytest.raises(AccessError, match="no app 'nobody' in the access model"):
        deliver_secret_id(world.backend, world.model, "nobody", 30)


def test_an_agent_with_the_generated_config_renders_its_app_and_nothing_else(
        bao: BaoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    world = World(bao, monkeypatch)
    world.apply()
    role_id_file, secret_id_file, secret_id = identity_files(world, tmp_path / "shop-id", "shop")
    auth = agent_auth(world.model, "shop", role_id_file=str(role_id_file), secret_id_file=str(secret_id_file))
    assert (auth.method, auth.path) == ("approle", f"auth/{world.mounts['approle']}")
    config, rendered = agent_config(world, tmp_path, auth, "shop")
    assert secret_id not in config.read_text() and str(secret_id_file) in config.read_text()
    done = run_agent(config, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert rendered.read_text() == world.values["shop"]

    role_id_file, secret_id_file, _ = identity_files(world, tmp_path / "shop-id-2", "shop")
    auth = agent_auth(world.model, "shop", role_id_file=str(role_id_file), secret_id_file=str(secret_id_file))
    config, rendered = agent_config(world, tmp_path, auth, "billing")  # shop's identity, billing's secret
    done = run_agent(config, tmp_path)
    assert done.returncode != 0 and "403" in done.stdout + done.stderr and "permission denied" in done.stderr
    assert not rendered.exists()
    assert world.values["billing"] not in done.stdout + done.stderr


# -- platform identities ---------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jwt(key: rsa.RSAPrivateKey, claims: dict[str, Any]) -> str:
    """An RS256 JWT, as an identity provider signs one."""
    now = int(time.time())
    head = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "iat": now - 5, "nbf": now - 5, "exp": now + 300,
                            **claims}).encode())
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(signature)}"


def test_jwt_logs_in_through_the_backend_and_a_real_agent(
        bao: BaoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    world = World(bao, monkeypatch)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    bao.client().adapter.post(f"/v1/auth/{world.mounts['jwt']}/config",
                              json={"jwt_validation_pubkeys": [public], "bound_issuer": ISSUER})
    world.apply()
    shop_jwt, wrong_jwt = tmp_path / "shop.jwt", tmp_path / "wrong.jwt"
    shop_jwt.write_text(sign_jwt(key, {"sub": "shop-ci", "app": "shop"}))
    wrong_jwt.write_text(sign_jwt(key, {"sub": "shop-ci", "app": "billing"}))  # not shop's claims

    def backend(jwt_file: Path) -> VaultBackend:
        made = make_backend("app", bao.settings(auth={"method": "jwt", "role": role_name(world.model, "shop"),
                                                      "mount": world.mounts["jwt"], "jwt_file": str(jwt_file)}))
        assert isinstance(made, VaultBackend)
        return made

    shop = backend(shop_jwt)
    assert shop.read(world.refs["shop"]) == world.values["shop"]
    with pytest.raises(Forbidden):
        shop.read(world.refs["billing"])
    with pytest.raises(AuthError) as caught:
        backend(wrong_jwt).read(world.refs["shop"])
    one_line(caught.value, wrong_jwt.read_text())

    auth = agent_auth(world.model, "shop", "jwt", jwt_file=str(shop_jwt))
    config, rendered = agent_config(world, tmp_path, auth, "shop")
    assert 'method "jwt"' in config.read_text() and shop_jwt.read_text() not in config.read_text()
    done = run_agent(config, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert rendered.read_text() == world.values["shop"] and shop_jwt.exists()  # the platform's file stays


def _ca_certificate() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test cluster CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def service_account_token(namespace: str, account: str) -> str:
    """A service account JWT as the pod would hold it (unsigned here: only the cluster checks it)."""
    now = int(time.time())
    claims = {"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": namespace,
              "kubernetes.io/serviceaccount/service-account.name": account,
              "kubernetes.io/serviceaccount/service-account.uid": str(uuid.uuid4()),
              "sub": f"system:serviceaccount:{namespace}:{account}", "iat": now - 5, "nbf": now - 5, "exp": now + 300}
    return f"{_b64(json.dumps({'alg': 'RS256'}).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(b'x')}"


def test_kubernetes_agent_config_logs_in_as_the_apps_role_whose_bindings_the_server_enforces(
        bao: BaoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    world = World(bao, monkeypatch)
    bao.client().adapter.post(f"/v1/auth/{world.mounts['kubernetes']}/config", json={
        "kubernetes_host": f"https://127.0.0.1:{free_port()}", "kubernetes_ca_cert": _ca_certificate(),
        "disable_local_ca_jwt": True})
    world.apply()
    outputs = {}
    for name, (namespace, account) in {"shop": ("shop-ns", "shop-web"), "other account": ("shop-ns", "billing"),
                                       "other namespace": ("billing-ns", "shop-web")}.items():
        token = tmp_path / name.replace(" ", "-") / "token"
        token.parent.mkdir()
        token.write_text(service_account_token(namespace, account))
        auth = agent_auth(world.model, "shop", "kubernetes", jwt_file=str(token))
        config, rendered = agent_config(world, token.parent, auth, "shop")
        assert f'role       = "{world.prefix}-shop"' in config.read_text()
        done = run_agent(config, token.parent)
        assert done.returncode != 0 and not rendered.exists()
        outputs[name] = done.stdout + done.stderr
    assert "service account name not authorized" in outputs["other account"]
    assert "namespace not authorized" in outputs["other namespace"]
    # The pod's own account passes the role's bindings; only the cluster's TokenReview is left.
    assert f"auth/{world.mounts['kubernetes']}/login" in outputs["shop"]
    assert "not authorized" not in outputs["shop"] and "invalid role name" not in outputs["shop"]
    default = agent_hcl(AgentOptions(auth=agent_auth(world.model, "shop", "kubernetes")), ["x"]).decode()
    assert 'token_path = "/var/run/secrets/kubernetes.io/serviceaccount/token"' in default
