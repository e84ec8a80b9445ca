"""Shared helpers: write a real file, load it as the scanner does, read it, check the spans."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers import Reader, ReaderError, reader_for


@dataclass
class Parsed:
    doc: Document
    reader: Reader
    entries: list[Entry]

    @property
    def paths(self) -> list[str]:
        return [e.key_path for e in self.entries]

    def all(self, key_path: str) -> list[Entry]:
        return [e for e in self.entries if e.key_path == key_path]

    def __getitem__(self, key_path: str) -> Entry:
        found = self.all(key_path)
        assert found, f"no entry {key_path!r}; have {self.paths}"
        assert len(found) == 1, f"{len(found)} entries for {key_path!r}"
        return found[0]

    def check(self, key_path: str, value: str, *, key: str | None = None, raw: bool | None = None,
              quote: str | None = None) -> Entry:
        """Assert the entry's value, and that its offsets and byte span point at what is written."""
        entry = self[key_path]
        assert entry.value == value
        if key is not None:
            assert entry.key == key
        if raw is not None:
            assert entry.raw is raw
        if quote is not None:
            assert entry.quote == quote
        return self.verify(entry)

    def verify(self, entry: Entry) -> Entry:
        """The written text is the value (unless raw), and the byte span holds exactly that text."""
        written = self.doc.text[entry.start : entry.end]
        if not entry.raw:
            assert written == entry.value
        span = self.doc.span(entry.start, entry.end)
        assert self.doc.data[span.start : span.end] == written.encode(self.doc.encoding)
        assert span.line == self.doc.line_of(entry.start)
        return entry


def load(tmp_path: Path, name: str, content: str | bytes) -> Document:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    doc, _warning = Document.from_bytes(name, path.read_bytes())
    return doc


@pytest.fixture
def read(tmp_path: Path) -> Callable[..., Parsed]:
    """``read(name, content, reader=None)``: the entries the claiming (or given) reader yields."""

    def _read(name: str, content: str | bytes, reader: Reader | None = None) -> Parsed:
        doc = load(tmp_path, name, content)
        chosen = reader or reader_for(doc)
        return Parsed(doc, chosen, list(chosen.read(doc)))

    return _read


@pytest.fixture
def malformed(tmp_path: Path) -> Callable[..., str]:
    """``malformed(name, content, *secrets)``: the ReaderError message, checked to hold no secret."""

    def _malformed(name: str, content: str, *secrets: str) -> str:
        doc = load(tmp_path, name, content)
        with pytest.raises(ReaderError) as info:
            list(reader_for(doc).read(doc))
        message = str(info.value)
        assert "\n" not in message
        for secret in secrets:
            assert secret not in message
        return message

    return _malformed
