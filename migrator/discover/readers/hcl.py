"""HCL (Terraform ``.tf``/``.tfvars``, Nomad, Vault and Consul configs).

A regular expression tokenises strings (with ``${...}`` interpolations), heredocs, comments,
identifiers and punctuation; a small state machine tracks blocks (``resource "a" "b" {``),
attributes, objects, tuples and function calls to give every string its key path. In a
``variable "name" { default = "..." }`` block the entry's key is the variable's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader, ReaderError

# An interpolation may hold quoted strings and two levels of braces: "${merge({a = {}})}".
_INTERP = r"""[$%]\{(?:[^{}"]|"(?:[^"\\\n]|\\.)*"|\{(?:[^{}]|\{[^{}]*\})*\})*\}"""
_TOKEN = re.compile(
    rf"""
      \#[^\n]* | //[^\n]* | /\*[\s\S]*?(?:\*/|\Z)
    | "(?P<str>(?:[^"\\\n$%]|\\.|[$%](?!\{{)|{_INTERP})*)"
    | <<(?P<indent>-)?(?P<tag>[A-Za-z_][\w\-]*)[ \t]*\r?\n(?P<heredoc>[\s\S]*?)^[ \t]*(?P=tag)[ \t]*\r?$
    | (?P<badheredoc><<-?[A-Za-z_])
    | (?P<bad>")
    | (?P<attr>[A-Za-z_][\w\-]*)[ \t]*(?:=(?![=>])|:(?!:))
    | (?P<ident>[A-Za-z_][\w\-]*(?:\.(?:[A-Za-z_][\w\-]*|\d+|\*))*)
    | (?:==|!=|<=|>=|=>|&&|\|\||::)
    | (?P<punct>[{{}}\[\]()=:,]|\n\s*)
    """,
    re.VERBOSE | re.MULTILINE,
)
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.))")
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_INDENT = re.compile(r"^[ \t]*", re.MULTILINE)

_BODY, _LIST, _CALL, _INDEX = 0, 1, 2, 3

_MAX_DEPTH = 256


def _decode(raw: str) -> str:
    if "\\" not in raw:
        return raw

    def one(match: re.Match[str]) -> str:
        if match.group(1) or match.group(2):
            return chr(int(match.group(1) or match.group(2), 16))
        char = match.group(3)
        return _SIMPLE.get(char, "\\" + char)

    return _ESCAPE.sub(one, raw)


def _dedent(raw: str) -> str:
    """``<<-`` heredocs drop the smallest indentation of their non-blank lines."""
    lines = raw.split("\n")
    widths = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
    cut = min(widths) if widths else 0
    return "\n".join(line[cut:] for line in lines) if cut else raw


class _Frame:
    """A block or object body, a tuple ``[...]``, or a call/parenthesis ``(...)``."""

    __slots__ = ("block", "head", "in_value", "index", "key", "kind", "path", "variable")

    def __init__(self, kind: int, path: str, key: str, block: bool = False) -> None:
        self.kind = kind
        self.path = path
        self.key = key
        self.block = block
        self.index = 0
        self.head: list[str] = []  # identifiers and labels read before '=' or '{'
        self.in_value = False
        self.variable = ""  # the name of a `variable "name" {` block


class HclReader(Reader):
    name = "hcl"
    patterns = ("*.tf", "*.tfvars", "*.hcl", "*.nomad", "*.tf.example", "*.tfvars.example",
                "*.tfvars.sample", "*.tf.dist", "*.tfvars.dist", "*.tfbackend", "*.pkr.hcl", "*.sentinel")

    def read(self, doc: Document) -> Iterator[Entry]:
        text = doc.text
        stack: list[_Frame] = [_Frame(_BODY, "", "", block=True)]
        operand_end = -1  # where the last identifier, ']' or ')' ended: `x[...]` there is an index
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup
            top = stack[-1]
            if len(stack) > _MAX_DEPTH:  # key paths that long would cost quadratic time
                raise ReaderError(f"malformed HCL at line {doc.line_of(match.start())}: nested deeper than "
                                  f"{_MAX_DEPTH} levels")
            indexing = match.start() == operand_end
            if kind == "punct":
                char = match.group("punct")[0]
                if char == "\n" or char == ",":
                    if top.kind == _BODY:
                        top.in_value = False
                        top.head = []
                    elif top.kind == _LIST and char == ",":
                        top.index += 1
                elif char == "=" or char == ":":
                    if top.kind == _BODY and not top.in_value and top.head:
                        top.in_value = True
                elif char == "[" and indexing:
                    stack.append(_Frame(_INDEX, *self._position(top)))
                elif char in "{[(":
                    stack.append(self._open(char, top))
                elif len(stack) > 1:  # '}', ']' or ')'
                    operand_end = match.end()
                    closed = stack.pop()
                    if closed.block:
                        stack[-1].head = []
                else:
                    raise ReaderError(f"malformed HCL at line {doc.line_of(match.start())}: unbalanced '{char}'")
            elif kind == "attr":  # `name =` (or `name:` in an object)
                if top.kind == _BODY and not top.in_value:
                    top.head.append(match.group("attr"))
                    top.in_value = True
            elif kind == "ident":
                operand_end = match.end()
                if top.kind == _BODY and not top.in_value:
                    top.head.append(match.group("ident"))
            elif kind == "str":
                raw = match.group("str")
                if top.kind == _BODY and not top.in_value:
                    top.head.append(_decode(raw))
                    continue
                value = _decode(raw)
                if value and top.kind != _INDEX:  # `m["key"]` is a look-up, not a value
                    path, key = self._position(top)
                    start, end = match.span("str")
                    yield Entry(path, key, value, start, end, '"', value != raw)
            elif kind == "heredoc":
                if top.kind == _BODY and not top.in_value:
                    continue
                start, end = match.span("heredoc")
                if text[start:end].endswith("\n"):
                    end -= 1
                    if text[start:end].endswith("\r"):
                        end -= 1
                raw = text[start:end]
                value = _dedent(raw) if match.group("indent") else raw
                if value:
                    path, key = self._position(top)
                    yield Entry(path, key, value, start, end, "<<", value != raw)
            elif kind in ("bad", "badheredoc"):
                what = "string" if kind == "bad" else "heredoc"
                raise ReaderError(f"malformed HCL at line {doc.line_of(match.start())}: unterminated {what}")
        if len(stack) > 1:
            raise ReaderError("malformed HCL: unexpected end of file (unclosed '{', '[' or '(')")

    def _open(self, char: str, top: _Frame) -> _Frame:
        if top.kind == _BODY and not top.in_value:
            if char != "{" or not top.head:  # `(key expr) = ...` or a stray bracket
                return _Frame(_CALL, top.path, top.key)
            path = top.path
            for label in top.head:
                path = self.join(path, label)
            frame = _Frame(_BODY, path, top.head[-1], block=True)
            if len(top.head) == 2 and top.head[0] == "variable":
                frame.variable = top.head[1]
            top.head = []
            return frame
        path, key = self._position(top)
        if char == "{":
            return _Frame(_BODY, path, key)
        return _Frame(_LIST if char == "[" else _CALL, path, key)

    def _position(self, top: _Frame) -> tuple[str, str]:
        """The key path and key of a value read at the current position of ``top``."""
        if top.kind == _LIST:
            return self.join(top.path, f"[{top.index}]"), top.key
        if top.kind >= _CALL:
            return top.path, top.key
        key = top.head[-1] if top.head else top.key
        path = self.join(top.path, key) if top.head else top.path
        if top.variable and key == "default":
            key = top.variable
        return path, key


# -- structure, for rewriting Terraform code (migrator.rewrite.terraform) -----------------------------

_TRAVERSAL = re.compile(r"(?<![\w.\-])[A-Za-z_][\w\-]*(?:\.(?:[A-Za-z_][\w\-]*|\d+|\*))*")
_INTERP_RE = re.compile(_INTERP)


@dataclass(frozen=True, slots=True)
class Block:
    """One block of an HCL body: ``labels`` its type and labels (``("variable", "db_password")``),
    ``outer`` the types of the blocks around it, ``start`` its type's first character, ``open``
    and ``end`` its braces (``end`` just after the '}'), ``attributes`` each attribute of its own
    body (not of nested blocks) -> the character span of its expression."""

    labels: tuple[str, ...]
    outer: tuple[str, ...]
    start: int
    open: int
    end: int
    attributes: dict[str, tuple[int, int]]

    @property
    def type(self) -> str:
        return self.labels[0]


class _Open:
    __slots__ = ("attribute", "attributes", "block", "head", "head_start", "kind", "open", "start", "value_start")

    def __init__(self, kind: int, block: tuple[str, ...] | None = None, open_at: int = -1) -> None:
        self.kind = kind
        self.block = block  # the labels of the block this body belongs to (None: an object, a tuple, a call)
        self.open = open_at
        self.start = -1  # where the block's type is written
        self.head: list[str] = []
        self.head_start = -1
        self.attribute = ""  # the attribute whose expression is being read
        self.value_start = -1
        self.attributes: dict[str, tuple[int, int]] = {}

    def end_value(self, at: int) -> None:
        if self.attribute:
            self.attributes[self.attribute] = (self.value_start, at)
            self.attribute = ""


def blocks(text: str) -> list[Block]:
    """Every block of an HCL file (nested ones too), in the order they close. Raises ReaderError
    on text the reader would refuse (unbalanced brackets, unterminated strings)."""
    found: list[Block] = []
    stack: list[_Open] = [_Open(_BODY, ())]
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        top = stack[-1]
        body = top.kind == _BODY and top.block is not None
        if kind == "punct":
            char = match.group("punct")[0]
            if char == "\n" or char == ",":
                if top.kind == _BODY:
                    top.end_value(match.start())
                    top.head = []
            elif char == "=" or char == ":":
                if body and not top.attribute and top.head:
                    top.attribute, top.value_start, top.head = top.head[0], match.end(), []
            elif char == "{" and body and not top.attribute and top.head:
                stack.append(_Open(_BODY, tuple(top.head), match.start()))
                stack[-1].start = top.head_start
                top.head = []
            elif char in "{[(":
                stack.append(_Open(_BODY if char == "{" else _LIST))
            elif len(stack) > 1:
                closed = stack.pop()
                closed.end_value(match.start())
                if closed.block is not None and closed.kind == _BODY:
                    outer = tuple(o.block[0] for o in stack if o.block)
                    found.append(Block(closed.block, outer, closed.start, closed.open, match.end(),
                                       closed.attributes))
            else:
                raise ReaderError(f"unbalanced '{char}' at line {_line(text, match.start())}")
        elif kind == "attr":
            if body and not top.attribute:
                top.attribute, top.value_start, top.head = match.group("attr"), match.end(), []
        elif kind in ("ident", "str"):
            if body and not top.attribute:
                if not top.head:
                    top.head_start = match.start()
                top.head.append(match.group(kind) if kind == "ident" else _decode(match.group("str")))
        elif kind in ("bad", "badheredoc"):
            what = "string" if kind == "bad" else "heredoc"
            raise ReaderError(f"unterminated {what} at line {_line(text, match.start())}")
    if len(stack) > 1:
        raise ReaderError("unexpected end of file (unclosed '{', '[' or '(')")
    stack[0].end_value(len(text))
    return found


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def traversals(text: str) -> Iterator[tuple[str, int, int]]:
    """Every reference (``var.name``, ``local.x.y``, ``data.a.b.value``) in HCL text with its
    character span: bare ones and those inside the ``${...}`` of strings and heredocs, none in
    comments or literal text."""
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "ident":
            yield match.group("ident"), match.start(), match.end()
        elif kind in ("str", "heredoc"):
            begin = match.start(kind)
            for interpolation in _INTERP_RE.finditer(match.group(kind)):
                if interpolation.start() > 0 and match.group(kind)[interpolation.start() - 1] == "$":
                    continue  # $${ is a literal "${"
                inner = interpolation.group()
                for name in _TRAVERSAL.finditer(inner, 2):
                    yield name.group(), begin + interpolation.start() + name.start(), \
                        begin + interpolation.start() + name.end()
