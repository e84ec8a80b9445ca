"""IAM policies for AWS Secrets Manager from the access model, and the customer-managed policies
of an AWS account that ``vaultshift access plan|apply`` keeps in step with them.

A vaultshift path ``apps/shop/db`` on an ``aws`` backend is the secret named ``PREFIX apps/shop/db``
(the backend's ``prefix`` then the path, :mod:`migrator.backends.aws`), whose ARN is
``arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX``: AWS adds six random characters.

- ``PREFIX-app-NAME``: ``GetSecretValue`` and ``DescribeSecret`` on exactly the app's secrets,
  each as ``...:secret:NAME-??????`` (``?`` is one character, so only the secret named NAME
  matches: not ``NAME-old``, not ``NAMEx``); ``kms:Decrypt`` through Secrets Manager only when
  the backend names a ``kms_key_id`` (the default ``aws/secretsmanager`` key needs none).
- ``PREFIX-team-NAME``: write-only on the team's name prefixes (``...:secret:PREFIX*``; an exact
  path as above): ``CreateSecret``, ``PutSecretValue``, ``UpdateSecret``, ``TagResource``,
  ``UntagResource``, ``DescribeSecret`` and ``ListSecretVersionIds`` (versions, stages and tags;
  no value: what ``vaultshift put`` needs), and an explicit ``Deny`` of
  ``GetSecretValue`` and ``BatchGetSecretValue`` on the same resources, so no other policy the
  developer holds can give the values back (a batch read is checked per secret against
  ``GetSecretValue``, which the Deny matches). Scoped by name prefix, not by tag: prefixes are
  the team's paths as the Vault policies have them, they hold for ``CreateSecret`` without asking
  developers to tag, and a tag condition (``aws:ResourceTag/vaultshift:team``) would rest on a
  tag vaultshift does not put on secrets and that anyone allowed ``TagResource`` could change.
- ``PREFIX-operators``: ``secretsmanager:*`` on every name under each AWS backend's prefix (all
  of the region's secrets when the prefix is empty), ``ListSecrets``, ``BatchGetSecretValue`` and
  ``GetRandomPassword`` (which AWS only grants on ``*``), and the backends' KMS keys through
  Secrets Manager. Not IAM: a principal that may rewrite ``PREFIX-*`` policies may rewrite its
  own, so ``access apply`` on AWS runs as an identity that administers IAM.

Region: the backend's ``region`` (``*`` when it has none); account: ``access.aws.account``
(``*`` when not set). A policy above :data:`MAX_POLICY_SIZE` characters (white space not
counted, as AWS counts) is refused in one line. Nothing here holds or reads a secret value.

:func:`iam_managed` gives the policies as :class:`~migrator.access.vault_apply.Managed` things:
read is the default version's document, write creates the policy or a new default version
(deleting the oldest other version when AWS's five are taken), delete removes it; a policy is
vaultshift's when it carries the tag :data:`TAG_KEY` or a description starting with
:data:`MARKER`. Documents are compared as parsed JSON, so applying twice changes nothing.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import botocore.exceptions

from migrator.access.model import AccessError, AccessModel, Place
from migrator.access.vault_apply import Managed
from migrator.backends.errors import one_line
from migrator.config import Config, ConfigError

VERSION = "2012-10-17"
MAX_POLICY_SIZE = 6144  # characters of a customer-managed policy, white space not counted
MAX_VERSIONS = 5  # versions AWS keeps of a managed policy
MARKER = "managed by vaultshift access"
TAG_KEY, TAG_VALUE = "vaultshift:managed", "access"
KIND = "IAM policy"

APP_ACTIONS = ("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue")
# What `vaultshift put` needs through a write-only policy (migrator.access.selfservice): versions
# are listed to number the next one, tags carry each key's source and first_seen.
TEAM_ACTIONS = ("secretsmanager:CreateSecret", "secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds",
                "secretsmanager:PutSecretValue", "secretsmanager:TagResource", "secretsmanager:UntagResource",
                "secretsmanager:UpdateSecret")
TEAM_DENIED = ("secretsmanager:BatchGetSecretValue", "secretsmanager:GetSecretValue")
OPERATOR_ACTIONS = ("secretsmanager:*",)
OPERATOR_ANYWHERE = ("secretsmanager:BatchGetSecretValue", "secretsmanager:GetRandomPassword",
                     "secretsmanager:ListSecrets")
APP_KMS = ("kms:Decrypt",)
WRITER_KMS = ("kms:Decrypt", "kms:GenerateDataKey")

AWS_OPTIONS = frozenset({"account", "iam_endpoint_url"})
_ACCOUNT = re.compile(r"^\d{12}$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")  # what Secrets Manager accepts in a name
_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"), ("us-iso-", "aws-iso"))
T = TypeVar("T")


# -- options -------------------------------------------------------------------------------------------

def aws_options(config: Config) -> dict[str, str]:
    """The ``access.aws`` options (``account``: the 12-digit account the policies name, default
    ``*``; ``iam_endpoint_url``: another IAM endpoint, for moto), checked; ConfigError in one line."""
    access = config.extra.get("access")
    raw = access.get("aws") if isinstance(access, dict) else None
    where = f"{config.source}: access.aws"
    if raw is None:
        return {"account": "*"}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping")
    unknown = sorted(str(k) for k in raw if k not in AWS_OPTIONS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (use {', '.join(sorted(AWS_OPTIONS))})")
    account = str(raw.get("account", "*"))
    if account != "*" and not _ACCOUNT.match(account):
        raise ConfigError(f"{where}.account: must be a 12-digit AWS account id (quote it in YAML) or '*'")
    options = {"account": account}
    endpoint = raw.get("iam_endpoint_url")
    if endpoint is not None:
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"{where}.iam_endpoint_url: must be an http(s) URL")
        options["iam_endpoint_url"] = endpoint
    return options


# -- the documents -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Store:
    """One ``aws`` backend as the policies see it: where its secrets are and which key they use."""

    backend: str
    prefix: str
    region: str
    account: str
    kms_key_id: str

    @property
    def partition(self) -> str:
        return next((p for start, p in _PARTITIONS if self.region.startswith(start)), "aws")

    def secrets(self, place: Place, owner: str) -> str:
        """The ARN pattern of the secret at ``place`` (``NAME-??????``) or under it (``NAME*``)."""
        name = self.prefix + place.path
        if not _SECRET_NAME.match(name.rstrip("/") or "_"):
            raise AccessError(f"{owner}: {place.path} ({place.backend}) is not a Secrets Manager name (letters, "
                              "digits and /_+=.@- only, at most 512): no IAM policy can name it")
        return self._arn(name + ("*" if place.is_prefix else "-??????"))

    def everything(self) -> str:
        """The ARN pattern of every secret under the backend's prefix."""
        if self.prefix and not _SECRET_NAME.match(self.prefix):
            raise AccessError(f"backend {self.backend}: prefix {self.prefix!r} is not a Secrets Manager name (letters, "
                              "digits and /_+=.@- only): no IAM policy can name it")
        return self._arn(self.prefix + "*")

    def _arn(self, name: str) -> str:
        return f"arn:{self.partition}:secretsmanager:{self.region}:{self.account}:secret:{name}"

    def kms_statement(self, actions: Iterable[str]) -> dict[str, Any] | None:
        """``actions`` on the backend's KMS key, only through Secrets Manager; None when the
        backend names no key (the AWS managed key needs no permission)."""
        if not self.kms_key_id:
            return None
        key, region, account = self.kms_key_id, self.region, self.account
        alias = ""
        partition = self.partition
        parts = key.split(":", 5)
        if key.startswith("arn:") and len(parts) == 6:  # arn:PARTITION:kms:REGION:ACCOUNT:key/ID or alias/NAME
            partition, region, account = parts[1], parts[3] or region, parts[4] or account
            alias = parts[5] if parts[5].startswith("alias/") else ""
            resource = f"arn:{partition}:kms:{region}:{account}:key/*" if alias else key
        elif key.startswith("alias/"):
            alias, resource = key, f"arn:{partition}:kms:{region}:{account}:key/*"
        else:
            resource = f"arn:{partition}:kms:{region}:{account}:key/{key}"
        domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
        service = f"secretsmanager.{region}.{domain}"
        condition: dict[str, Any] = {"StringLike" if "*" in service else "StringEquals": {"kms:ViaService": service}}
        if alias:  # IAM authorizes on the key: an alias is a condition on it, not a resource
            condition["ForAnyValue:StringEquals"] = {"kms:ResourceAliases": alias}
        return {"Effect": "Allow", "Action": sorted(actions), "Resource": [resource], "Condition": condition}


def _stores(config: Config) -> dict[str, _Store]:
    account = aws_options(config)["account"]
    return {name: _Store(name, str(s.get("prefix") or ""), str(s.get("region") or "*"), account,
                         str(s.get("kms_key_id") or ""))
            for name, s in config.backends.items() if s.get("type") == "aws"}


def _document(statements: list[dict[str, Any]], kms: Iterable[dict[str, Any] | None], kms_sid: str) -> dict[str, Any]:
    keys: list[dict[str, Any]] = []
    for statement in kms:
        if statement is not None and statement not in keys:
            keys.append(statement)
    for number, statement in enumerate(keys, 1):
        statements.append({"Sid": kms_sid + (str(number) if len(keys) > 1 else ""), **statement})
    return {"Version": VERSION, "Statement": statements}


def policy_size(document: Mapping[str, Any]) -> int:
    """The size AWS holds against :data:`MAX_POLICY_SIZE`: the JSON without white space."""
    return len(compact(document))


def compact(document: Mapping[str, Any]) -> str:
    """``document`` as the JSON sent to IAM (no white space between tokens)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def policy_text(document: Mapping[str, Any]) -> str:
    """``document`` as indented JSON, for people and for ``--output-dir`` files."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def aws_policies(model: AccessModel, config: Config) -> dict[str, dict[str, Any]]:
    """Each IAM policy's name -> its document (a JSON-able dict), for the model's places on the
    ``aws`` backends of ``config`` (places on Vault backends are the Vault policies' business).
    AccessError in one line for a path that is no Secrets Manager name and for a policy above
    :data:`MAX_POLICY_SIZE`; ConfigError for bad ``access.aws`` options."""
    stores = _stores(config)
    policies: dict[str, dict[str, Any]] = {}
    for app in model.apps:
        name = model.app_policy(app)
        places = [p for p in app.reads if p.backend in stores]
        if places:
            resources = sorted({stores[p.backend].secrets(p, f"app {app.name}") for p in places})
            statements = [{"Sid": "ReadOwnSecrets", "Effect": "Allow", "Action": list(APP_ACTIONS),
                           "Resource": resources}]
            kms = [stores[b].kms_statement(APP_KMS) for b in sorted({p.backend for p in places})]
            policies[name] = _document(statements, kms, "DecryptThroughSecretsManager")
    for team in model.teams:
        name = model.team_policy(team)
        places = [p for p in team.writes if p.backend in stores]
        if places:
            resources = sorted({stores[p.backend].secrets(p, f"team {team.name}") for p in places})
            statements = [{"Sid": "WriteTeamSecrets", "Effect": "Allow", "Action": list(TEAM_ACTIONS),
                           "Resource": resources},
                          {"Sid": "NeverReadValues", "Effect": "Deny", "Action": list(TEAM_DENIED),
                           "Resource": resources}]
            kms = [stores[b].kms_statement(WRITER_KMS) for b in sorted({p.backend for p in places})]
            policies[name] = _document(statements, kms, "EncryptThroughSecretsManager")
    if model.operators and stores:
        statements = [{"Sid": "ManageMigrationSecrets", "Effect": "Allow", "Action": list(OPERATOR_ACTIONS),
                       "Resource": sorted({s.everything() for s in stores.values()})},
                      {"Sid": "AccountWideActions", "Effect": "Allow", "Action": list(OPERATOR_ANYWHERE),
                       "Resource": "*"}]
        kms = [stores[b].kms_statement(WRITER_KMS) for b in sorted(stores)]
        policies[model.operators_policy] = _document(statements, kms, "KeysThroughSecretsManager")
    for name, document in policies.items():
        size = policy_size(document)
        if size > MAX_POLICY_SIZE:
            raise AccessError(f"{KIND} {name}: {size:,} characters, above the {MAX_POLICY_SIZE:,} of an IAM managed "
                              "policy: give its secrets fewer, shorter paths or a common prefix")
    return policies


# -- the account's customer-managed policies ---------------------------------------------------------

class IamPolicies:
    """The customer-managed policies of one AWS account, through ``client`` (a boto3 IAM client):
    :meth:`managed` makes one a :class:`Managed`. Holds the name -> ARN of the account's policies
    (listed once, on first use) and whether each one read is vaultshift's. Failures are
    :class:`AccessError` s in one line naming the policy."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._arns: dict[str, str] | None = None  # lower-case name -> ARN: IAM names ignore case
        self._ours: dict[str, bool] = {}

    def managed(self, name: str, document: dict[str, Any]) -> Managed:
        return Managed(KIND, name, document, lambda: self.read(name), lambda wanted: self.write(name, wanted),
                       lambda: self.delete(name), ours=lambda current: self._ours.get(name, False),
                       show=policy_text)

    @overload
    def _call(self, operation: str, name: str, fn: Callable[[], T]) -> T: ...

    @overload
    def _call(self, operation: str, name: str, fn: Callable[[], T], absent: bool) -> T | None: ...

    def _call(self, operation: str, name: str, fn: Callable[[], T], absent: bool = False) -> T | None:
        """``fn()``; its failures as one AccessError line; None for NoSuchEntity when ``absent``."""
        try:
            return fn()
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error") or {}
            if absent and error.get("Code") == "NoSuchEntity":
                return None
            reason = f"{error.get('Code') or 'error'}: {error.get('Message') or ''}".rstrip(": ")
            raise AccessError(f"{KIND} {name}: {operation}: {one_line(reason)}") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise AccessError(f"{KIND} {name}: {operation}: {one_line(str(exc))}") from None

    def _arn(self, name: str) -> str | None:
        if self._arns is None:
            def listing() -> dict[str, str]:
                found: dict[str, str] = {}
                for page in self.client.get_paginator("list_policies").paginate(Scope="Local"):
                    for item in page.get("Policies") or []:
                        found.setdefault(str(item["PolicyName"]).lower(), str(item["Arn"]))
                return found

            self._arns = self._call("list policies", name, listing)
        return self._arns.get(name.lower())

    def read(self, name: str) -> dict[str, Any] | None:
        """The document of the policy's default version; None when there is no such policy."""
        arn = self._arn(name)
        if arn is None:
            return None
        policy = self._call("read", name, lambda: self.client.get_policy(PolicyArn=arn)["Policy"], absent=True)
        if policy is None:  # deleted since the listing
            self._forget(name)
            return None
        tags = policy.get("Tags")
        if tags is None and not str(policy.get("Description") or "").startswith(MARKER):
            tags = self._call("read tags", name, lambda: self.client.list_policy_tags(PolicyArn=arn).get("Tags"))
        self._ours[name] = (str(policy.get("Description") or "").startswith(MARKER)
                            or any(t.get("Key") == TAG_KEY for t in tags or []))
        version = self._call("read", name, lambda: self.client.get_policy_version(
            PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"])
        return _parsed(version.get("Document"), name)

    def write(self, name: str, document: dict[str, Any]) -> None:
        """Create the policy, or make ``document`` its new default version."""
        text = compact(document)
        arn = self._arn(name)
        if arn is None:
            created = self._call("create", name, lambda: self.client.create_policy(
                PolicyName=name, PolicyDocument=text, Description=MARKER, Tags=[{"Key": TAG_KEY, "Value": TAG_VALUE}]))
            if self._arns is not None:
                self._arns[name.lower()] = str(created["Policy"]["Arn"])
            self._ours[name] = True
            return
        versions = self._call("list versions", name,
                              lambda: self.client.list_policy_versions(PolicyArn=arn)["Versions"])
        others = sorted((v for v in versions if not v.get("IsDefaultVersion")), key=lambda v: v["CreateDate"])
        if len(versions) >= MAX_VERSIONS and others:
            self._delete_version(name, arn, str(others[0]["VersionId"]))
        self._call("write", name, lambda: self.client.create_policy_version(PolicyArn=arn, PolicyDocument=text,
                                                                            SetAsDefault=True))

    def delete(self, name: str) -> None:
        """Delete the policy and all its versions (it must be attached to nobody, as AWS requires)."""
        arn = self._arn(name)
        if arn is None:
            return
        versions = self._call("list versions", name,
                              lambda: self.client.list_policy_versions(PolicyArn=arn)["Versions"])
        for version in versions:
            if not version.get("IsDefaultVersion"):
                self._delete_version(name, arn, str(version["VersionId"]))
        self._call("delete", name, lambda: self.client.delete_policy(PolicyArn=arn))
        self._forget(name)

    def _delete_version(self, name: str, arn: str, version: str) -> None:
        self._call(f"delete version {version}", name,
                   lambda: self.client.delete_policy_version(PolicyArn=arn, VersionId=version))

    def _forget(self, name: str) -> None:
        if self._arns is not None:
            self._arns.pop(name.lower(), None)
        self._ours.pop(name, None)


def _parsed(document: Any, name: str) -> dict[str, Any]:
    """A policy document as IAM returns it (boto3 decodes it; raw, it is URL-encoded JSON) as a dict."""
    if isinstance(document, str):
        try:
            document = json.loads(urllib.parse.unquote(document))
        except ValueError:
            raise AccessError(f"{KIND} {name}: its default version is not a JSON document") from None
    if not isinstance(document, dict):
        raise AccessError(f"{KIND} {name}: its default version is not a JSON object")
    return document


def iam_managed(model: AccessModel, config: Config, iam_client: Any) -> list[Managed]:
    """The IAM customer-managed policies ``access apply`` manages (sorted by name), through
    ``iam_client`` (a boto3 IAM client; :func:`iam_client_for` makes one from the configuration)."""
    account = IamPolicies(iam_client)
    return [account.managed(name, document) for name, document in sorted(aws_policies(model, config).items())]


def iam_client_for(config: Config) -> Any:
    """A boto3 IAM client with the profile and region of the first ``aws`` backend, its timeout,
    three attempts (IAM throttles), and ``access.aws.iam_endpoint_url`` when set. AccessError when no
    ``aws`` backend is configured."""
    import boto3
    from botocore.config import Config as BotoConfig

    settings = next((s for s in config.backends.values() if s.get("type") == "aws"), None)
    if settings is None:
        raise AccessError("no AWS backend is configured: there are no IAM policies to manage")
    options = aws_options(config)
    timeout = float(settings.get("timeout") or 10)
    try:
        session = boto3.session.Session(profile_name=settings.get("profile"), region_name=settings.get("region"))
        return session.client("iam", endpoint_url=options.get("iam_endpoint_url"), config=BotoConfig(
            connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 3, "mode": "standard"},
            user_agent_extra="vaultshift"))
    except botocore.exceptions.BotoCoreError as exc:
        raise AccessError(f"IAM: {one_line(str(exc))}") from None
