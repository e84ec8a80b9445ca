"""AWS Secrets Manager, through boto3.

A vaultshift path ``apps/web/db`` is the secret named ``<prefix>apps/web/db``; its SecretString
is a JSON object of the fields (``{"password": "...", "user": "..."}``), read at the stage
``AWSCURRENT``; metadata is the secret's tags (per-field keys ``<field>:<name>``; tags starting
with ``aws:`` belong to AWS and are left alone).

Versions and check-and-set: Secrets Manager has no conditional write, but a version's
ClientRequestToken can never be reused for different content. vaultshift names version *n* of a
secret ``vaultshift-version-<n, 20 digits>``, so two writers that both read version *n* both
try to create version *n+1*: one wins, the other gets ResourceExistsException, which is
:class:`CasMismatch` (a retried request with the same token and the same content is AWS's
idempotent retry, and succeeds). A version can also be taken without becoming current: a staged
rotation that failed leaves its version with no stage. So when *n+1* is taken while AWSCURRENT
is still on version *n*, the write is numbered past the highest number vaultshift has used on
the secret instead (one listing of the versions, then the write again); when AWSCURRENT moved,
it is :class:`CasMismatch`. For a secret last written by another tool (a UUID version id) *n* is
counted from its versions. Writes by other tools themselves are not conditional: they can
overwrite concurrently.

Beside the :class:`Backend` interface, staged rotation (migrator/rotate/aws_staged.py) uses
:meth:`AwsBackend.call` (the boto3 client with the backend's retries and value-free errors),
:meth:`~AwsBackend.read_stage`, :meth:`~AwsBackend.describe`, :meth:`~AwsBackend.list_versions`,
:meth:`~AwsBackend.version_of`, :meth:`~AwsBackend.next_version` and :meth:`~AwsBackend.update_tags`.

``read_secret(path, version=n)`` reads the version whose VersionId is ``vaultshift-version-<n>``
(with the secret's current tags as metadata; a secret scheduled for deletion is ``deleted``). A
version another tool wrote has no number, except the current one (numbered by counting, as
``read_secret(path)`` gives it). A version that is not there is None when every version of the
secret is vaultshift's (never written, or dropped by AWS, which keeps about 100), and NotFound
naming the version when some were written by other tools (one of them may be the one meant).

Settings (one entry of ``backends:``)::

    type: aws
    region: eu-west-1                      # default: AWS_REGION / AWS_DEFAULT_REGION / the profile
    profile: migration                     # a named profile (default: the usual credential chain)
    endpoint_url: http://127.0.0.1:5000    # another endpoint (a VPC endpoint, moto)
    prefix: vaultshift/                    # prepended to every path as is
    kms_key_id: alias/secrets              # for new secrets (default: aws/secretsmanager)
    recovery_window_days: 30               # a deleted secret can be restored for this long (7-30)
    timeout: 10                            # seconds (connect and read)
    retries: 3, retry_delay: 0.25, retry_max_delay: 4
"""

from __future__ import annotations

import builtins
import datetime
import json
import logging
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import botocore.exceptions
from botocore.config import Config as BotoConfig

from migrator.backends.base import Backend, StoredSecret
from migrator.backends.errors import (
    AuthError,
    BackendError,
    CasMismatch,
    Forbidden,
    InvalidSecret,
    NotFound,
    Unavailable,
    one_line,
    scrub,
)
from migrator.backends.retry import RetryPolicy
from migrator.backends.settings import Settings

SETTINGS = frozenset({"region", "profile", "endpoint_url", "prefix", "kms_key_id", "recovery_window_days"})
VERSION_TOKEN = "vaultshift-version-{:020d}"
_VERSION = re.compile(r"^vaultshift-version-(\d{20})$")
_FILTER_SAFE = re.compile(r"^[A-Za-z0-9 :_@/+=.\-]+$")
_XML_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")
CURRENT = "AWSCURRENT"
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 50, 128, 256
T = TypeVar("T")
log = logging.getLogger("migrator.backends")

_AUTH_CODES = frozenset({"UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
                         "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken",
                         "ExpiredTokenException", "ExpiredToken", "AuthFailure"})
_FORBIDDEN_CODES = frozenset({"AccessDeniedException", "AccessDenied", "DecryptionFailure",
                              "KMSAccessDeniedException"})
_TRANSIENT_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
                              "InternalServiceError", "InternalFailure", "ServiceUnavailable", "RequestTimeout",
                              "RequestTimeoutException"})


class _WithholdBodies(logging.Filter):
    """botocore logs whole request and response bodies at DEBUG, and a SecretString is in them:
    the arguments of those loggers' DEBUG records are replaced before any handler sees them."""

    WITHHELD = "(withheld: may hold secret values)"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            keep = 1 if str(record.msg).startswith("Making request for") else 0
            record.args = (*args[:keep], *(self.WITHHELD for _ in args[keep:]))
        return True


_BODY_LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.awsrequest")
for _logger in _BODY_LOGGERS:
    if not any(isinstance(f, _WithholdBodies) for f in logging.getLogger(_logger).filters):
        logging.getLogger(_logger).addFilter(_WithholdBodies())


def version_number(version_id: str) -> int | None:
    """The number vaultshift gave a version (None for an id another tool chose)."""
    match = _VERSION.match(version_id)
    return int(match.group(1)) if match else None


def _counted(version_ids: Collection[str]) -> int:
    """The number of a current version another tool wrote: as many as the versions AWS keeps, and
    at least one more than any vaultshift version among them."""
    ours = [n for n in map(version_number, version_ids) if n is not None]
    return max([len(version_ids), *(n + 1 for n in ours)])


@dataclass(frozen=True, slots=True, repr=False)
class StagedVersion:
    """One version of a secret, as read at a stage: its VersionId and its fields. Its repr names
    the fields, never their values."""

    version_id: str
    fields: dict[str, str]

    def __repr__(self) -> str:
        return f"StagedVersion(version_id={self.version_id!r}, fields={sorted(self.fields)!r})"

    @property
    def number(self) -> int | None:
        """The number vaultshift gave the version (None for a VersionId another tool chose)."""
        return version_number(self.version_id)


class AwsBackend(Backend):
    """Secrets Manager in one account and region. Holds the region, profile, endpoint, name
    prefix, KMS key for new secrets, recovery window, timeout and, once used, a boto3 client
    whose own retries are off (the backend's retry policy is the only one, so time is bounded)."""

    type = "aws"

    def __init__(self, name: str, *, region: str | None = None, profile: str | None = None,
                 endpoint_url: str | None = None, prefix: str = "", kms_key_id: str | None = None,
                 recovery_window_days: int = 30, timeout: float = 10.0, retry: RetryPolicy | None = None) -> None:
        super().__init__(name, retry)
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.prefix = prefix
        self.kms_key_id = kms_key_id
        self.recovery_window_days = recovery_window_days
        self.timeout = timeout
        self._client: Any = None

    @classmethod
    def from_settings(cls, name: str, data: Mapping[str, Any]) -> AwsBackend:
        settings = Settings(name, data, SETTINGS)
        window = settings.integer("recovery_window_days", 30, minimum=7)
        if window > 30:
            raise settings.error("recovery_window_days", "must be between 7 and 30")
        prefix = settings.string("prefix", "") or ""
        if prefix.startswith("/") or ".." in prefix.split("/"):
            raise settings.error("prefix", "must be a relative name prefix")
        return cls(name, region=settings.string("region"), profile=settings.string("profile"),
                   endpoint_url=settings.string("endpoint_url"), prefix=prefix,
                   kms_key_id=settings.string("kms_key_id"), recovery_window_days=window,
                   timeout=settings.timeout(), retry=settings.retry_policy())

    def __repr__(self) -> str:
        where = " ".join(x for x in (self.region, self.endpoint_url, self.prefix) if x)
        return f"<AwsBackend {self.name!r} {where}>".replace(" >", ">")

    def _disconnect(self) -> None:
        self._client = None

    # ---- the client ----------------------------------------------------------------------------

    def _connect(self, operation: str, path: str) -> Any:
        """The boto3 client; made on first use, its failures (no region, no such profile) reported
        as failures of ``operation`` on ``path``."""
        if self._client is None:
            def create() -> Any:
                session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
                config = BotoConfig(connect_timeout=self.timeout, read_timeout=self.timeout,
                                    retries={"total_max_attempts": 1, "mode": "standard"},
                                    user_agent_extra="vaultshift")
                return session.client("secretsmanager", endpoint_url=self.endpoint_url, config=config)

            self._client = self._request(operation, path, create)
        return self._client

    def call(self, operation: str, path: str, fn: Callable[[Any], T], values: Collection[str] = ()) -> T:
        """``fn`` with this backend's boto3 Secrets Manager client, for what the KV-like interface
        does not cover (staged rotation): its retries, and its failures as one-line
        :class:`BackendError` s naming ``operation`` and ``path`` (``values`` withheld from any
        server message)."""
        return self._call(operation, path, fn, values)

    def _call(self, operation: str, path: str, fn: Callable[[Any], T], values: Collection[str] = ()) -> T:
        client = self._connect(operation, path)
        return self._request(operation, path, lambda: fn(client), values)

    def secret_name(self, path: str) -> str:
        """The name of the secret that holds ``path`` (the backend's prefix, then the path)."""
        return self._name(path)

    def _name(self, path: str) -> str:
        return self.prefix + path

    def _value(self, path: str, **version: str) -> dict[str, Any] | None:
        """GetSecretValue of ``path`` at one version (``VersionStage=`` or ``VersionId=``); None
        when the secret or that version is absent."""
        name = self._name(path)

        def value(client: Any) -> dict[str, Any] | None:
            try:
                result: dict[str, Any] = client.get_secret_value(SecretId=name, **version)
                return result
            except botocore.exceptions.ClientError as exc:
                if _code(exc) == "ResourceNotFoundException":
                    return None
                raise

        return self._call("read", path, value)

    # ---- beyond the Backend interface: stages, versions, tags ----------------------------------

    def describe(self, path: str) -> dict[str, Any] | None:
        """DescribeSecret for ``path`` (stages, tags, dates; no value); None when there is no such
        secret."""
        self._check(path, "read")
        return self._describe(path)

    def _describe(self, path: str) -> dict[str, Any] | None:
        name = self._name(path)

        def describe(client: Any) -> dict[str, Any] | None:
            try:
                result: dict[str, Any] = client.describe_secret(SecretId=name)
                return result
            except botocore.exceptions.ClientError as exc:
                if _code(exc) == "ResourceNotFoundException":
                    return None
                raise

        return self._call("read", path, describe)

    def read_stage(self, path: str, stage: str) -> StagedVersion | None:
        """The version of the secret at ``path`` that holds ``stage`` (``AWSCURRENT``, ``AWSPENDING``,
        ...), asked for by stage; None when the secret or the stage is absent. A version that is not
        a JSON object of string fields is :class:`InvalidSecret`."""
        self._check(path, "read")

        found = self._value(path, VersionStage=stage)
        if found is None:
            return None
        return StagedVersion(str(found.get("VersionId") or ""), self._fields(path, found))

    def list_versions(self, path: str) -> builtins.list[dict[str, Any]]:
        """Every version AWS keeps of the secret at ``path``, deprecated ones (no stage) included, as
        ListSecretVersionIds gives them (``VersionId``, ``VersionStages``, ``CreatedDate``; no value)."""
        self._check(path, "read")
        return self._versions("read", path)

    def _versions(self, operation: str, path: str) -> builtins.list[dict[str, Any]]:
        name = self._name(path)

        def versions(client: Any) -> builtins.list[dict[str, Any]]:
            found: builtins.list[dict[str, Any]] = []
            kwargs: dict[str, Any] = {"SecretId": name, "IncludeDeprecated": True, "MaxResults": 100}
            while True:
                page = client.list_secret_version_ids(**kwargs)
                found.extend(page.get("Versions") or [])
                if not page.get("NextToken"):
                    return found
                kwargs["NextToken"] = page["NextToken"]

        return self._call(operation, path, versions)

    def version_of(self, path: str, version_id: str) -> int:
        """The number of the version ``version_id`` of the secret at ``path``: vaultshift's own,
        else counted (as :meth:`read_secret` numbers a current version another tool wrote)."""
        self._check(path, "read")
        return self._number(path, version_id)

    def next_version(self, path: str, current: int) -> int:
        """The number for a new version of the secret at ``path`` whose current version is
        ``current``: past it and past every version vaultshift numbered (a version that never
        became current, as a failed rotation leaves it, still holds its token)."""
        self._check(path, "read")
        return max([current, *self._ours(self._version_ids(path))]) + 1

    def update_tags(self, path: str, set_tags: Mapping[str, str], remove_tags: Collection[str] = (),
                    current_tags: Mapping[str, str] | None = None) -> None:
        """Set and remove tags of the secret at ``path``, leaving the others alone, within Secrets
        Manager's limits (``current_tags``: the tags it has, when the caller just described it)."""
        self._check(path, "write metadata")
        if current_tags is None:
            info = self._describe(path)
            if info is None:
                raise NotFound(self.name, "write metadata", path, "no such secret")
            current_tags = _metadata(info)
        self._patch_metadata(path, StoredSecret(path, {}, dict(current_tags), 0), set_tags, remove_tags)

    # ---- the primitives ------------------------------------------------------------------------

    def _get(self, path: str, version: int | None = None) -> StoredSecret | None:
        info = self._describe(path)
        if info is None:
            return None
        tags = _metadata(info)
        stages: dict[str, list[str]] = info.get("VersionIdsToStages") or {}
        current_id = next((vid for vid, names in stages.items() if CURRENT in names), None)
        if info.get("DeletedDate") is not None:
            # Versions cannot be listed while the secret is scheduled for deletion; a wrong guess
            # only costs a CasMismatch and another round once the write has restored it.
            return StoredSecret(path, {}, tags, version or version_number(current_id or "") or 0, deleted=True)
        if version is not None:
            return self._get_version(path, tags, version)

        current = self._value(path, VersionStage=CURRENT)  # None: created empty, no current version
        if current is None:
            return StoredSecret(path, {}, tags, 0)
        fields = self._fields(path, current)
        created = current.get("CreatedDate")
        return StoredSecret(path, fields, tags, self._number(path, str(current.get("VersionId") or "")),
                            created=created.timestamp() if isinstance(created, datetime.datetime) else None)

    def _fields(self, path: str, current: Mapping[str, Any]) -> dict[str, str]:
        text = current.get("SecretString")
        if text is None:
            raise InvalidSecret(self.name, "read", path, "it holds a SecretBinary, not a JSON object of fields")
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise InvalidSecret(self.name, "read", path, "its SecretString is not a JSON object of fields")
        for key, item in data.items():
            if not isinstance(item, str):
                raise InvalidSecret(self.name, "read", f"{path}#{key}",
                                    f"the field holds a JSON {type(item).__name__}, not a string")
        return data

    def _get_version(self, path: str, tags: dict[str, str], version: int) -> StoredSecret | None:
        """Version ``version`` of the secret at ``path`` (which exists and is not deleted): the
        version whose VersionId is ``vaultshift-version-<version>``, else the current version when
        that is the number :meth:`_get` gives it (a current version another tool wrote is
        numbered by counting). Else None when every version the secret has is vaultshift's (the
        version was never written, or AWS no longer keeps it), and NotFound when some were written
        by other tools: those have no number, one of them may be the version meant."""

        found = self._value(path, VersionId=VERSION_TOKEN.format(version))
        if found is not None:
            return StoredSecret(path, self._fields(path, found), tags, version)
        latest = self._get(path)
        if latest is not None and not latest.deleted and latest.version == version:
            return latest
        if any(version_number(i) is None for i in self._version_ids(path)):
            raise NotFound(self.name, "read", path, f"no version {version} (VersionId "
                                                    f"{VERSION_TOKEN.format(version)}): the secret also has versions "
                                                    "written by other tools, which have no vaultshift number")
        return None

    def _number(self, path: str, version_id: str) -> int:
        """The version number of ``version_id``: vaultshift's own, else counted from the versions
        AWS keeps (at least one more than any vaultshift version among them)."""
        number = version_number(version_id)
        if number is not None:
            return number
        return _counted(self._version_ids(path))

    def _version_ids(self, path: str) -> builtins.list[str]:
        """The VersionIds AWS keeps for the secret at ``path`` (deprecated ones included)."""
        return [str(v["VersionId"]) for v in self._versions("read", path)]

    @staticmethod
    def _ours(version_ids: Collection[str]) -> builtins.list[int]:
        """The numbers vaultshift gave among ``version_ids``."""
        return [n for n in map(version_number, version_ids) if n is not None]

    def _put(self, path: str, fields: dict[str, str], previous: StoredSecret | None,
             set_metadata: Mapping[str, str], remove_metadata: Collection[str]) -> int:
        name = self._name(path)
        text = json.dumps(fields, ensure_ascii=False, sort_keys=True)
        values = [*fields.values()]
        self._check_tags(path, previous, set_metadata, remove_metadata)
        if previous is None:
            kwargs: dict[str, Any] = {"Name": name, "SecretString": text, "ClientRequestToken": VERSION_TOKEN.format(1)}
            if set_metadata:
                kwargs["Tags"] = _tags(set_metadata)
            if self.kms_key_id:
                kwargs["KmsKeyId"] = self.kms_key_id
            self._call("write", path, lambda c: c.create_secret(**kwargs), values)
            return 1
        if previous.deleted:
            self._call("restore", path, lambda c: c.restore_secret(SecretId=name))

        def put(number: int) -> Callable[[Any], Any]:
            token = VERSION_TOKEN.format(number)
            return lambda c: c.put_secret_value(SecretId=name, SecretString=text, ClientRequestToken=token)

        number = previous.version + 1
        try:
            self._call("write", path, put(number), values)
        except CasMismatch as taken:
            number = self._renumber(path, previous, number, taken)
            self._call("write", path, put(number), values)
        self._patch_metadata(path, previous, set_metadata, remove_metadata)
        return number

    def _renumber(self, path: str, previous: StoredSecret, taken_number: int, taken: CasMismatch) -> int:
        """Version ``taken_number`` exists already. When AWSCURRENT is still on ``previous``'s
        version, that one never became current (a failed staged rotation's): the number past every
        version vaultshift numbered. Else another writer got in first: ``taken`` is raised."""
        try:
            versions = self._versions("write", path)
        except Forbidden:  # a policy that may write but not list versions: as before, a lost race
            raise taken from None
        ids = [str(v["VersionId"]) for v in versions]
        current_ids = [str(v["VersionId"]) for v in versions if CURRENT in (v.get("VersionStages") or [])]
        current = {_counted(ids) if n is None else n for n in map(version_number, current_ids)}
        number = max([previous.version, *self._ours(ids)]) + 1
        if previous.version not in current or taken_number in current or number == taken_number:
            raise taken
        log.info("%s: write %s: version %d never became %s (a failed rotation's?); writing version %d",
                 self.name, path, taken_number, CURRENT, number)
        return number

    def _patch_metadata(self, path: str, previous: StoredSecret, set_metadata: Mapping[str, str],
                        remove_metadata: Collection[str]) -> None:
        name = self._name(path)
        self._check_tags(path, previous, set_metadata, remove_metadata)
        if set_metadata:
            self._call("write metadata", path, lambda c: c.tag_resource(SecretId=name, Tags=_tags(set_metadata)))
        if remove_metadata:
            keys = builtins.list(remove_metadata)
            self._call("write metadata", path, lambda c: c.untag_resource(SecretId=name, TagKeys=keys))

    def _check_tags(self, path: str, previous: StoredSecret | None, set_metadata: Mapping[str, str],
                    remove_metadata: Collection[str]) -> None:
        """Secrets Manager's tag limits, checked before anything is written (one line, no value)."""
        for key, value in set_metadata.items():
            if key.startswith("aws:"):
                raise BackendError(self.name, "write", path, f"metadata key {key!r}: the aws: prefix is reserved")
            if len(key) > MAX_TAG_KEY:
                raise BackendError(self.name, "write", path, f"metadata key {key[:40]!r}...: longer than "
                                                             f"{MAX_TAG_KEY} characters (an AWS tag key)")
            if len(value) > MAX_TAG_VALUE:
                raise BackendError(self.name, "write", path, f"metadata {key!r}: {len(value)} characters, an AWS "
                                                             f"tag value holds {MAX_TAG_VALUE}")
        keys = (set(previous.metadata) if previous is not None else set()) - set(remove_metadata) | set(set_metadata)
        if len(keys) > MAX_TAGS:
            raise BackendError(self.name, "write", path, f"{len(keys)} metadata keys: an AWS secret holds "
                                                         f"{MAX_TAGS} tags")

    def _remove(self, path: str, previous: StoredSecret) -> None:
        name = self._name(path)
        self._call("delete", path, lambda c: c.delete_secret(SecretId=name,
                                                             RecoveryWindowInDays=self.recovery_window_days))

    def _list(self, prefix: str) -> builtins.list[str]:
        start = self._name(prefix)

        def names(client: Any) -> builtins.list[str]:
            kwargs: dict[str, Any] = {}
            if start and _FILTER_SAFE.match(start) and not start.startswith("!"):
                kwargs["Filters"] = [{"Key": "name", "Values": [start]}]  # a prefix match, case-insensitive
            found: builtins.list[str] = []
            for page in client.get_paginator("list_secrets").paginate(**kwargs):
                found.extend(s["Name"] for s in page.get("SecretList") or [])
            return found

        return [n[len(self.prefix):] for n in self._call("list", prefix, names) if n.startswith(start)]

    # ---- failures ------------------------------------------------------------------------------

    def _translate(self, exc: Exception, operation: str, path: str, values: Collection[str]) -> BackendError | None:
        name = self.name
        if isinstance(exc, botocore.exceptions.ClientError):
            code = _code(exc)
            status = int((exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
            message = str((exc.response.get("Error") or {}).get("Message") or "")
            xml_code, xml_message = _XML_CODE.search(message), _XML_MESSAGE.search(message)
            if xml_code:  # an XML error body where JSON was expected (a proxy, moto): botocore's code is the status
                code = xml_code.group(1)
                message = xml_message.group(1) if xml_message else ""
            message = scrub(one_line(message), values)
            reason = f"{code}: {message}" if message else code
            if code == "ResourceExistsException":
                return CasMismatch(name, operation, path, "another writer created this version first")
            if code in _AUTH_CODES:
                return AuthError(name, operation, path, reason)
            if code in _FORBIDDEN_CODES or status == 403:
                return Forbidden(name, operation, path, reason)
            if code == "ResourceNotFoundException":
                return NotFound(name, operation, path, reason)
            if code in _TRANSIENT_CODES or status >= 500 or status == 429:
                return Unavailable(name, operation, path, reason)
            return BackendError(name, operation, path, reason)
        where = self.endpoint_url or f"Secrets Manager in {self.region or 'the default region'}"
        if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
            return AuthError(name, operation, path, "no AWS credentials found (environment, profile or role)")
        if isinstance(exc, botocore.exceptions.NoRegionError):
            return BackendError(name, operation, path, "no region: set region in the backend or AWS_REGION")
        if isinstance(exc, botocore.exceptions.ProfileNotFound):
            return BackendError(name, operation, path, f"no AWS profile {self.profile!r}")
        if isinstance(exc, botocore.exceptions.ConnectTimeoutError | botocore.exceptions.ReadTimeoutError):
            return Unavailable(name, operation, path, f"{where} did not answer within {self.timeout:g} s")
        if isinstance(exc, botocore.exceptions.EndpointConnectionError):
            return Unavailable(name, operation, path, f"cannot connect to {where}")
        if isinstance(exc, botocore.exceptions.ConnectionError | botocore.exceptions.HTTPClientError):
            return Unavailable(name, operation, path, f"connection to {where} failed")
        if isinstance(exc, botocore.exceptions.ParamValidationError):
            return BackendError(name, operation, path, scrub(one_line(str(exc)), values))
        if isinstance(exc, botocore.exceptions.BotoCoreError):
            return BackendError(name, operation, path, scrub(one_line(str(exc)), values))
        return None


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str((exc.response.get("Error") or {}).get("Code") or "")


def _metadata(info: Mapping[str, Any]) -> dict[str, str]:
    """The secret's tags in DescribeSecret's ``info`` as metadata (``aws:`` tags belong to AWS)."""
    return {t["Key"]: t.get("Value", "") for t in info.get("Tags") or [] if not t["Key"].startswith("aws:")}


def _tags(metadata: Mapping[str, str]) -> builtins.list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in metadata.items()]
