"""Prose: messages, labels and translations that merely mention a password or a token."""

from __future__ import annotations

import re

from migrator.discover.document import Document
from migrator.discover.filters.base import Filter
from migrator.discover.models import Candidate

_WORD = re.compile(r"[^\W\d_]{2,}")
_I18N_PATH = re.compile(r"(?:^|/)(?:locales?|i18n|l10n|lang|langs|languages|translations?|messages)(?:/|$)"
                        r"|(?:^|/)[a-z]{2}(?:[-_][a-zA-Z]{2,4})?\.(?:json|ya?ml|properties|po|strings|xlf)$")


def is_prose(value: str) -> bool:
    """Two or more words separated by spaces, a sentence, or a word in a non-Latin script:
    written for people, not machines."""
    stripped = value.strip()
    if not stripped.isascii() and not any(c.isdigit() for c in stripped):
        letters = [c for c in stripped if c.isalpha()]
        if letters and sum(1 for c in letters if not c.isascii()) * 2 >= len(letters):
            return True  # "新しいパスワード", "Lösenord" is ASCII-heavy and stays a candidate
    if " " not in stripped:
        return False
    words = _WORD.findall(stripped)
    if len(words) >= 2:
        return True
    return bool(re.search(r"[.!?:]\s", stripped))


class Prose(Filter):
    name = "prose"

    def drops(self, candidate: Candidate, doc: Document) -> bool:
        if candidate.detector != "keyword":
            return False
        value = candidate.value
        if is_prose(value):
            return True
        # In translation catalogues a value with whitespace, non-ASCII letters, or that is a
        # plain word ("Senha", "Wachtwoord") is text.
        if not _I18N_PATH.search(doc.path.lower()):
            return False
        return " " in value or not value.isascii() or value.isalpha()
