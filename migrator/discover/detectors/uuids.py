"""Every UUID, reported at low confidence (``--no-uuids`` turns it off).

Many credentials are UUID-shaped and carry no prefix: Consul ACL secret ids, legacy Vault tokens,
Heroku and Snyk API keys, collection and workspace keys of API tools. A UUID under a key that says
"token" is reported by the keyword detector at higher confidence; this detector reports the rest
at low confidence, and the ``uuid-identifier`` filter drops those whose key names a non-secret
identifier (``tenant_id``, ``uid``, ``ProjectGuid`` ...). ``--min-confidence medium`` hides them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from migrator.discover.detectors.base import Hit, TextDetector
from migrator.discover.document import Document
from migrator.discover.models import Confidence

# Searched from its first dash: a pattern that starts with a literal is found by a fast scan,
# where a leading look-behind would be tried at every position. The eight digits before the dash
# are checked in Python.
_UUID_TAIL = re.compile(r"-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![0-9a-fA-F-])")
_HEX = frozenset("0123456789abcdefABCDEF")
_HEX_OR_DASH = _HEX | {"-"}


class UuidDetector(TextDetector):
    name = "uuid"

    def scan(self, doc: Document) -> Iterator[Hit]:
        text = doc.text
        for match in _UUID_TAIL.finditer(text):
            start = match.start() - 8
            if start < 0 or not _HEX.issuperset(text[start:start + 8]):
                continue
            if start and text[start - 1] in _HEX_OR_DASH:
                continue  # part of a longer hex run
            yield Hit("uuid", "uuid", start, match.end(), Confidence.LOW)
