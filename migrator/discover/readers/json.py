"""JSON (and JSON with comments, as in VS Code settings and tsconfig files).

A single regular expression tokenises strings and structural characters, so the reader knows
each string's exact offsets and key path without building the document. Numbers, literals and
comments fall between tokens and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader, ReaderError
from migrator.discover.readers.line import unescape

_TOKEN = re.compile(r'"((?:[^"\\\n]|\\.)*)"(\s*:)?|[{}\[\],]|//[^\n]*|/\*.*?\*/', re.DOTALL)
_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _decode(raw: str) -> str:
    if "\\" not in raw:
        return raw
    return unescape(_UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw))


class JsonReader(Reader):
    name = "json"
    patterns = ("*.json", "*.jsonc", "*.json5", "*.json.dist", "*.json.example", "*.json.sample",
                "*.tfstate", "*.tfstate.backup", "*.ipynb", ".babelrc", ".eslintrc", "composer.lock")

    def read(self, doc: Document) -> Iterator[Entry]:
        # Frames: [is_object, path, next list index]; the key waiting for its value.
        frames: list[list] = []
        path = ""
        pending_key: str | None = None
        is_object = False
        index = 0
        text = doc.text
        for match in _TOKEN.finditer(text):
            raw = match.group(1)
            if raw is not None:
                if match.group(2):  # a key
                    pending_key = _decode(raw)
                    continue
                start, end = match.start(1), match.end(1)
                value = _decode(raw)
                if pending_key is not None:
                    yield Entry(self.join(path, pending_key), pending_key, value, start, end, '"', value != raw)
                    pending_key = None
                elif frames and not is_object:
                    key = frames[-1][3]
                    yield Entry(self.join(path, f"[{index}]"), key, value, start, end, '"', value != raw)
                elif not frames:
                    yield Entry("", "", value, start, end, '"', value != raw)
                continue
            char = match.group(0)[0]
            if char in "{[":
                if pending_key is not None:
                    child, key = self.join(path, pending_key), pending_key
                elif frames and not is_object:
                    child, key = self.join(path, f"[{index}]"), frames[-1][3]
                else:
                    child, key = path, ""
                frames.append([is_object, path, index, key])
                is_object, path, index = char == "{", child, 0
                frames[-1][3] = key
                pending_key = None
            elif char in "}]":
                if not frames or is_object != (char == "}"):
                    raise ReaderError(f"malformed JSON at line {doc.line_of(match.start())}: unexpected '{char}'")
                is_object, path, index, _ = frames.pop()
                pending_key = None
            elif char == ",":
                pending_key = None
                if not is_object:
                    index += 1
        if frames:
            raise ReaderError("malformed JSON: unexpected end of file (unclosed '{' or '[')")
