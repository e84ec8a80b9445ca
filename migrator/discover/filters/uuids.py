"""UUIDs in non-secret contexts: identifiers of tenants, users, projects, requests and resources.

A UUID is reported (at low confidence) unless its key names what it identifies: ``tenant_id``,
``subscriptionId``, ``uid``, ``ProjectGuid``, ``X-Request-Id``. Those are identifiers that
platforms print in consoles and URLs, never credentials. So are ``urn:uuid:`` names and bare
GUID constants in program source (a key in code is found by the keyword detector, not this one).
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

# What a non-secret identifier names, then "id", "uid" or "guid" (any case or separator).
_IDENTIFIER_KEY = re.compile(
    r"(?:^|[^a-z])(?:u|g|object|tenant|subscription|directory|client|app|application|user|group|role|org"
    r"|organi[sz]ation|account|zone|region|project|solution|product|package|assembly|type|workspace|folder"
    r"|dashboard|datasource|panel|team|device|instance|node|cluster|resource|owner|controller|pod|namespace"
    r"|volume|image|snapshot|request|correlation|trace|span|transaction|message|event|job|task|build|run"
    r"|release|deployment|pipeline|plan|product|customer|order|item|record|entity|component|module|plugin"
    r"|schema|table|sheet|document|file|site|channel|topic|queue|policy|rule|network|vpc|subnet|host|guid"
    r")[-_. ]?(?:id|guid|uuid)s?$"
    r"|(?:^|[^a-z])(?:uid|guid)s?$"
)


def names_an_identifier(key: str) -> bool:
    """True when the key's last segment says the value identifies something (``tenantId``, ``uid``)."""
    leaf = key.rsplit(".", 1)[-1].rsplit("/", 1)[-1]
    return bool(_IDENTIFIER_KEY.search(leaf.lower()))


class UuidIdentifier(Filter):
    name = "uuid-identifier"

    def drops(self, candidate: Candidate, doc: Document) -> bool:
        if not UUID.match(candidate.value.strip()):
            return False
        if candidate.detector == "uuid":
            if candidate.in_code:  # GUID constants in program source (COM, known folders, tests)
                return True
            start = candidate.span.start
            if doc.data[max(0, start - 9):start].lower() == b"urn:uuid:":  # a URN names a thing
                return True
            return names_an_identifier(candidate.key or candidate.key_path)
        return candidate.kind not in CREDENTIAL_KINDS
