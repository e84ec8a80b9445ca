"""UUIDs in non-secret contexts: identifiers of records, requests, tenants and resources.

A UUID is a credential only where the key says so (``api_token: 1f0c...``); under a bare
``key``, an ``id`` or no key at all it names something.
"""

from __future__ import annotations

import re

from migrator.discover.document import Document
from migrator.discover.filters.base import Filter
from migrator.discover.models import Candidate

UUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
_CREDENTIAL_KINDS = {"password", "secret", "token", "api_key", "credential"}


class UuidIdentifier(Filter):
    name = "uuid-identifier"

    def drops(self, candidate: Candidate, doc: Document) -> bool:
        if candidate.detector == "uuid" or not UUID.match(candidate.value.strip()):
            return False  # the opt-in UUID detector reports every UUID on purpose
        return candidate.kind not in _CREDENTIAL_KINDS
