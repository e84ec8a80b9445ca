"""Vault/OpenBao auth methods against a real ``bao server -dev`` (tests/servers.py): AppRole with a
response-wrapped secret id, userpass, jwt and kubernetes, each enabled on the server at a mount of
the test's own, logged in through a VaultBackend, logged in again after its token was revoked;
credentials given as values by a programmatic caller (:func:`auth_from_options`) and refused in
configuration files; and no credential (token, secret id, wrapping token, JWT, password) in any
repr, message or log."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from servers import BaoServer, make_value

from migrator.backends import AuthError, Backend, make_backend
from migrator.backends.vault import VaultBackend
from migrator.backends.vault_auth import (
    AUTH_METHODS,
    KUBERNETES_JWT_FILE,
    AppRoleAuth,
    CredentialError,
    JwtAuth,
    KubernetesAuth,
    MissingCredential,
    TokenAuth,
    UserpassAuth,
    VaultAuth,
    auth_from_options,
)
from migrator.config import ConfigError
from migrator.plan.models import SecretRef

# ---- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def prefix() -> str:
    """A name of this test's own on the shared server (KV prefix, policy, auth mounts)."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG (hvac, urllib3, migrator): the tests check no credential reaches them."""
    caplog.set_level(logging.DEBUG)
    return caplog


def grant(bao: BaoServer, prefix: str) -> str:
    """A policy (named ``prefix``) to write and read below ``secret/data/<prefix>/``."""
    bao.client().sys.create_or_update_policy(prefix, f'path "secret/data/{prefix}/*" {{ capabilities = '
                                                     '["create", "read", "update"] }\n'
                                                     f'path "secret/metadata/{prefix}/*" {{ capabilities = '
                                                     '["patch"] }')
    return prefix


def write(client: Any, path: str, **data: Any) -> None:
    """``data`` to ``path`` of the API (configuring an auth method), as root."""
    client.write_data(path, data=data)


def vault(bao: BaoServer, prefix: str, auth: dict[str, Any]) -> VaultBackend:
    backend = make_backend("vault", bao.settings(prefix=prefix, auth=auth))
    assert isinstance(backend, VaultBackend)
    return backend


def round_trip(backend: Backend, path: str = "apps/auth") -> str:
    """Write a field and read it back: the login worked and the policy applies."""
    value = "v-" + make_value()
    backend.write(SecretRef("vault", path, "password"), value)
    assert backend.read(SecretRef("vault", path, "password")) == value
    return value


def logs_in_again_after_revocation(bao: BaoServer, backend: VaultBackend) -> None:
    """Revoke the token the backend got (as an expiry would): its next call logs in once more."""
    assert backend._client is not None
    first = backend._client.token
    bao.client().auth.token.revoke(first)
    round_trip(backend, "apps/again")
    assert backend._client is not None and backend._client.token not in (None, first)


def assert_value_free(exc: BaseException, *values: str) -> None:
    text = " ".join([str(exc), repr(exc), *map(str, exc.args)])
    assert "\n" not in str(exc)
    for value in values:
        assert value not in text


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Signer:
    """An EC P-256 key that signs JWTs (ES256), as an identity provider would; PyJWT is not needed."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, claims: dict[str, Any]) -> str:
        signing_input = (b64url(json.dumps({"alg": "ES256", "typ": "JWT"}).encode()) + "."
                         + b64url(json.dumps(claims).encode()))
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def self_signed_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# ---- AppRole with a response-wrapped secret id ---------------------------------------------------------


@pytest.fixture
def approle(bao: BaoServer, prefix: str) -> tuple[str, str]:
    """An AppRole role at a mount of this test's own: (mount, role_id)."""
    root = bao.client()
    mount = f"approle-{prefix}"
    root.sys.enable_auth_method("approle", path=mount)
    root.auth.approle.create_or_update_approle("migrator", token_policies=[grant(bao, prefix)], mount_point=mount)
    return mount, root.auth.approle.read_role_id("migrator", mount_point=mount)["data"]["role_id"]


def wrapped_secret_id(bao: BaoServer, mount: str, ttl: str = "60s") -> str:
    response = bao.client().auth.approle.generate_secret_id("migrator", mount_point=mount, wrap_ttl=ttl)
    token: str = response["wrap_info"]["token"]
    assert response.get("data") is None  # the secret id itself only travels inside the wrapping
    return token


def test_a_wrapped_secret_id_is_unwrapped_once_and_remembered(bao: BaoServer, prefix: str, approle: tuple[str, str],
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             logs: pytest.LogCaptureFixture):
    mount, role_id = approle
    wrapping = wrapped_secret_id(bao, mount)
    monkeypatch.setenv("TEST_WRAPPED_SECRET_ID", wrapping)
    auth = {"method": "approle", "role_id": role_id, "wrapped_secret_id_env": "TEST_WRAPPED_SECRET_ID",
            "mount": mount}
    backend = vault(bao, prefix, auth)
    round_trip(backend)
    assert backend._client is not None
    token = backend._client.token
    # The wrapping token is spent: the secret id it held lives on in the auth object only, so
    # that a login after the token expired (here: was revoked) still works.
    logs_in_again_after_revocation(bao, backend)
    assert isinstance(backend.auth, AppRoleAuth)
    assert repr(backend.auth) == f"<AppRoleAuth mount={mount} <wrapped AppRole secret id from $TEST_WRAPPED_SECRET_ID>>"

    # Another backend with the same wrapping token: it unwraps only once.
    with pytest.raises(AuthError) as caught:
        vault(bao, prefix, auth).read(SecretRef("vault", "apps/auth", "password"))
    assert str(caught.value) == ("vault: read apps/auth: the wrapped secret_id ($TEST_WRAPPED_SECRET_ID) was "
                                 "already unwrapped or has expired: ask for a new one")
    # A wrapping token the server never issued reads the same.
    monkeypatch.setenv("TEST_WRAPPED_SECRET_ID", "s." + make_value(24))
    with pytest.raises(AuthError, match=r"was already unwrapped or has expired: ask for a new one$") as unknown:
        vault(bao, prefix, auth).read(SecretRef("vault", "apps/auth", "password"))
    monkeypatch.delenv("TEST_WRAPPED_SECRET_ID")
    with pytest.raises(AuthError, match=r"^vault: read apps/auth: no wrapped AppRole secret id: "
                                        r"set \$TEST_WRAPPED_SECRET_ID$") as missing:
        vault(bao, prefix, auth).read(SecretRef("vault", "apps/auth", "password"))
    secret_id = backend.auth._unwrapped.value if backend.auth._unwrapped else ""
    assert secret_id and repr(backend.auth._unwrapped) == "<hidden>"
    for error in (caught.value, unknown.value, missing.value):
        assert_value_free(error, wrapping, secret_id, token)
    assert wrapping not in repr(backend.auth) and secret_id not in repr(backend.auth)
    assert wrapping not in logs.text and secret_id not in logs.text and token not in logs.text


def test_a_wrapped_secret_id_given_as_a_value(bao: BaoServer, prefix: str, approle: tuple[str, str],
                                              logs: pytest.LogCaptureFixture):
    """The Ansible lookup plugin's way: the wrapping token is an option's value."""
    mount, role_id = approle
    wrapping = wrapped_secret_id(bao, mount)
    auth = auth_from_options("vault", {"auth_method": "approle", "role_id": role_id, "wrapped_secret_id": wrapping,
                                       "mount_point": mount})
    backend = VaultBackend("vault", addr=bao.addr, auth=auth, prefix=prefix, timeout=2)
    round_trip(backend)
    logs_in_again_after_revocation(bao, backend)
    again = VaultBackend("vault", addr=bao.addr, prefix=prefix, timeout=2, auth=auth_from_options(
        "vault", {"method": "approle", "role_id": role_id, "wrapped_secret_id": wrapping, "mount": mount}))
    with pytest.raises(AuthError) as caught:
        again.read(SecretRef("vault", "apps/auth", "password"))
    assert str(caught.value) == ("vault: read apps/auth: the wrapped secret_id (the value given) was already "
                                 "unwrapped or has expired: ask for a new one")
    assert_value_free(caught.value, wrapping)
    assert wrapping not in repr(auth) and wrapping not in repr(backend) and wrapping not in logs.text


def test_clones_share_one_unwrap(bao: BaoServer, prefix: str, approle: tuple[str, str],
                                 monkeypatch: pytest.MonkeyPatch):
    """Clones (one per thread) share the auth object: the first login unwraps, the others reuse it."""
    mount, role_id = approle
    monkeypatch.setenv("TEST_WRAPPED_SECRET_ID", wrapped_secret_id(bao, mount))
    backend = vault(bao, prefix, {"method": "approle", "role_id": role_id, "mount": mount,
                                  "wrapped_secret_id_env": "TEST_WRAPPED_SECRET_ID"})
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            round_trip(backend.clone(), f"apps/clone{n}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors


# ---- userpass ----------------------------------------------------------------------------------------


def test_userpass_login(bao: BaoServer, prefix: str, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture):
    root = bao.client()
    mount = f"userpass-{prefix}"
    root.sys.enable_auth_method("userpass", path=mount)
    password = "pw " + make_value(24) + " "  # spaces are part of a password
    root.auth.userpass.create_or_update_user("migrator", password, policies=[grant(bao, prefix)], mount_point=mount)
    monkeypatch.setenv("TEST_PASSWORD", password)
    auth = {"method": "userpass", "username": "migrator", "password_env": "TEST_PASSWORD", "mount": mount}
    backend = vault(bao, prefix, auth)
    round_trip(backend)
    logs_in_again_after_revocation(bao, backend)
    assert repr(backend.auth) == (f"<UserpassAuth mount={mount} username=migrator "
                                  "<userpass password from $TEST_PASSWORD>>")

    monkeypatch.setenv("TEST_USER", "migrator")
    by_env = vault(bao, prefix, {"method": "userpass", "username_env": "TEST_USER", "password_env": "TEST_PASSWORD",
                                 "mount": mount})
    round_trip(by_env)

    monkeypatch.setenv("TEST_PASSWORD", "wrong-" + make_value())
    with pytest.raises(AuthError, match=r"^vault: read apps/auth: login refused: invalid username or password") as bad:
        vault(bao, prefix, auth).read(SecretRef("vault", "apps/auth", "password"))
    monkeypatch.delenv("TEST_PASSWORD")
    with pytest.raises(AuthError, match=r"^vault: read apps/auth: no userpass password: set \$TEST_PASSWORD$") as none:
        vault(bao, prefix, auth).read(SecretRef("vault", "apps/auth", "password"))
    for error in (bad.value, none.value):
        assert_value_free(error, password, password.strip())
    assert password.strip() not in logs.text


# ---- jwt ---------------------------------------------------------------------------------------------


@pytest.fixture
def jwt_mount(bao: BaoServer, prefix: str) -> tuple[str, Signer]:
    """The jwt auth method at a mount of this test's own, trusting a key made here; role ``ci``
    (also the default role) for tokens with audience ``vaultshift``."""
    root = bao.client()
    mount = f"jwt-{prefix}"
    signer = Signer()
    root.sys.enable_auth_method("jwt", path=mount)
    write(root, f"auth/{mount}/config", jwt_validation_pubkeys=[signer.public_pem], default_role="ci")
    write(root, f"auth/{mount}/role/ci", role_type="jwt", bound_audiences=["vaultshift"], user_claim="sub",
               token_policies=[grant(bao, prefix)], token_ttl="10m")
    return mount, signer


def ci_claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "https://ci.example.org", "sub": "project:shop:job:42", "aud": "vaultshift", "iat": now,
            "nbf": now - 5, "exp": now + 600, **extra}


def test_jwt_login_from_a_file_and_from_the_environment(bao: BaoServer, prefix: str, jwt_mount: tuple[str, Signer],
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        logs: pytest.LogCaptureFixture):
    mount, signer = jwt_mount
    token_file = tmp_path / "ci.jwt"
    first = signer.sign(ci_claims())
    token_file.write_text(first + "\n")
    from_file = vault(bao, prefix, {"method": "jwt", "role": "ci", "jwt_file": str(token_file), "mount": mount})
    round_trip(from_file)
    second = signer.sign(ci_claims(jti="2"))
    token_file.write_text(second)  # rotated, as a CI runner or a projected token does: read at each login
    logs_in_again_after_revocation(bao, from_file)
    assert repr(from_file.auth) == f"<JwtAuth mount={mount} <JWT from {token_file}>>"

    third = signer.sign(ci_claims(jti="3"))
    monkeypatch.setenv("TEST_JWT", third)
    from_env = vault(bao, prefix, {"method": "jwt", "jwt_env": "TEST_JWT", "mount": mount})  # the default role
    round_trip(from_env)
    logs_in_again_after_revocation(bao, from_env)

    other = Signer().sign(ci_claims())  # signed by a key the mount does not trust
    monkeypatch.setenv("TEST_JWT", other)
    with pytest.raises(AuthError, match=r"^vault: read apps/auth: login refused: error validating token") as bad:
        vault(bao, prefix, {"method": "jwt", "jwt_env": "TEST_JWT", "mount": mount}).read(
            SecretRef("vault", "apps/auth", "password"))
    wrong_audience = signer.sign(ci_claims(aud="someone-else"))
    monkeypatch.setenv("TEST_JWT", wrong_audience)
    with pytest.raises(AuthError, match=r"login refused: .*audience") as audience:
        vault(bao, prefix, {"method": "jwt", "jwt_env": "TEST_JWT", "mount": mount}).read(
            SecretRef("vault", "apps/auth", "password"))
    token_file.unlink()
    with pytest.raises(AuthError, match=rf"^vault: read apps/auth: no JWT: cannot read {token_file} "
                                        r"\(No such file or directory\)$") as missing:
        vault(bao, prefix, {"method": "jwt", "jwt_file": str(token_file), "mount": mount}).read(
            SecretRef("vault", "apps/auth", "password"))
    token_file.write_text("\n")
    with pytest.raises(AuthError, match=rf"no JWT: {token_file} is empty$"):
        vault(bao, prefix, {"method": "jwt", "jwt_file": str(token_file), "mount": mount}).read(
            SecretRef("vault", "apps/auth", "password"))
    jwts = (first, second, third, other, wrong_audience)
    for error in (bad.value, audience.value, missing.value):
        assert_value_free(error, *jwts)
    assert not any(jwt in logs.text for jwt in jwts)


# ---- kubernetes --------------------------------------------------------------------------------------


@dataclass
class TokenReviewAPI:
    """A stand-in for the Kubernetes API's TokenReview endpoint: Kubernetes cannot run here.

    ``POST /apis/authentication.k8s.io/v1/tokenreviews`` answers as the API server does (201, a
    TokenReview whose status says whether the token is one it issued, and for whom); the tokens
    are service account JWTs :meth:`issue` signed. ``reviews`` counts the requests."""

    url: str
    signer: Signer
    issued: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # jwt -> namespace, name, uid
    reviews: int = 0

    def issue(self, namespace: str, name: str) -> str:
        uid = str(uuid.uuid4())
        jwt = self.signer.sign({
            "iss": "kubernetes/serviceaccount", "sub": f"system:serviceaccount:{namespace}:{name}",
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/secret.name": f"{name}-token",
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid": uid})
        self.issued[jwt] = (namespace, name, uid)
        return jwt

    def review(self, request: dict[str, Any]) -> dict[str, Any]:
        self.reviews += 1
        spec = request.get("spec") or {}
        owner = self.issued.get(str(spec.get("token") or ""))
        status: dict[str, Any] = {"authenticated": False, "error": "invalid bearer token"}
        if owner is not None:
            namespace, name, uid = owner
            status = {"authenticated": True, "audiences": spec.get("audiences") or [],
                      "user": {"username": f"system:serviceaccount:{namespace}:{name}", "uid": uid,
                               "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]}}
        return {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}


@pytest.fixture
def token_review() -> Iterator[TokenReviewAPI]:
    api: TokenReviewAPI

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/apis/authentication.k8s.io/v1/tokenreviews" or not self.headers.get("Authorization"):
                self.send_error(404 if self.headers.get("Authorization") else 401)
                return
            answer = json.dumps(api.review(json.loads(body))).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api = TokenReviewAPI(f"http://127.0.0.1:{server.server_address[1]}", Signer())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_kubernetes_login_with_a_service_account_token(bao: BaoServer, prefix: str, token_review: TokenReviewAPI,
                                                       tmp_path: Path, logs: pytest.LogCaptureFixture):
    """The kubernetes auth method checks the service account token with the cluster's TokenReview
    API; Kubernetes cannot run here, so a stand-in (:class:`TokenReviewAPI`, plain http) answers
    it. OpenBao wants a CA certificate with ``disable_local_ca_jwt`` even for an http host: a
    self-signed one is given, unused."""
    root = bao.client()
    mount = f"k8s-{prefix}"
    root.sys.enable_auth_method("kubernetes", path=mount)
    write(root, f"auth/{mount}/config", kubernetes_host=token_review.url, disable_local_ca_jwt=True,
               kubernetes_ca_cert=self_signed_pem())
    write(root, f"auth/{mount}/role/migrator", bound_service_account_names=["vaultshift"],
               bound_service_account_namespaces=["migration"], token_policies=[grant(bao, prefix)], token_ttl="10m")
    jwt = token_review.issue("migration", "vaultshift")
    token_file = tmp_path / "token"
    token_file.write_text(jwt)
    backend = vault(bao, prefix, {"method": "kubernetes", "role": "migrator", "jwt_file": str(token_file),
                                  "mount": mount})
    round_trip(backend)
    assert token_review.reviews == 1
    logs_in_again_after_revocation(bao, backend)
    assert token_review.reviews == 2
    assert repr(backend.auth) == f"<KubernetesAuth mount={mount} <Kubernetes service account token from {token_file}>>"

    other = token_review.issue("migration", "someone-else")  # valid, but not bound to the role
    token_file.write_text(other)
    with pytest.raises(AuthError, match=r"^vault: read apps/auth: login refused: .*service account name not "
                                        r"authorized") as unbound:
        backend.clone().read(SecretRef("vault", "apps/auth", "password"))
    forged = Signer().sign({"sub": "system:serviceaccount:migration:vaultshift",
                            "kubernetes.io/serviceaccount/namespace": "migration",
                            "kubernetes.io/serviceaccount/service-account.name": "vaultshift",
                            "kubernetes.io/serviceaccount/service-account.uid": str(uuid.uuid4())})
    token_file.write_text(forged)  # the right claims, but the cluster never issued it
    with pytest.raises(AuthError, match=r"^vault: read apps/auth: login refused") as unknown:
        backend.clone().read(SecretRef("vault", "apps/auth", "password"))
    for error in (unbound.value, unknown.value):
        assert_value_free(error, jwt, other, forged)
    assert not any(value in logs.text for value in (jwt, other, forged))


def test_kubernetes_defaults(monkeypatch: pytest.MonkeyPatch):
    backend = make_backend("vault", {"auth": {"method": "kubernetes", "role": "migrator"}})
    assert isinstance(backend, VaultBackend) and isinstance(backend.auth, KubernetesAuth)
    assert (backend.auth.role, backend.auth.mount, backend.auth.jwt.file) == ("migrator", "kubernetes",
                                                                              KUBERNETES_JWT_FILE)
    monkeypatch.setenv("TEST_K8S_JWT", "x")
    backend = make_backend("vault", {"auth": {"method": "kubernetes", "role": "r", "jwt_env": "TEST_K8S_JWT",
                                              "mount": "/k8s/prod/"}})
    assert isinstance(backend, VaultBackend) and isinstance(backend.auth, KubernetesAuth)
    assert (backend.auth.jwt.env, backend.auth.jwt.file, backend.auth.mount) == ("TEST_K8S_JWT", None, "k8s/prod")


# ---- literal credentials: auth_from_options, refused in files --------------------------------------------


def test_credentials_given_as_values_log_in(bao: BaoServer, prefix: str, approle: tuple[str, str],
                                            jwt_mount: tuple[str, Signer], logs: pytest.LogCaptureFixture):
    """Each method with its credential as a value, as the Ansible lookup plugin passes them."""
    root = bao.client()
    mount, role_id = approle
    secret_id = root.auth.approle.generate_secret_id("migrator", mount_point=mount)["data"]["secret_id"]
    token = root.auth.token.create(policies=[prefix], ttl="10m")["auth"]["client_token"]
    user_mount = f"userpass-{prefix}"
    root.sys.enable_auth_method("userpass", path=user_mount)
    password = make_value(30)
    root.auth.userpass.create_or_update_user("ansible", password, policies=[prefix], mount_point=user_mount)
    jwt_at, signer = jwt_mount
    jwt = signer.sign(ci_claims())
    canaries = (secret_id, token, password, jwt)
    options = [
        {"token": token},  # method token by default
        {"method": "approle", "role_id": role_id, "secret_id": secret_id, "mount": mount},
        {"auth_method": "userpass", "username": "ansible", "password": password, "mount_point": user_mount},
        {"method": "jwt", "role_id": "ci", "jwt": jwt, "mount": jwt_at, "token": None, "password": None},
    ]
    for given in options:
        auth = auth_from_options("vault", given)
        backend = VaultBackend("vault", addr=bao.addr, auth=auth, prefix=prefix, timeout=2)
        round_trip(backend)
        text = repr(auth) + str(auth) + repr(backend)
        assert "the value given" in text and not any(canary in text for canary in canaries)
        assert not any(canary in repr(vars(auth)) for canary in canaries)
    assert not any(canary in logs.text for canary in canaries)


def test_no_credential_value_in_any_repr_or_message(tmp_path: Path):
    """Canaries as every kind of credential, given as values: not in a repr, nor in any error
    (bad options, missing credentials); a config file that holds one is refused without it."""
    canaries = {key: f"canary-{key}-{make_value(20)}" for key in
                ("token", "secret_id", "wrapped_secret_id", "jwt", "password")}
    built: list[VaultAuth] = [
        auth_from_options("b", {"method": "token", "token": canaries["token"]}),
        auth_from_options("b", {"method": "approle", "role_id": "r", "secret_id": canaries["secret_id"]}),
        auth_from_options("b", {"method": "approle", "role_id": "r",
                                "wrapped_secret_id": canaries["wrapped_secret_id"]}),
        auth_from_options("b", {"method": "jwt", "jwt": canaries["jwt"]}),
        auth_from_options("b", {"method": "kubernetes", "role": "r", "jwt": canaries["jwt"]}),
        auth_from_options("b", {"method": "userpass", "username": "u", "password": canaries["password"]}),
    ]
    for auth in built:
        shown = repr(auth) + str(auth) + repr(vars(auth)) + repr(auth.credentials())
        assert not any(canary in shown for canary in canaries.values()), shown
        assert auth.values() and set(auth.values()) <= set(canaries.values())  # for scrubbing server messages
    errors: list[BaseException] = []
    for options in (
        {"method": "token", "token": canaries["token"], "token_env": "X"},                 # two sources
        {"method": "token", "secret_id": canaries["secret_id"]},                           # not this method's
        {"method": "approle", "role_id": "r", "secret_id": canaries["secret_id"],
         "wrapped_secret_id": canaries["wrapped_secret_id"]},
        {"method": "jwt", "jwt": canaries["jwt"], "jwt_file": "/x"},
        {"method": "userpass", "password": canaries["password"]},                          # no username
        {"method": "userpass", "username": "u", "password": {"nested": canaries["password"]}},
        {"method": canaries["password"][:6] + "x", "password": canaries["password"]},
        {"method": "token", "token": canaries["token"], "bogus": canaries["token"]},
    ):
        with pytest.raises(ConfigError) as caught:
            auth_from_options("b", options)
        errors.append(caught.value)
    for literal in canaries:
        with pytest.raises(ConfigError, match=rf"^backend 'b': auth.{literal}: never put credentials in the file"
                           ) as refused:
            method = {"token": "token", "secret_id": "approle", "wrapped_secret_id": "approle", "jwt": "jwt",
                      "password": "userpass"}[literal]
            make_backend("b", {"auth": {"method": method, "role_id": "r", literal: canaries[literal]}})
        errors.append(refused.value)
    empty = auth_from_options("b", {"method": "userpass", "username": "u", "password": " "})
    with pytest.raises(MissingCredential, match=r"^no userpass password: the value given is empty$") as blank:
        empty.authenticate(None)
    errors.append(blank.value)
    for error in errors:
        assert_value_free(error, *canaries.values())


@pytest.mark.parametrize(("auth", "message"), [
    ({"method": "ldap"}, "auth.method: unknown method 'ldap' (use one of approle, jwt, kubernetes, token, "
                         "userpass)"),
    ({"method": "kubernetes"}, "auth.role: kubernetes needs role (the role bound to the service account)"),
    ({"method": "kubernetes", "role": "r", "jwt_file": "/t", "jwt_env": "T"}, "auth.jwt_file: give one of jwt_env "
                                                                              "or jwt_file, not both"),
    ({"method": "jwt", "role": "r"}, "auth.jwt_file: jwt needs jwt_file or jwt_env"),
    ({"method": "userpass", "password_env": "P"}, "auth.username: userpass needs username (or username_env)"),
    ({"method": "userpass", "username": "u"}, "auth.password_env: userpass needs password_env"),
    ({"method": "userpass", "username": "u", "password_env": "P", "mount": "/"}, "auth.mount: must name an auth mount"),
    ({"method": "approle", "role_id": "r", "secret_id_env": "S", "wrapped_secret_id_env": "W"},
     "auth.wrapped_secret_id_env: give one of secret_id_env or wrapped_secret_id_env, not both"),
    ({"method": "jwt", "jwt_env": "T", "password_env": "P"}, "auth.password_env: unknown setting (known: jwt_env, "
                                                            "jwt_file, mount, role)"),
])
def test_bad_auth_settings_are_one_line_config_errors(auth: dict[str, Any], message: str):
    with pytest.raises(ConfigError) as caught:
        make_backend("b", {"auth": auth})
    assert str(caught.value) == f"backend 'b': {message}"


def test_auth_from_options_names_and_aliases():
    auth = auth_from_options("b", {"auth_method": "jwt", "role_id": "ci", "jwt_file": "/run/ci.jwt",
                                   "mount_point": "gitlab", "token": None})
    assert isinstance(auth, JwtAuth) and (auth.role, auth.mount, auth.jwt.file) == ("ci", "gitlab", "/run/ci.jwt")
    assert isinstance(auth_from_options("b", {}), TokenAuth)
    approle = auth_from_options("b", {"method": "approle", "role_id": "r", "secret_id_env": "S"})
    assert isinstance(approle, AppRoleAuth) and (approle.role_id, approle.secret_id_env) == ("r", "S")
    userpass = auth_from_options("b", {"method": "userpass", "username": "u", "password_env": "P"})
    assert isinstance(userpass, UserpassAuth) and userpass.mount == "userpass"
    for options, message in (({"method": "jwt", "mount": "a", "mount_point": "b", "jwt_env": "J"},
                              "backend 'b': auth.mount_point: give mount or mount_point, not both"),
                             ({"method": "jwt", "role": "a", "role_id": "b", "jwt_env": "J"},
                              "backend 'b': auth.role_id: give role or role_id, not both"),
                             ({"method": 3}, "backend 'b': auth.method: unknown method 3")):
        with pytest.raises(ConfigError) as caught:
            auth_from_options("b", options)
        assert str(caught.value).startswith(message)
    assert set(AUTH_METHODS) == {"token", "approle", "kubernetes", "jwt", "userpass"}
    assert all(issubclass(cls, VaultAuth) and name == cls.NAME for name, cls in AUTH_METHODS.items())


def test_missing_credentials_name_where_they_were_expected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("TEST_NONE_JWT", "TEST_NONE_PW", "TEST_NONE_USER", "TEST_NONE_SID"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "empty").write_text("  \n")
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00")
    cases: list[tuple[VaultAuth, str]] = [
        (auth_from_options("b", {"method": "jwt", "jwt_env": "TEST_NONE_JWT"}), "no JWT: set $TEST_NONE_JWT"),
        (auth_from_options("b", {"method": "kubernetes", "role": "r", "jwt_file": str(tmp_path / "nothing")}),
         f"no Kubernetes service account token: cannot read {tmp_path / 'nothing'} (No such file or directory)"),
        (auth_from_options("b", {"method": "jwt", "jwt_file": str(tmp_path / "empty")}),
         f"no JWT: {tmp_path / 'empty'} is empty"),
        (auth_from_options("b", {"method": "jwt", "jwt_file": str(tmp_path / "binary")}),
         f"no JWT: {tmp_path / 'binary'} is not text"),
        (auth_from_options("b", {"method": "jwt", "jwt_file": str(tmp_path)}),
         f"no JWT: cannot read {tmp_path} (Is a directory)"),
        (auth_from_options("b", {"method": "userpass", "username": "u", "password_env": "TEST_NONE_PW"}),
         "no userpass password: set $TEST_NONE_PW"),
        (auth_from_options("b", {"method": "userpass", "username_env": "TEST_NONE_USER", "password": "p"}),
         "no userpass username: set $TEST_NONE_USER"),
        (auth_from_options("b", {"method": "approle", "role_id": "r", "secret_id_env": "TEST_NONE_SID"}),
         "no AppRole secret id: set $TEST_NONE_SID"),
        (auth_from_options("b", {"method": "approle", "role_id": "r", "wrapped_secret_id": ""}),
         "no wrapped AppRole secret id: the value given is empty"),
    ]
    for auth, message in cases:
        with pytest.raises(CredentialError) as caught:
            auth.authenticate(None)  # the credential is read before anything is sent
        assert str(caught.value) == message
