"""UUIDs in non-secret contexts: identifiers of tenants, users, projects, requests and resources.

A UUID is reported (at low confidence) unless its key names what it identifies: ``tenant_id``,
``subscriptionId``, ``uid``, ``ProjectGuid``, ``X-Request-Id``, ``taskArn``. Those are identifiers
that platforms print in consoles and URLs, never credentials. So are URNs and ARNs and bare
GUID constants in program source and ids in documentation (a key in code or prose is found by
the keyword detector, not this one).
A UUID under a credential key (``consul_token``) is kept whatever its detector; one under a bare
``id`` or no key at all is left to the UUID detector's low confidence, since tools such as API
clients keep their keys there.
"""

from __future__ import annotations

import re

from migrator.discover.document import Document
from migrator.discover.filters.base import Filter
from migrator.discover.models import Candidate

UUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
CREDENTIAL_KINDS = {"password", "secret", "token", "api_key", "credential"}

# A key's words: camelCase humps, runs of capitals, digits (``anchoredSiteId`` -> anchored Site Id).
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_NAMES_A_UUID = frozenset({"uid", "uids", "guid", "guids", "uuid", "uuids", "arn", "arns"})
_ID = frozenset({"id", "ids"})
# "secret_id" (Vault AppRole) and "SecretID" (Consul ACL) are credentials, not identifiers.
_SECRET_WORDS = frozenset({"secret", "token", "password", "passwd", "pwd", "pass", "auth", "session",
                           "credential", "credentials", "apikey"})
_DOCUMENTATION = (".md", ".markdown", ".rst", ".adoc", ".txt")


_TOKEN_START = re.compile(rb"""[^\s"'=,;<>()\[\]{}]*\Z""")


def _inside_a_name(data: bytes, start: int) -> bool:
    """True when the UUID at ``start`` is part of a resource name: ``urn:uuid:...``, an AWS ARN."""
    token = _TOKEN_START.search(data, max(0, start - 256), start)
    prefix = token.group().lower() if token else b""
    return prefix.startswith((b"arn:", b"urn:"))


def names_an_identifier(key: str) -> bool:
    """True when the key's last word says the value identifies something: ``uid``, ``ProjectGuid``,
    ``tenant_id``, ``anchoredSiteId``, ``X-Request-Id``, ``taskArn``; not a bare ``id``, nor ``secret_id``."""
    leaf = re.sub(r"\[[^\]]*\]", "", key).rsplit(".", 1)[-1].rsplit("/", 1)[-1]
    words = [word.lower() for word in _WORDS.findall(leaf)]
    if not words:
        return False
    if words[-1] in _NAMES_A_UUID:
        return True
    return words[-1] in _ID and len(words) > 1 and not _SECRET_WORDS.intersection(words)


class UuidIdentifier(Filter):
    name = "uuid-identifier"

    def drops(self, candidate: Candidate, doc: Document) -> bool:
        if not UUID.match(candidate.value.strip()):
            return False
        if candidate.detector == "uuid":
            if candidate.in_code or doc.name.endswith(_DOCUMENTATION):  # GUID constants, documented ids
                return True
            if _inside_a_name(doc.data, candidate.span.start):
                return True
            return names_an_identifier(candidate.key or candidate.key_path)
        return candidate.kind not in CREDENTIAL_KINDS
