"""What a filter is: one reason to drop a candidate, with a name the stats and tests use."""

from __future__ import annotations

from typing import ClassVar

from migrator.discover.document import Document
from migrator.discover.models import Candidate


class Filter:
    """Drops candidates for exactly one reason. ``name`` is stable and user-facing."""

    name: ClassVar[str] = ""

    def drops(self, candidate: Candidate, doc: Document) -> bool:
        raise NotImplementedError
