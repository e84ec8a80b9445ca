"""Every UUID, reported at low confidence: opt-in (``--uuids``) for audits.

Some providers issue UUID-shaped API keys (Heroku, many SaaS products), so an audit may want to
see every UUID in a tree. By default only UUIDs under a credential key (``api_token: 1f0c...``)
are reported, by the keyword detector: the rest are record, request and resource identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from migrator.discover.detectors.base import Hit, TextDetector
from migrator.discover.document import Document
from migrator.discover.models import Confidence

# Searched from its first dash (a literal is found fast); the eight digits before it are checked
# by a fixed-width look-behind, and the start is moved back to them.
_UUID_TAIL = re.compile(r"(?<=[0-9a-fA-F]{8})-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                        r"(?![0-9a-fA-F-])")
_HEX_OR_DASH = frozenset("0123456789abcdefABCDEF-")


class UuidDetector(TextDetector):
    name = "uuid"

    def scan(self, doc: Document) -> Iterator[Hit]:
        text = doc.text
        for match in _UUID_TAIL.finditer(text):
            start = match.start() - 8
            if start and text[start - 1] in _HEX_OR_DASH:
                continue  # part of a longer hex run
            yield Hit("uuid", "uuid", start, match.end(), Confidence.LOW)
