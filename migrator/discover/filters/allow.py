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

    def drops(self, candidate: Candidate, doc: Document) -> bool:
        low = doc.lower
        if not any(marker in low for marker in MARKERS):
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
