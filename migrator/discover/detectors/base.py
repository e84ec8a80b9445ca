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

    A rule is found one of two ways, both far cheaper than running its regex over every file:
    - ``prefixes``: the token starts with one of these literals (case-sensitive). The detector
      splits the text into runs of token characters once and runs the regex only at runs that
      start with a prefix.
    - ``needles``: lower-case literals one of which must occur in the file's lower-cased text
      (for formats known by their context, ``AccountKey=...``); the regex then runs on the file.
    """

    rule: str
    kind: str
    pattern: str
    prefixes: tuple[str, ...] = ()
    needles: tuple[str, ...] = ()
    confidence: Confidence = Confidence.HIGH
    group: int | str = 0

    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern)


class TextDetector:
    name: ClassVar[str] = ""

    def scan(self, doc: Document) -> Iterator[Hit]:
        raise NotImplementedError


class EntryDetector:
    name: ClassVar[str] = ""

    def judge(self, entry: Entry, doc: Document) -> Hit | None:
        raise NotImplementedError

    def scan(self, entries: list[Entry], doc: Document) -> Iterator[Hit]:
        """Judge every entry; detectors override this to skip entries they can rule out in bulk."""
        for entry in entries:
            hit = self.judge(entry, doc)
            if hit is not None:
                yield hit


# Runs of characters tokens are made of; a token starts where a run does.
_RUN = re.compile(r"[A-Za-z0-9_\-+/.~]{16,}")


def _lines_with(low: str, needles: tuple[str, ...]) -> list[tuple[int, int]]:
    """The (start, end) offsets of every line of ``low`` that contains one of ``needles``."""
    lines: set[tuple[int, int]] = set()
    for needle in needles:
        position = low.find(needle)
        while position >= 0:
            begin = low.rfind("\n", 0, position) + 1
            end = low.find("\n", position)
            end = len(low) if end < 0 else end
            lines.add((begin, end))
            position = low.find(needle, end)
    return sorted(lines)


class PatternDetector(TextDetector):
    """Runs a family of PatternRules over a document."""

    rules: ClassVar[tuple[PatternRule, ...]] = ()

    def __init__(self) -> None:
        self._by_prefix: list[tuple[tuple[str, ...], PatternRule, re.Pattern[str]]] = []
        self._by_needle: list[tuple[PatternRule, re.Pattern[str]]] = []
        for rule in self.rules:
            if rule.prefixes:
                self._by_prefix.append((rule.prefixes, rule, rule.compiled()))
            else:
                self._by_needle.append((rule, rule.compiled()))
        # Every prefix has at least two characters: a set lookup on a run's first two rules most out.
        self._heads = {p[:2] for prefixes, _, _ in self._by_prefix for p in prefixes}

    def scan(self, doc: Document) -> Iterator[Hit]:
        text = doc.text
        heads = self._heads
        for run in _RUN.finditer(text):
            token = run.group()
            if token[:2] not in heads:
                continue
            for prefixes, rule, regex in self._by_prefix:
                if token.startswith(prefixes):
                    match = regex.match(text, run.start())
                    if match:
                        yield self._hit(rule, match)
        low = doc.lower
        for rule, regex in self._by_needle:
            for begin, end in _lines_with(low, rule.needles):
                for match in regex.finditer(text, begin, end):
                    yield self._hit(rule, match)

    @staticmethod
    def _hit(rule: PatternRule, match: re.Match[str]) -> Hit:
        start, end = match.span(rule.group)
        return Hit(rule.rule, rule.kind, start, end, rule.confidence)
