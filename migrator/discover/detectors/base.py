"""What a detector is.

Two shapes, because secrets show up in two ways:
- a *text* detector finds a secret by its own shape anywhere in a file (a provider token, a
  private key block, a URL with a password), whatever format the file is in;
- an *entry* detector judges one key/value pair a reader found (a ``password:`` key with a
  literal value).
Each returns ``Hit``s; the scanner turns them into candidates with spans and key paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from migrator.discover.document import Document
from migrator.discover.models import Confidence, Entry


@dataclass(frozen=True, slots=True)
class Hit:
    """A detector's claim: ``text[start:end]`` (character offsets) is a secret of this rule."""

    rule: str
    kind: str
    start: int
    end: int
    confidence: Confidence
    value: str | None = None  # when the value differs from the written text (escapes)
    key: str = ""
    key_path: str = ""


@dataclass(frozen=True, slots=True)
class PatternRule:
    """A declarative token format: the regex, the group holding the secret, how sure a match is.

    ``needles`` are lower-case literals one of which must occur in the file's lower-cased text
    for the regex to be worth running: a cheap test that skips most files for most rules.
    """

    rule: str
    kind: str
    pattern: str
    needles: tuple[str, ...]
    confidence: Confidence = Confidence.HIGH
    group: int | str = 0
    flags: int = 0

    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern, self.flags)


class TextDetector:
    name: ClassVar[str] = ""

    def scan(self, doc: Document) -> Iterator[Hit]:
        raise NotImplementedError


class EntryDetector:
    name: ClassVar[str] = ""

    def judge(self, entry: Entry, doc: Document) -> Hit | None:
        raise NotImplementedError


class PatternDetector(TextDetector):
    """Runs a family of PatternRules over the whole text."""

    rules: ClassVar[tuple[PatternRule, ...]] = ()

    def __init__(self) -> None:
        self._compiled = [(rule, rule.compiled()) for rule in self.rules]

    def scan(self, doc: Document) -> Iterator[Hit]:
        low = doc.lower
        text = doc.text
        for rule, regex in self._compiled:
            if rule.needles and not any(needle in low for needle in rule.needles):
                continue
            for match in regex.finditer(text):
                start, end = match.span(rule.group)
                if start < end:
                    yield Hit(rule.rule, rule.kind, start, end, rule.confidence)
