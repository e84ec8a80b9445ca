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

_UUID = re.compile(r"(?<![0-9a-fA-F-])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                   r"(?![0-9a-fA-F-])")


class UuidDetector(TextDetector):
    name = "uuid"

    def scan(self, doc: Document) -> Iterator[Hit]:
        for match in _UUID.finditer(doc.text):
            yield Hit("uuid", "uuid", match.start(), match.end(), Confidence.LOW)
