"""Documented example credentials: the keys providers print in their docs, and values that say so."""

from __future__ import annotations

from migrator.discover.document import Document
from migrator.discover.filters.base import Filter
from migrator.discover.models import Candidate

# Published in providers' documentation; they appear in countless READMEs and tests.
DOCUMENTED = frozenset({
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AKIAI44QH8DHBEXAMPLE",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    "ASIAIOSFODNN7EXAMPLE",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
    "sk_test_26PHem9AhJZvU623DfE1x4sd",
    "rk_test_26PHem9AhJZvU623DfE1x4sd",
    "xoxb-not-a-real-token-this-will-not-work",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "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",
})
_MARKERS = ("example", "sample", "dummy", "fake", "placeholder", "your-", "your_", "notreal", "not-a-real",
            "not_a_real", "redacted", "lorem", "ipsum")


class DocumentedExample(Filter):
    name = "documented-example"

    def drops(self, candidate: Candidate, doc: Document) -> bool:
        value = candidate.value.strip()
        if value in DOCUMENTED:
            return True
        if candidate.kind == "private_key":
            # A key's base64 body holds hundreds of random letters: "fake" or "dummy" turns up in
            # one key of a few hundred by chance, and is no sign of an example.
            return False
        low = value.lower()
        return any(marker in low for marker in _MARKERS)
