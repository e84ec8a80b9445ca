"""The access model's IAM policies for AWS Secrets Manager, against moto.

moto (5.2) enforces IAM in server mode (``INITIAL_NO_AUTH_ACTION_COUNT``) on actions only: for
Secrets Manager it checks every request against the resource ``*``, so a policy scoped to a
secret's ARN denies even that secret, a ``NAME-??????`` resource makes its matcher fail with
HTTP 500, and ``aws:ResourceTag`` conditions are not checked against the secret's tags. It cannot
prove that app A reads its secret and not B's, so these tests check the scoping itself: each
generated ARN pattern, matched the way IAM matches (``*`` any run, ``?`` one character), against
the ARNs moto gives real secrets (its account, region and 6-character suffix). Plus: no wildcard
action for apps, an explicit Deny of reads for teams, valid JSON under the 6,144-character limit
(moto's IAM validates every document it stores), plan/apply twice through IAM changing nothing
the second time, the five-version limit, a policy vaultshift did not write, and undo on failure.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from typing import Any

import pytest
from access_plans import make_plan, occurrence, secret
from servers import MotoServer, make_value

from migrator.access.aws_policies import (
    APP_ACTIONS,
    MAX_POLICY_SIZE,
    TAG_KEY,
    TEAM_ACTIONS,
    IamPolicies,
    aws_policies,
    iam_client_for,
    iam_managed,
    policy_size,
)
from migrator.access.model import AccessError, AccessModel, build_model
from migrator.access.settings import access_settings
from migrator.access.vault_apply import apply_changes, plan_changes
from migrator.backends import make_backend
from migrator.config import Config, ConfigError, parse_config
from migrator.plan.models import Plan, SecretRef

MOTO_ACCOUNT = "123456789012"


def iam_matches(pattern: str, arn: str) -> bool:
    """Whether IAM's ``Resource`` ``pattern`` matches ``arn`` (``*``: any run, ``?``: one character)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


def setup(access: dict[str, Any], aws: dict[str, Any], settings: dict[str, Any] | None = None,
          plan: Plan | None = None) -> tuple[Config, AccessModel]:
    """The config (``access.aws`` = ``aws``, beside the rest of ``access``) and the model of ``plan``."""
    backends = {"aws": settings or {"type": "aws", "region": "us-east-1"}, "vault": {"type": "vault"}}
    plain = parse_config({"backends": backends, "default_backend": "aws", "access": access}, "vaultshift.yml")
    model = build_model(plan or make_plan(), access_settings(plain))
    return dataclasses.replace(plain, extra={"access": {**access, "aws": aws}}), model


def statements(document: dict[str, Any], effect: str) -> list[dict[str, Any]]:
    return [s for s in document["Statement"] if s["Effect"] == effect]


class Moto:
    """A unique secret-name prefix on the shared moto server, a backend writing under it, and the
    ARNs moto gave the secrets written."""

    def __init__(self, moto: MotoServer) -> None:
        self.moto = moto
        self.run = uuid.uuid4().hex[:8]
        self.settings = moto.settings(prefix=f"vs{self.run}/")
        self.backend = make_backend("aws", self.settings)
        self.arns: dict[str, str] = {}

    def write(self, *paths: str) -> dict[str, str]:
        """Each path written (a fresh value) -> its real ARN; also remembered in ``arns``."""
        values = {}
        for path in paths:
            values[path] = "canary-" + make_value()
            self.backend.write(SecretRef("aws", path, "password"), values[path])
            name = self.settings["prefix"] + path
            self.arns[path] = str(self.moto.client().describe_secret(SecretId=name)["ARN"])
        return values

    def matched(self, patterns: list[str]) -> set[str]:
        return {path for path, arn in self.arns.items() if any(iam_matches(p, arn) for p in patterns)}


def test_each_app_reads_exactly_the_arns_of_its_own_secrets(moto: MotoServer, aws_env: dict[str, str],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    store = Moto(moto)
    shop_db, shop_api, billing = (SecretRef("aws", p, "password") for p in ("apps/shop/db", "apps/shop/api",
                                                                             "apps/billing/db"))
    plan = make_plan(secret(shop_db, occurrence("shop/config.yml", "web01")),
                     secret(shop_api, occurrence("shop/a.env")), secret(billing, occurrence("billing/app.ini")),
                     secret(SecretRef("vault", "apps/shop/ldap", "password"), occurrence("shop/ldap.yml")))
    config, model = setup({"prefix": f"t{store.run}"}, {"account": MOTO_ACCOUNT}, store.settings, plan)
    values = store.write("apps/shop/db", "apps/shop/api", "apps/billing/db",
                         "apps/shop/db-old", "apps/shop/dbx", "apps/shop/db/inner", "apps/shop/ldap")

    policies = aws_policies(model, config)
    assert sorted(policies) == [f"t{store.run}-app-billing", f"t{store.run}-app-shop", f"t{store.run}-operators"]
    shop, billing_policy = policies[f"t{store.run}-app-shop"], policies[f"t{store.run}-app-billing"]
    for document in (shop, billing_policy):
        assert document["Version"] == "2012-10-17"
        assert [s["Action"] for s in document["Statement"]] == [list(APP_ACTIONS)]  # no kms key: nothing else
        assert statements(document, "Deny") == []
    assert shop["Statement"][0]["Resource"] == [
        f"arn:aws:secretsmanager:us-east-1:{MOTO_ACCOUNT}:secret:vs{store.run}/apps/shop/api-??????",
        f"arn:aws:secretsmanager:us-east-1:{MOTO_ACCOUNT}:secret:vs{store.run}/apps/shop/db-??????"]
    # Matched against the ARNs moto gave: each app exactly its own; never a longer name, nor the
    # Vault path of the same name (apps/shop/ldap is the Vault policies' business).
    assert store.matched(shop["Statement"][0]["Resource"]) == {"apps/shop/db", "apps/shop/api"}
    assert store.matched(billing_policy["Statement"][0]["Resource"]) == {"apps/billing/db"}

    for name, document in policies.items():
        text = json.dumps(document)
        assert json.loads(text) == document, name
        assert policy_size(document) <= MAX_POLICY_SIZE
        assert not any(value in text for value in values.values())
    assert not any(value in capsys.readouterr().out for value in values.values())


def test_teams_write_without_reading_and_operators_manage_the_migrations_names(
        moto: MotoServer, aws_env: dict[str, str]) -> None:
    store = Moto(moto)
    access = {"prefix": f"t{store.run}", "teams": [{"name": "payments", "paths": ["apps/shop/", "apps/billing/db"]}]}
    config, model = setup(access, {"account": MOTO_ACCOUNT}, store.settings)
    store.write("apps/shop/new", "apps/shop/deep/er", "apps/billing/db", "apps/billing/dbx", "apps/shopping/x")
    other = Moto(moto)
    other.write("apps/shop/db")

    policies = aws_policies(model, config)
    team = policies[f"t{store.run}-team-payments"]
    [allow], [deny] = statements(team, "Allow"), statements(team, "Deny")
    assert allow["Action"] == list(TEAM_ACTIONS)
    assert not any("Get" in action or "*" in action for action in allow["Action"])
    assert deny["Action"] == ["secretsmanager:BatchGetSecretValue", "secretsmanager:GetSecretValue"]
    assert deny["Resource"] == allow["Resource"]  # the explicit Deny covers everything the team writes
    assert store.matched(allow["Resource"]) == {"apps/shop/new", "apps/shop/deep/er", "apps/billing/db"}
    assert other.matched(allow["Resource"]) == set()  # another migration's prefix

    operators = policies[f"t{store.run}-operators"]
    manage = operators["Statement"][0]
    assert (manage["Action"], manage["Resource"]) == (
        ["secretsmanager:*"], [f"arn:aws:secretsmanager:us-east-1:{MOTO_ACCOUNT}:secret:vs{store.run}/*"])
    assert store.matched(manage["Resource"]) == set(store.arns)
    assert other.matched(manage["Resource"]) == set()
    assert operators["Statement"][1]["Resource"] == "*"  # ListSecrets and the like take no resource
    assert "secretsmanager:GetSecretValue" not in operators["Statement"][1]["Action"]


def test_kms_permissions_only_for_a_named_key_and_only_through_secrets_manager() -> None:
    plan = make_plan(secret(SecretRef("aws", "apps/shop/db", "password"), occurrence("shop/a.yml")))
    access = {"prefix": "kms", "teams": [{"name": "payments", "paths": ["apps/shop/"]}]}
    settings = {"type": "aws", "region": "eu-west-1", "prefix": "prod/", "kms_key_id": "alias/secrets"}
    config, model = setup(access, {"account": "210987654321"}, settings, plan)
    policies = aws_policies(model, config)
    app_kms = policies["kms-app-shop"]["Statement"][1]
    assert app_kms == {"Sid": "DecryptThroughSecretsManager", "Effect": "Allow", "Action": ["kms:Decrypt"],
                       "Resource": ["arn:aws:kms:eu-west-1:210987654321:key/*"],
                       "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"},
                                     "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/secrets"}}}
    assert policies["kms-app-shop"]["Statement"][0]["Resource"] == [
        "arn:aws:secretsmanager:eu-west-1:210987654321:secret:prod/apps/shop/db-??????"]
    assert policies["kms-team-payments"]["Statement"][2]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]

    key = "arn:aws-cn:kms:cn-north-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    config, model = setup(access, {}, {**settings, "region": "cn-north-1", "kms_key_id": key}, plan)
    app = aws_policies(model, config)["kms-app-shop"]
    assert app["Statement"][0]["Resource"] == ["arn:aws-cn:secretsmanager:cn-north-1:*:secret:prod/apps/shop/db-??????"]
    assert (app["Statement"][1]["Resource"], app["Statement"][1]["Condition"]) == (
        [key], {"StringEquals": {"kms:ViaService": "secretsmanager.cn-north-1.amazonaws.com.cn"}})


def test_a_policy_too_large_a_bad_name_and_a_bad_account_are_one_line_each() -> None:
    big = make_plan(*(secret(SecretRef("aws", f"apps/big/{'credential-' * 8}{n:03d}", "password"),
                             occurrence(f"big/{n}.yml")) for n in range(60)))
    config, model = setup({"prefix": "size"}, {}, plan=big)
    with pytest.raises(AccessError, match=r"^IAM policy size-app-big: [\d,]+ characters, above the 6,144 of an IAM "
                                          r"managed policy: give its secrets fewer, shorter paths or a common prefix$"):
        aws_policies(model, config)

    odd = make_plan(secret(SecretRef("aws", "apps/shop/db name", "password"), occurrence("shop/a.yml")))
    config, model = setup({"prefix": "odd"}, {}, plan=odd)
    with pytest.raises(AccessError, match=r"^app shop: apps/shop/db name \(aws\) is not a Secrets Manager name"):
        aws_policies(model, config)

    config, model = setup({"prefix": "acct"}, {"account": 12345})
    with pytest.raises(ConfigError, match=r"^vaultshift.yml: access.aws.account: must be a 12-digit AWS account id"):
        aws_policies(model, config)
    config, model = setup({"prefix": "acct"}, {"acount": MOTO_ACCOUNT})
    with pytest.raises(ConfigError, match=r"^vaultshift.yml: access.aws: unknown key 'acount'"):
        aws_policies(model, config)


def iam_setup(moto: MotoServer, access: dict[str, Any], plan: Plan) -> tuple[Config, AccessModel, Any]:
    config, model = setup(access, {"iam_endpoint_url": moto.endpoint}, moto.settings(), plan)
    return config, model, iam_client_for(config)


def test_plan_and_apply_through_iam_twice_changes_nothing_the_second_time(moto: MotoServer,
                                                                           aws_env: dict[str, str]) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    shop = secret(SecretRef("aws", "apps/shop/db", "password"), occurrence("shop/a.yml"))
    access = {"prefix": prefix, "teams": [{"name": "payments", "paths": ["apps/shop/"]}]}
    config, model, iam = iam_setup(moto, access, make_plan(shop))
    names = [f"{prefix}-app-shop", f"{prefix}-operators", f"{prefix}-team-payments"]

    planned = plan_changes(iam_managed(model, config, iam))
    assert [(c.action, c.label) for c in planned] == [("create", f"IAM policy {n}") for n in names]
    assert not [p for p in _local_policies(iam) if p["PolicyName"].startswith(prefix)]  # planning wrote nothing
    assert len(apply_changes(planned)) == 3
    stored = {p["PolicyName"]: p for p in _local_policies(iam) if p["PolicyName"].startswith(prefix)}
    assert sorted(stored) == names
    wanted = aws_policies(model, config)
    for name, policy in stored.items():
        assert {"Key": TAG_KEY, "Value": "access"} in iam.list_policy_tags(PolicyArn=policy["Arn"])["Tags"]
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
        assert version["PolicyVersion"]["Document"] == wanted[name]  # as sent: moto's IAM validated it

    again = plan_changes(iam_managed(model, config, iam))
    assert {c.action for c in again} == {"unchanged"}
    assert apply_changes(again) == []
    assert all(len(iam.list_policy_versions(PolicyArn=p["Arn"])["Versions"]) == 1 for p in stored.values())

    more = make_plan(shop, secret(SecretRef("aws", "apps/shop/api", "password"), occurrence("shop/b.env")))
    config, model, iam = iam_setup(moto, access, more)
    changed = plan_changes(iam_managed(model, config, iam))
    assert [(c.action, c.managed.name) for c in changed if c.action != "unchanged"] == [("update", names[0])]
    assert "apps/shop/api-??????" in changed[0].diff()
    apply_changes(changed)
    arn = stored[names[0]]["Arn"]
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [("v1", False), ("v2", True)]
    assert IamPolicies(iam).read(names[0]) == aws_policies(model, config)[names[0]]


def _local_policies(iam: Any) -> list[dict[str, Any]]:
    return [p for page in iam.get_paginator("list_policies").paginate(Scope="Local") for p in page["Policies"]]


def _document(number: int) -> dict[str, Any]:
    resource = f"arn:aws:secretsmanager:*:*:secret:v{number}-??????"
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:DescribeSecret"],
                                                    "Resource": [resource]}]}


def test_a_sixth_version_replaces_the_oldest(moto: MotoServer, aws_env: dict[str, str]) -> None:
    name = f"t{uuid.uuid4().hex[:8]}-app-shop"
    _, _, iam = iam_setup(moto, {"prefix": "x"}, make_plan())
    account = IamPolicies(iam)
    for number in range(1, 8):
        apply_changes(plan_changes([account.managed(name, _document(number))]))
    arn = next(p["Arn"] for p in _local_policies(iam) if p["PolicyName"] == name)
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v3", "v4", "v5", "v6", "v7"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v7"]
    assert IamPolicies(iam).read(name) == _document(7)
    IamPolicies(iam).delete(name)
    assert IamPolicies(iam).read(name) is None


def test_a_policy_vaultshift_did_not_write_stops_everything(moto: MotoServer, aws_env: dict[str, str]) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    plan = make_plan(secret(SecretRef("aws", "apps/shop/db", "password"), occurrence("shop/a.yml")))
    config, model, iam = iam_setup(moto, {"prefix": prefix}, plan)
    arns = [iam.create_policy(PolicyName=foreign, PolicyDocument=json.dumps(_document(0)))["Policy"]["Arn"]
            for foreign in (f"{prefix}-app-shop", f"{prefix.upper()}-OPERATORS")]  # IAM names ignore case
    with pytest.raises(AccessError) as caught:
        apply_changes(plan_changes(iam_managed(model, config, iam)))
    assert str(caught.value) == (f"IAM policy {prefix}-app-shop exists on the server and was not written by "
                                 "vaultshift; rename it, or set access.prefix so vaultshift's names differ")
    iam.delete_policy(PolicyArn=arns[0])
    with pytest.raises(AccessError, match=rf"^IAM policy {prefix}-operators exists on the server and was not written"):
        apply_changes(plan_changes(iam_managed(model, config, iam)))
    stored = {p["PolicyName"]: p for p in _local_policies(iam) if p["PolicyName"].lower().startswith(prefix)}
    assert list(stored) == [f"{prefix.upper()}-OPERATORS"]  # nothing added
    assert stored[f"{prefix.upper()}-OPERATORS"]["DefaultVersionId"] == "v1"  # nothing changed


def test_a_failing_write_undoes_what_was_created_and_updated_before_it(moto: MotoServer,
                                                                       aws_env: dict[str, str]) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    _, _, iam = iam_setup(moto, {"prefix": "x"}, make_plan())
    account = IamPolicies(iam)
    apply_changes(plan_changes([account.managed(f"{prefix}-a", _document(1))]))
    invalid = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:Get"]}]}
    account = IamPolicies(iam)
    changes = plan_changes([account.managed(f"{prefix}-a", _document(2)), account.managed(f"{prefix}-b", _document(3)),
                            account.managed(f"{prefix}-c", invalid)])
    assert [c.action for c in changes] == ["update", "create", "create"]
    with pytest.raises(AccessError, match=rf"^IAM policy {prefix}-c: not applied: IAM policy {prefix}-c: create: "
                                          r"MalformedPolicyDocument: .*; "
                                          r"the 2 change\(s\) made before it were undone$"):
        apply_changes(changes)
    after = IamPolicies(iam)
    assert (after.read(f"{prefix}-a"), after.read(f"{prefix}-b"), after.read(f"{prefix}-c")) == (_document(1), None,
                                                                                                  None)
