"""The registry of format readers. Adding a format is adding a module and a line here."""

from __future__ import annotations

import functools

from migrator.discover.document import Document
from migrator.discover.readers.base import Reader, ReaderError
from migrator.discover.readers.dockerfile import DockerfileReader
from migrator.discover.readers.env import EnvReader
from migrator.discover.readers.hcl import HclReader
from migrator.discover.readers.ini import IniReader
from migrator.discover.readers.jinja import JinjaReader
from migrator.discover.readers.json import JsonReader
from migrator.discover.readers.line import LineReader, SourceCodeReader
from migrator.discover.readers.php import PhpReader
from migrator.discover.readers.properties import PropertiesReader
from migrator.discover.readers.python import PythonReader
from migrator.discover.readers.shell import ShellReader
from migrator.discover.readers.toml import TomlReader
from migrator.discover.readers.xml import XmlReader
from migrator.discover.readers.yaml import YamlReader

READERS: tuple[Reader, ...] = (
    YamlReader(),
    JsonReader(),
    IniReader(),
    EnvReader(),
    PropertiesReader(),
    TomlReader(),
    XmlReader(),
    HclReader(),
    JinjaReader(),
    ShellReader(),
    DockerfileReader(),
    PhpReader(),
    PythonReader(),
    SourceCodeReader(),
)
LINE_READER = LineReader()


def reader_for(doc: Document) -> Reader:
    """The reader that claims ``doc`` (highest priority first), else the generic line reader."""
    return _reader_named(doc.name)


@functools.lru_cache(maxsize=1024)
def _reader_named(name: str) -> Reader:
    """Readers claim files by their (lower-cased) base name: the choice is made once per name."""
    best: Reader | None = None
    for reader in READERS:
        if reader.claims_name(name) and (best is None or reader.priority > best.priority):
            best = reader
    return best or LINE_READER


__all__ = ["LINE_READER", "READERS", "Reader", "ReaderError", "reader_for"]
