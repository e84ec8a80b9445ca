"""Python settings and config modules, read with ``ast``.

Yields string constants assigned at module or class level (``SECRET_KEY = '...'``,
``class Config: PASSWORD = '...'``), inside dict/list/tuple literals and ``dict(...)`` calls
assigned there (``DATABASES.default.PASSWORD``); and anywhere in the file: assignments in
functions (``self.password = '...'``), equality tests against a name (``token == '...'``), dict
literals, keyword arguments and parameter defaults (``connect(password='x')``), and the defaults
of environment look-ups (``os.environ.get('X', 'default')``, ``os.getenv``, django-environ's
``env('X', default=...)``), whose key is the variable's name. f-strings are skipped; implicitly concatenated constants
are yielded raw, spanning the whole expression.

ast reports columns as UTF-8 byte offsets within a line; they are turned into character
offsets line by line (only for lines that are not plain ASCII).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader, ReaderError
from migrator.discover.readers.line import quoted_keyword_entries

_PREFIX = re.compile(r"[rRuUbBfF]{0,2}('''|\"\"\"|'|\")")
_SINGLE = {
    "'": re.compile(r"[rRuU]{0,2}'(?:[^'\\\n]|\\[\s\S])*'"),
    '"': re.compile(r'[rRuU]{0,2}"(?:[^"\\\n]|\\[\s\S])*"'),
    "'''": re.compile(r"[rRuU]{0,2}'''(?:[^'\\]|\\[\s\S]|'(?!''))*'''"),
    '"""': re.compile(r'[rRuU]{0,2}"""(?:[^"\\]|\\[\s\S]|"(?!""))*"""'),
}
_UNSAFE = re.compile(r"""['"(]""")
_ENV_GETTERS = frozenset({"get", "getenv", "env", "str", "setdefault"})
# A statement worth walking: `name = '...'`, `'key': '...'`, `= [`/`{`/`(`, `or '...'` (an
# assignment, a dict item, a default or keyword argument, maybe), or an environment look-up.
_HINT = re.compile(r"""[=:][ \t]*(?:[rRuU]{1,2})?['"\[{(\\]|=[ \t]*\n|\bor[ \t]+['"]""")
_LEAVES = frozenset({ast.Name, ast.Constant, ast.Load, ast.Store, ast.Del, ast.alias, ast.Pass, ast.Break,
                     ast.Continue, ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal})
_FULL_PARSE_LIMIT = 4 * 1024
_SETTINGS_NAME = re.compile(r"setting|config|conf|secret|credential|local|prod|dev|stag|env|param")
_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")
_SCOPES = (ast.If, ast.Try, ast.TryStar, ast.With, ast.For, ast.While, ast.AsyncWith, ast.AsyncFor)


def _dotted(node: ast.expr) -> str | None:
    """``a``, ``a.b.c`` and ``a['b']['c']`` as dotted names; None for anything else."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Name):
            parts.append(node.id)
            return ".".join(reversed(parts))
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            parts.append(str(node.slice.value))
            node = node.value
        else:
            return None


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _is_environ(node: ast.Call) -> bool:
    """``os.environ.get``, ``environ.get``, ``os.getenv``, ``getenv``, ``env(...)``, ``env.str(...)``."""
    name = _callee(node)
    if name not in _ENV_GETTERS or not node.args:
        return False
    first = node.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return False
    if name in ("getenv", "env"):
        return True
    owner = node.func.value if isinstance(node.func, ast.Attribute) else None
    return (isinstance(owner, ast.Attribute) and owner.attr == "environ") or (
        isinstance(owner, ast.Name) and owner.id in ("environ", "env")
    )


class _Walker:
    def __init__(self, doc: Document, text: str, shift: int) -> None:
        self.doc = doc
        self.text = text
        self.shift = shift  # 1 when a byte order mark was cut off the first line
        self.lines: dict[int, tuple[int, bytes | None]] = {}
        self.seen: set[int] = set()
        self.entries: list[Entry] = []

    def offset(self, lineno: int, col: int) -> int:
        """Character offset in the document of a 1-based line and a UTF-8 byte column."""
        cached = self.lines.get(lineno)
        if cached is None:
            begin = self.doc.line_starts[lineno - 1] + (self.shift if lineno == 1 else 0)
            end = self.doc.line_starts[lineno] if lineno < len(self.doc.line_starts) else len(self.doc.text)
            line = self.doc.text[begin:end]
            cached = (begin, None if line.isascii() else line.encode("utf-8", "surrogatepass"))
            self.lines[lineno] = cached
        begin, encoded = cached
        if encoded is None:
            return begin + col
        return begin + len(encoded[:col].decode("utf-8", "ignore"))

    def constant(self, node: ast.expr, path: str, key: str) -> None:
        """Record ``node`` if it is a string constant (not bytes, not an f-string)."""
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in self.seen:
            return
        self.seen.add(id(node))
        if not node.value or node.end_lineno is None or node.end_col_offset is None:
            return
        start = self.offset(node.lineno, node.col_offset)
        end = self.offset(node.end_lineno, node.end_col_offset)
        written = self.doc.text[start:end]
        prefix = _PREFIX.match(written)
        if prefix is None:  # pragma: no cover - ast and the text disagree
            return
        quote = prefix.group(1)
        if _SINGLE[quote].fullmatch(written):
            start, end = start + prefix.end(), end - len(quote)
            raw = self.doc.text[start:end] != node.value
        else:  # implicit concatenation: the whole expression
            quote, raw = "", True
        self.entries.append(Entry(path, key, node.value, start, end, quote, raw))

    def value(self, node: ast.expr, path: str, key: str) -> None:
        """A value assigned at ``path``: a string, or a literal or call holding strings."""
        if isinstance(node, ast.Constant):
            self.constant(node, path, key)
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if isinstance(k, ast.Constant) and isinstance(k.value, str | int):
                    name = str(k.value)
                    self.value(v, Reader.join(path, name), name)
        elif isinstance(node, ast.List | ast.Tuple | ast.Set):
            for i, item in enumerate(node.elts):
                self.value(item, Reader.join(path, f"[{i}]"), key)
        elif isinstance(node, ast.Call):
            self.call(node, path)
        elif isinstance(node, ast.BoolOp):  # os.environ.get('X') or 'default'
            for item in node.values:
                self.value(item, path, key)

    def call(self, node: ast.Call, path: str) -> None:
        if _is_environ(node):
            first = node.args[0]
            name = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""
            self.seen.add(id(first))
            where = path or name
            for arg in node.args[1:2]:
                self.value(arg, where, name)
            for kw in node.keywords:
                if kw.arg == "default":
                    self.value(kw.value, where, name)
            return
        for kw in node.keywords:
            if kw.arg:
                self.value(kw.value, Reader.join(path, kw.arg), kw.arg)

    def body(self, statements: list[ast.stmt], scope: str) -> None:
        """Assignments of a module or class body (and of the if/try/with blocks inside it)."""
        for stmt in statements:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    name = _dotted(target)
                    if name is not None:
                        self.value(stmt.value, Reader.join(scope, name), name.rsplit(".", 1)[-1])
            elif isinstance(stmt, ast.AnnAssign | ast.AugAssign) and stmt.value is not None:
                name = _dotted(stmt.target)
                if name is not None:
                    self.value(stmt.value, Reader.join(scope, name), name.rsplit(".", 1)[-1])
            elif isinstance(stmt, ast.ClassDef):
                self.body(stmt.body, Reader.join(scope, stmt.name))
            elif isinstance(stmt, _SCOPES):
                self.body(stmt.body, scope)
                self.body(getattr(stmt, "orelse", []), scope)
                if isinstance(stmt, ast.Try | ast.TryStar):
                    for handler in stmt.handlers:
                        self.body(handler.body, scope)
                    self.body(stmt.finalbody, scope)

    def everywhere(self, statements: list[ast.stmt]) -> None:
        """Keyword arguments, parameter defaults and environment look-ups anywhere in the file.

        Only statements whose lines hold a hint of one (``name = '...``, ``environ``) are
        walked; compound statements are split into their parts, so one hint in a long
        function does not walk the whole function.
        """
        starts = self.doc.line_starts
        last = len(starts)
        for stmt in statements:
            end_line = stmt.end_lineno or stmt.lineno
            decorators = getattr(stmt, "decorator_list", None)  # they sit above the `def` line
            begin = starts[(decorators[0].lineno if decorators else stmt.lineno) - 1]
            end = starts[end_line] if end_line < last else len(self.doc.text)
            if self.doc.text.find("env", begin, end) < 0 and not _HINT.search(self.doc.text, begin, end):
                continue
            blocks = [name for name in _BLOCK_FIELDS if getattr(stmt, name, None)]
            if not blocks:
                self.walk(stmt)
                continue
            for name, field in ast.iter_fields(stmt):
                if name in _BLOCK_FIELDS:
                    for item in field:
                        if isinstance(item, ast.stmt):
                            self.everywhere([item])
                        elif isinstance(item, ast.ExceptHandler):
                            if item.type is not None:
                                self.walk(item.type)
                            self.everywhere(item.body)
                        elif isinstance(item, ast.match_case):
                            if item.guard is not None:
                                self.walk(item.guard)
                            self.everywhere(item.body)
                elif isinstance(field, ast.AST):
                    self.walk(field)
                elif isinstance(field, list):
                    for item in field:
                        if isinstance(item, ast.AST):
                            self.walk(item)

    def walk(self, root: ast.AST) -> None:
        stack = [root]
        pop, push, extend = stack.pop, stack.append, stack.extend
        while stack:
            node = pop()
            cls = node.__class__
            if cls in _LEAVES:
                continue
            for name in cls._fields:
                child = getattr(node, name, None)
                if isinstance(child, list):
                    extend(item for item in child if isinstance(item, ast.AST))
                elif isinstance(child, ast.AST):
                    push(child)
            if isinstance(node, ast.Call):
                self.call(node, "")
            elif isinstance(node, ast.Assign | ast.AnnAssign):  # in a function: `self.password = '...'`
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    dotted = _dotted(target)
                    if dotted is not None and node.value is not None:
                        self.value(node.value, dotted, dotted.rsplit(".", 1)[-1])
            elif isinstance(node, ast.Compare):  # `headers['token'] == '...'`, as in tests
                if len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq | ast.NotEq):
                    for this, other in ((node.left, node.comparators[0]), (node.comparators[0], node.left)):
                        dotted = _dotted(this)
                        if dotted is not None:
                            self.constant(other, dotted, dotted.rsplit(".", 1)[-1])
            elif isinstance(node, ast.Dict):  # a dict literal passed or returned: `f({'password': '...'})`
                self.value(node, "", "")
            elif isinstance(node, ast.arguments):
                positional = node.posonlyargs + node.args
                for arg, default in zip(positional[len(positional) - len(node.defaults):], node.defaults,
                                        strict=True):
                    self.value(default, arg.arg, arg.arg)
                for arg, kw_default in zip(node.kwonlyargs, node.kw_defaults, strict=True):
                    if kw_default is not None:
                        self.value(kw_default, arg.arg, arg.arg)


class PythonReader(Reader):
    name = "python"
    code = True
    patterns = ("*.py", "*.py.dist", "*.py.example", "*.py.sample", "*.pyw", "*.pyi")

    def read(self, doc: Document) -> Iterator[Entry]:
        text = doc.text
        if len(text) > _FULL_PARSE_LIMIT and not _SETTINGS_NAME.search(doc.name):
            # A library module, not a settings file: a parse and walk would cost a second per
            # megabyte; the quoted values on its keyword lines are read lexically instead.
            yield from quoted_keyword_entries(doc)
            return
        shift = 1 if text.startswith("\ufeff") else 0
        source = text[shift:]
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            reason = _UNSAFE.split(exc.msg or "invalid syntax", 1)[0].strip() or "invalid syntax"
            raise ReaderError(f"malformed Python at line {exc.lineno or 0}: {reason}") from None
        except (ValueError, RecursionError, MemoryError) as exc:
            raise ReaderError(f"malformed Python: {type(exc).__name__}") from None
        walker = _Walker(doc, text, shift)
        walker.body(tree.body, "")
        walker.everywhere(tree.body)
        walker.entries.sort(key=lambda e: e.start)
        yield from walker.entries
