"""YAML (Ansible vars, inventories, Kubernetes, compose files, CI configs).

Scanning composes the node graph with libyaml (PyYAML's C binding), which reports every
scalar's start and end mark in characters, and is an order of magnitude faster than a
round-trip parser. Rewrites (a later stage) use ruamel.yaml, which keeps comments and layout.
Nothing is constructed, so custom tags (``!vault``, ``!Ref``) and anchors are harmless.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import yaml

from migrator.discover.document import Document
from migrator.discover.models import Entry
from migrator.discover.readers.base import Reader, ReaderError

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML was built with it
_TAGS = {yaml.ScalarNode: "tag:yaml.org,2002:str", yaml.SequenceNode: "tag:yaml.org,2002:seq",
         yaml.MappingNode: "tag:yaml.org,2002:map"}


class _Loader(_BaseLoader):
    """Composes nodes without resolving implicit tags: the scan needs text and marks, not
    types, and the resolver's regular expressions cost more than the parse itself."""

    def resolve(self, kind: type, value: object, implicit: object) -> str:
        return _TAGS[kind]


MAX_FLOW_DEPTH = 256
_BRACKET = re.compile(r"[\[\]{}]")


def flow_depth(text: str) -> int:
    """The deepest nesting of brackets in ``text`` (quotes ignored: an upper bound, cheaply)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(text):
        if match.group() in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif depth:
            depth -= 1
    return deepest


_QUOTED = re.compile(r"'[^']{2,}'|\"[^\"]{2,}\"")  # a quoted character (':') is syntax; longer quotes go


def _scalar_entry(doc: Document, node: yaml.ScalarNode, path: str, key: str) -> Entry:
    start, end = node.start_mark.index, node.end_mark.index
    style = node.style or ""
    text = doc.text
    if style in ("'", '"'):
        start, end = start + 1, end - 1
    elif style in ("|", ">"):
        while end > start and text[end - 1] in " \t\r\n":
            end -= 1
    raw = style in ("|", ">") or text[start:end] != node.value
    return Entry(path, key, node.value, start, end, style, raw)


class YamlReader(Reader):
    name = "yaml"
    patterns = ("*.yml", "*.yaml", "*.yml.dist", "*.yaml.dist", "*.yml.example", "*.yaml.example",
                "*.yml.sample", "*.yaml.sample", ".yamllint", "*.eyaml")

    def read(self, doc: Document) -> Iterator[Entry]:
        yield from self._read(doc, None)

    def read_wanted(self, doc: Document, wanted: Callable[[str, str], bool]) -> list[Entry] | None:
        """Compose the whole document, but make entries only for the scalars ``wanted`` keeps
        (the scanner still reads comments and other uncovered lines itself). A malformed file
        raises ReaderError here, as ``read`` would: it is not parsed twice."""
        return list(self._read(doc, wanted))

    def _read(self, doc: Document, wanted: Callable[[str, str], bool] | None) -> Iterator[Entry]:
        depth = flow_depth(doc.text)
        if depth > MAX_FLOW_DEPTH:
            # libyaml recurses once per level in C: tens of thousands of "[" overflow its stack
            # and kill the process. No configuration nests like that.
            raise ReaderError(f"malformed YAML: flow collections nested deeper than {MAX_FLOW_DEPTH} levels")
        seen: set[int] = set()
        try:
            for root in yaml.compose_all(doc.text, Loader=_Loader):
                if root is not None:
                    yield from self._walk(doc, root, seen, wanted)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"line {mark.line + 1}" if mark else "unknown line"
            problem = _QUOTED.sub("'…'", str(exc.problem or exc.context))  # never quote the file
            raise ReaderError(f"malformed YAML at {where}: {problem}") from None
        except yaml.YAMLError as exc:
            raise ReaderError(f"malformed YAML: {type(exc).__name__}") from None

    def _walk(self, doc: Document, root: yaml.Node, seen: set[int],
              wanted: Callable[[str, str], bool] | None) -> Iterator[Entry]:
        join = self.join
        stack: list[tuple[yaml.Node, str, str]] = [(root, "", "")]
        while stack:
            node, path, key = stack.pop()
            if id(node) in seen:  # an alias to a node already walked (or a recursive one)
                continue
            seen.add(id(node))
            if isinstance(node, yaml.ScalarNode):
                if path and (wanted is None or wanted(key, node.value)):
                    yield _scalar_entry(doc, node, path, key)
            elif isinstance(node, yaml.MappingNode):
                pairs = []
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode):
                        name = key_node.value
                        pairs.append((value_node, join(path, name), name))
                    else:
                        pairs.append((key_node, path, key))
                        pairs.append((value_node, path, key))
                stack.extend(reversed(pairs))
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(
                    (item, join(path, f"[{i}]"), key) for i, item in reversed(list(enumerate(node.value)))
                )
