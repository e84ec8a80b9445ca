"""JSON (and JSON with comments, as in VS Code settings and tsconfig files).

One regular expression tokenises the document: a ``"key": "value"`` pair is a single token, and
so is a key opening a container, a bare string, a bracket, a number or a literal. The reader
knows each string's exact offsets and key path without building the document, which keeps it
fast on multi-megabyte API fixtures. Commas and white space fall between tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader, ReaderError
from migrator.discover.readers.line import unescape

# Possessive quantifiers throughout: a file is untrusted input, and no input may make the
# tokenizer backtrack.
_STRING = r'"([^"\\\n]*+(?:\\.[^"\\\n]*+)*+)"'
_TOKEN = re.compile(
    r"[\s,\ufeff]*+(?:"  # white space (and a byte-order mark) and commas between tokens, in one tight loop
    + _STRING + r"(?:\s*:\s*(?:" + _STRING + r"|([\[{]))?)?"  # 1 key or bare string, 2 string value, 3 opener
    r"|([\[{])"  # 4 an opener that is a list item or the root
    r"|([\]}])"  # 5 a closer
    r"|-?\d[\d.eE+\-]*|true|false|null"  # a scalar that is not a string
    r"|//[^\n]*|/\*.*?(?:\*/|\Z)"  # comments (JSONC); an unclosed one runs to the end, not quadratic
    r"|(?P<junk>.))",  # anything else: not JSON (caught at once, so a scan never re-reads a long run)
    re.DOTALL,
)
# Deeper nesting is no configuration anyone writes; key paths that long would cost quadratic time.
MAX_DEPTH = 256
_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _decode(raw: str) -> str:
    if "\\" not in raw:
        return raw
    return unescape(_UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw))


class JsonReader(Reader):
    name = "json"
    wanted_covers_text = True  # read_wanted only succeeds on strict JSON, which has no comments
    patterns = ("*.json", "*.jsonc", "*.json5", "*.json.dist", "*.json.example", "*.json.sample",
                "*.tfstate", "*.tfstate.backup", "*.ipynb", ".babelrc", ".eslintrc", "composer.lock")

    def read(self, doc: Document) -> Iterator[Entry]:
        join = self.join
        # The stack holds the enclosing containers: (is_object, path, key, index).
        stack: list[tuple[bool, str, str, int]] = []
        in_object = False
        path = key = ""
        index = 0
        pending: str | None = None  # a key whose (non-string) value is next
        for match in _TOKEN.finditer(doc.text):
            first = match.group(1)
            if first is not None:
                value_raw = match.group(2)
                if value_raw is not None:  # "key": "value"
                    name = _decode(first) if "\\" in first else first
                    value = _decode(value_raw) if "\\" in value_raw else value_raw
                    yield Entry(join(path, name), name, value, match.start(2), match.end(2), '"', value != value_raw)
                    pending = None
                    continue
                opener = match.group(3)
                if opener is not None:  # "key": { or "key": [
                    name = _decode(first)
                    stack.append((in_object, path, key, index))
                    if len(stack) > MAX_DEPTH:
                        raise ReaderError(f"malformed JSON at line {doc.line_of(match.start())}: nested deeper "
                                          f"than {MAX_DEPTH} levels")
                    in_object, path, key, index = opener == "{", join(path, name), name, 0
                    pending = None
                    continue
                if match.end(1) + 1 < match.end():  # "key": followed by a number or literal
                    pending = first
                    continue
                value = _decode(first)  # a bare string: a list item or the root
                if in_object:
                    raise ReaderError(f"malformed JSON at line {doc.line_of(match.start())}: a string where a key "
                                      "belongs")
                item_path = join(path, f"[{index}]") if stack else ""
                yield Entry(item_path, key, value, match.start(1), match.end(1), '"', value != first)
                index += 1
                continue
            opener = match.group(4)
            if opener is not None:
                if pending is not None:  # "key": /* comment */ {
                    child, child_key = join(path, pending), pending
                elif in_object:
                    raise ReaderError(f"malformed JSON at line {doc.line_of(match.start())}: unexpected '{opener}'")
                else:
                    child, child_key = (join(path, f"[{index}]") if stack else path), key
                stack.append((in_object, path, key, index))
                if len(stack) > MAX_DEPTH:
                    raise ReaderError(f"malformed JSON at line {doc.line_of(match.start())}: nested deeper than "
                                      f"{MAX_DEPTH} levels")
                in_object, path, key, index = opener == "{", child, child_key, 0
                pending = None
                continue
            closer = match.group(5)
            if closer is not None:
                if not stack or in_object != (closer == "}"):
                    raise ReaderError(f"malformed JSON at line {doc.line_of(match.start())}: unexpected '{closer}'")
                in_object, path, key, index = stack.pop()
                if not in_object:
                    index += 1
                pending = None
                continue
            if match.group("junk") is not None:
                raise ReaderError(f"malformed JSON at line {doc.line_of(match.start('junk'))}: unexpected character")
            if match.group(0).lstrip(" \t\r\n,")[:1] not in ("/", ""):  # a number or literal
                if not in_object:
                    index += 1
                pending = None
        if stack:
            raise ReaderError("malformed JSON: unexpected end of file (unclosed '{' or '[')")

    def read_wanted(self, doc: Document, wanted: Callable[[str, str], bool]) -> list[Entry] | None:
        """Parse with the C decoder, keep the string members whose key is wanted, and find each
        one's offsets by searching forward in document order. Anything unusual (comments,
        wanted strings inside lists, escapes that do not round-trip) returns None."""
        try:
            tree = json.loads(doc.text.lstrip("\ufeff"), object_pairs_hook=_unique_members)
        except (ValueError, RecursionError):
            return None  # malformed, or a duplicate key: the tokenizer reports every member
        found: list[tuple[str, str, str]] = []  # (key path, key, value) in document order
        if not _collect(tree, "", wanted, found, self.join):
            return None
        text = doc.text
        entries: list[Entry] = []
        cursor = 0
        for path, key, value in found:
            needle = f'"{key}"'
            while True:
                position = text.find(needle, cursor)
                if position < 0:
                    return None  # the key is written with escapes: let the tokenizer read it
                match = _MEMBER_VALUE.match(text, position + len(needle))
                cursor = position + len(needle)
                if match is None:
                    continue  # the same text as a value, or a member whose value is not a string
                raw = match.group(1)
                cursor = match.end()
                if (_decode(raw) if "\\" in raw else raw) == value:
                    break
            entries.append(Entry(path, key, value, match.start(1), match.end(1), '"', raw != value))
        return entries


def _collect(node: object, path: str, wanted: Callable[[str, str], bool], found: list[tuple[str, str, str]],
             join: Callable[[str, str], str]) -> bool:
    """Pre-order (document order) walk gathering wanted string members; False to give up."""
    stack: list[tuple[object, str]] = [(node, path)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            children: list[tuple[object, str]] = []
            for key, value in node.items():
                if isinstance(value, str):
                    if wanted(key, value):
                        children.append((_Member(key, value), join(path, key)))
                elif isinstance(value, dict | list):
                    children.append((value, join(path, key)))
            stack.extend(reversed(children))
        elif isinstance(node, list):
            list_key = path.rpartition(".")[2].split("[", 1)[0]
            for index in range(len(node) - 1, -1, -1):
                item = node[index]
                if isinstance(item, dict | list):
                    stack.append((item, join(path, f"[{index}]")))
                elif isinstance(item, str) and wanted(list_key, item):
                    return False  # a wanted string in a list: positions need the full tokenizer
        elif isinstance(node, _Member):
            found.append((path, node.key, node.value))
    return True


def _unique_members(pairs: list[tuple[str, object]]) -> dict[str, object]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("duplicate key")
    return members


class _Member:
    __slots__ = ("key", "value")

    def __init__(self, key: str, value: str) -> None:
        self.key, self.value = key, value


# What follows a member's key: the colon and a string value (group 1).
_MEMBER_VALUE = re.compile(r"\s*:\s*" + _STRING)
