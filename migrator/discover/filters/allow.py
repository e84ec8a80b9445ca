"""Inline allow comments: ``vaultshift: allow`` on the value's line or the line above it.

The markers of detect-secrets (``pragma: allowlist secret``) and gitleaks (``gitleaks:allow``)
are honoured too, so a team moving to vaultshift keeps its existing annotations.
"""

from __future__ import annotations

from migrator.discover.document import Document
from migrator.discover.filters.base import Filter
from migrator.discover.models import Candidate

MARKERS = ("vaultshift: allow", "vaultshift:allow", "pragma: allowlist secret", "gitleaks:allow")


class AllowComment(Filter):
    name = "allow-comment"

    def __init__(self) -> None:
        self._doc: Document | None = None  # the document last asked about, and whether it has
        self._marked = False  # a marker anywhere: most files have none, and that ends the test

    def drops(self, candidate: Candidate, doc: Document) -> bool:
        if doc is not self._doc:
            self._doc = doc
            self._marked = any(marker in doc.lower for marker in MARKERS)
        if not self._marked:
            return False
        line = candidate.span.line
        lines = [doc.line_text(line).lower()]
        if candidate.span.end_line != line:
            lines.append(doc.line_text(candidate.span.end_line).lower())
        if line > 1:
            above = doc.line_text(line - 1).lower()
            if "allow-next-line" in above or above.strip().startswith(("#", "//", ";", "<!--", "--", "/*")):
                lines.append(above)
        return any(marker in text for text in lines for marker in MARKERS)
