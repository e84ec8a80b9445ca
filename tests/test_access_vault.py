"""The access model on a real OpenBao: policies generated from a migration plan, planned and
applied all or none; an app's token reads its own secret and gets 403 on another app's; a
developer's token writes under its team's prefix and gets 403 on every read; applying twice
changes nothing; a policy vaultshift did not write, a missing auth mount and a failing write are
one line each, with nothing left half-applied."""

from __future__ import annotations

import uuid
from typing import Any

import hvac
import pytest
from access_plans import make_plan, occurrence, secret
from servers import BaoServer, make_value

from migrator.access.engine import apply_access, load_model, plan_access, policies_of
from migrator.access.model import AccessError, build_model
from migrator.access.settings import access_settings
from migrator.access.vault_apply import apply_changes, plan_changes, policy
from migrator.backends import make_backend
from migrator.backends.vault import VaultBackend
from migrator.config import ConfigError, parse_config
from migrator.plan.models import SecretRef


class Setup:
    """A unique prefix, KV paths and approle mount on the shared server, and the config for them."""

    def __init__(self, bao: BaoServer, monkeypatch: pytest.MonkeyPatch, access: dict[str, Any] | None = None) -> None:
        monkeypatch.setenv("VAULTSHIFT_TEST_TOKEN", bao.token)
        self.bao = bao
        self.run = uuid.uuid4().hex[:8]
        self.prefix = f"t{self.run}"
        self.approle = f"approle-{self.run}"
        bao.client().sys.enable_auth_method("approle", path=self.approle)
        section = {"prefix": self.prefix, "auth": {"approle": {"mount": self.approle}}, **(access or {})}
        self.config = parse_config({"backends": {"vault": bao.settings()}, "access": section}, "vaultshift.yml")
        backend = make_backend("vault", bao.settings())
        assert isinstance(backend, VaultBackend)
        self.backend = backend

    def path(self, name: str) -> str:
        return f"{self.run}/apps/{name}"

    def token(self, *policies: str) -> str:
        return str(self.bao.client().auth.token.create(policies=list(policies), ttl="10m")["auth"]["client_token"])

    def client(self, token: str) -> hvac.Client:
        return self.bao.client(token=token)


def test_apps_read_only_their_own_paths_and_developers_write_without_reading(
        bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = Setup(bao, monkeypatch)
    shop, billing = SecretRef("vault", setup.path("shop/db"), "password"), SecretRef("vault", setup.path("billing/db"),
                                                                                      "password")
    setup.config = parse_config({"backends": {"vault": bao.settings()}, "access": {
        "prefix": setup.prefix, "auth": {"approle": {"mount": setup.approle}},
        "teams": [{"name": "payments", "paths": [f"{setup.run}/apps/shop/"]}]}}, "vaultshift.yml")
    plan = make_plan(secret(shop, occurrence("shop/config.yml", "web01")),
                     secret(billing, occurrence("billing/app.ini", "web02")))
    values = {shop: make_value(), billing: make_value()}
    for ref, value in values.items():
        bao.client().secrets.kv.v2.create_or_update_secret(ref.path, secret={ref.field: value}, mount_point="secret")
    model = load_model(plan, setup.config)
    assert [(a.name, a.hosts) for a in model.apps] == [("billing", ("web02",)), ("shop", ("web01",))]

    planned = plan_access(model, setup.config, setup.backend)
    assert sorted((c.action, c.label) for c in planned.changes) == sorted([
        ("create", f"policy {setup.prefix}-app-billing"), ("create", f"policy {setup.prefix}-app-shop"),
        ("create", f"policy {setup.prefix}-team-payments"), ("create", f"policy {setup.prefix}-operators"),
        ("create", f"approle role {setup.approle}/{setup.prefix}-billing"),
        ("create", f"approle role {setup.approle}/{setup.prefix}-shop")])
    assert bao.client().sys.list_acl_policies()["data"]["keys"].count(f"{setup.prefix}-app-shop") == 0  # plan: none
    applied = apply_access(model, setup.config, setup.backend)
    assert len(applied.applied) == 6
    again = apply_access(model, setup.config, setup.backend)
    assert again.applied == [] and {c.action for c in again.changes} == {"unchanged"}

    app = setup.client(setup.token(model.app_policy("shop")))
    read = app.secrets.kv.v2.read_secret_version(shop.path, mount_point="secret", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"password": values[shop]}
    with pytest.raises(hvac.exceptions.Forbidden):
        app.secrets.kv.v2.read_secret_version(billing.path, mount_point="secret", raise_on_deleted_version=True)

    developer = setup.client(setup.token(model.team_policy("payments")))
    new_path = setup.path("shop/api")
    developer.secrets.kv.v2.create_or_update_secret(new_path, secret={"token": make_value()}, mount_point="secret")
    # An HTTP PATCH merges on the server (hvac's kv.v2.patch reads first, which the policy denies).
    developer.adapter.request("PATCH", f"/v1/secret/data/{shop.path}", json={"data": {"extra": "x"}},
                              headers={"Content-Type": "application/merge-patch+json"})
    for path in (new_path, shop.path):
        with pytest.raises(hvac.exceptions.Forbidden):
            developer.secrets.kv.v2.read_secret_version(path, mount_point="secret", raise_on_deleted_version=True)
    metadata = developer.secrets.kv.v2.read_secret_metadata(shop.path, mount_point="secret")
    assert metadata["data"]["current_version"] == 2  # versions and times: what a developer may see
    with pytest.raises(hvac.exceptions.Forbidden):  # another team's (or no team's) path
        developer.secrets.kv.v2.create_or_update_secret(billing.path, secret={"password": "x"}, mount_point="secret")

    operator = setup.client(setup.token(model.operators_policy))
    assert operator.secrets.kv.v2.read_secret_version(billing.path, mount_point="secret",
                                                      raise_on_deleted_version=True)["data"]["data"]["password"]
    operator.sys.create_or_update_policy(f"{setup.prefix}-app-extra", 'path "x" { capabilities = ["read"] }')
    with pytest.raises(hvac.exceptions.Forbidden):
        operator.sys.create_or_update_policy("someone-elses", 'path "x" { capabilities = ["read"] }')


def test_a_policy_vaultshift_did_not_write_and_a_missing_auth_mount_stop_everything(
        bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = Setup(bao, monkeypatch)
    plan = make_plan(secret(SecretRef("vault", setup.path("shop/db"), "password"), occurrence("shop/a.yml")))
    model = load_model(plan, setup.config)
    bao.client().sys.create_or_update_policy(f"{setup.prefix}-app-shop", 'path "x" { capabilities = ["read"] }')
    with pytest.raises(AccessError, match=rf"^policy {setup.prefix}-app-shop exists on the server and was not "
                                          r"written by vaultshift"):
        apply_access(model, setup.config, setup.backend)
    assert f"{setup.prefix}-operators" not in bao.client().sys.list_acl_policies()["data"]["keys"]

    missing = parse_config({"backends": {"vault": bao.settings()}, "access": {
        "prefix": setup.prefix + "m", "auth": {"approle": {"mount": f"nowhere-{setup.run}"}}}}, "vaultshift.yml")
    with pytest.raises(AccessError, match=rf"auth mount nowhere-{setup.run}/ is not enabled on vault"):
        apply_access(load_model(plan, missing), missing, setup.backend)
    assert not [p for p in bao.client().sys.list_acl_policies()["data"]["keys"] if p.startswith(setup.prefix + "m")]


def test_a_failing_write_undoes_the_changes_made_before_it(bao: BaoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = Setup(bao, monkeypatch)
    plan = make_plan(secret(SecretRef("vault", setup.path("shop/db"), "password"), occurrence("shop/a.yml")))
    model = load_model(plan, setup.config)
    apply_access(model, setup.config, setup.backend)
    before = bao.client().sys.read_policy(f"{setup.prefix}-app-shop")["data"]["rules"]
    changed = {**policies_of(model, setup.config)}
    changed[f"{setup.prefix}-app-shop"] += '\npath "secret/data/more" {\n  capabilities = ["read"]\n}\n'
    items = [policy(setup.backend, name, text) for name, text in sorted(changed.items())]
    items.append(policy(setup.backend, f"{setup.prefix}-new", "# managed by vaultshift access: x\n\nnot HCL {"))
    changes = plan_changes(items)
    assert [c.action for c in changes] == ["update", "unchanged", "create"]
    with pytest.raises(AccessError) as caught:
        apply_changes(changes)
    assert str(caught.value).startswith(f"policy {setup.prefix}-new: not applied:")
    assert str(caught.value).endswith("the 1 change(s) made before it were undone")
    assert bao.client().sys.read_policy(f"{setup.prefix}-app-shop")["data"]["rules"] == before


def test_two_apps_on_one_path_and_overlapping_teams_are_refused() -> None:
    ref = SecretRef("vault", "apps/common/smtp", "password")
    config = parse_config({"access": {"apps": [{"name": "web", "match": {"host": "web*"}},
                                               {"name": "mail", "match": {"host": "mail*"}}]}}, "vaultshift.yml")
    plan = make_plan(secret(ref, occurrence("a.yml", "web01"), occurrence("b.yml", "mail01")))
    with pytest.raises(AccessError, match=r"^apps/common/smtp \(vault\) is read by apps mail and web: give each app "
                                          r"its own credential, or list the path under access.shared$"):
        build_model(plan, access_settings(config))
    shared = parse_config({"access": {"shared": ["apps/common/smtp"], "apps": [
        {"name": "web", "match": {"host": "web*"}}, {"name": "mail", "match": {"host": "mail*"}}]}}, "vaultshift.yml")
    assert [a.name for a in build_model(plan, access_settings(shared)).apps] == ["mail", "web"]
    teams = parse_config({"access": {"teams": [{"name": "a", "paths": ["apps/"]},
                                               {"name": "b", "paths": ["apps/shop/"]}]}}, "vaultshift.yml")
    with pytest.raises(AccessError, match=r"^team a's path apps/ overlaps team b's apps/shop/ \(vault\)"):
        build_model(make_plan(), access_settings(teams))


@pytest.mark.parametrize(("section", "message"), [
    ({"apps": [{"name": "Shop!", "match": {}}]}, "access.apps entry 1: name 'Shop!' must be"),
    ({"teams": [{"name": "a", "paths": ["../x"]}]}, "access.teams entry 1 (a): paths must be a list"),
    ({"auth": {"ldap": {}}}, "access.auth: unknown method 'ldap'"),
    ({"vault": "nope"}, "access.vault: 'nope' is not a configured Vault/OpenBao backend"),
    ({"colour": 1}, "access: unknown key 'colour'"),
])
def test_bad_settings_are_one_line(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        access_settings(parse_config({"access": section}, "vaultshift.yml"))
    assert message in str(caught.value) and str(caught.value).startswith("vaultshift.yml: access")


def test_an_app_whose_secret_rotates_reads_the_database_engines_credentials_too() -> None:
    from migrator.access.model import Place

    ref = SecretRef("vault", "apps/shop/db", "password")
    config = parse_config({"backends": {"vault": {"type": "vault"}, "database": {"type": "vault-database",
                                                                                "mount": "db-engine"}}},
                          "vaultshift.yml")
    planned = secret(ref, occurrence("shop/a.yml"))
    model = build_model(make_plan(planned), access_settings(config),
                        rotated={planned.fingerprint: Place("database", "static-creds/shop-app")})
    text = policies_of(model, config)["vaultshift-app-shop"]
    assert 'path "secret/data/apps/shop/db" {\n  capabilities = ["read"]\n}' in text
    assert 'path "db-engine/static-creds/shop-app" {\n  capabilities = ["read"]\n}' in text
    operators = policies_of(model, config)["vaultshift-operators"]
    assert 'path "db-engine/*"' in operators and operators.count('path "db-engine/*"') == 1
