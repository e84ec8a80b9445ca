"""What every format reader is: a name, the files it claims, and ``read`` yielding entries."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import ClassVar

from migrator.discover.document import Document
from migrator.discover.models import Entry


@lru_cache(maxsize=128)
def _patterns_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(fnmatch.translate(p) for p in patterns) or r"(?!)")


class ReaderError(ValueError):
    """The file is malformed for this format. The message is one line and holds no value."""


class Reader:
    """A format reader. Subclasses set ``name`` and ``patterns`` and implement ``read``.

    ``patterns`` are fnmatch patterns on the lower-cased base name (``*.yml``, ``.env``,
    ``.env.*``, ``dockerfile``). ``priority`` breaks ties when several readers claim a file:
    the higher wins. ``read`` yields every key/value entry it understands with the value's
    exact span, and raises ReaderError for malformed input; entries yielded before the error
    are kept.
    """

    name: ClassVar[str] = ""
    patterns: ClassVar[tuple[str, ...]] = ()
    priority: ClassVar[int] = 0
    # Source code, where an unquoted value is an expression, never a literal secret.
    code: ClassVar[bool] = False
    # read_wanted covers the whole text: nothing outside its entries (no comments) is worth a
    # second look, so the scanner skips its sweep of uncovered lines after it.
    wanted_covers_text: ClassVar[bool] = False

    @classmethod
    def claims_name(cls, base: str) -> bool:
        """Whether the lower-cased base name matches one of ``patterns`` (compiled once)."""
        return _patterns_regex(cls.patterns).match(base) is not None

    def read(self, doc: Document) -> Iterator[Entry]:
        raise NotImplementedError

    def read_wanted(self, doc: Document, wanted: Callable[[str, str], bool]) -> list[Entry] | None:
        """A faster read for scanning: at least every entry whose key and value ``wanted``
        accepts, with the same key paths and spans ``read`` gives; None when this reader has no
        such path or cannot take it for this document (the caller then uses ``read``). Raises
        ReaderError for malformed input, as ``read`` does."""
        return None

    @staticmethod
    def join(parent: str, key: str) -> str:
        """Key paths are dot-joined; list items are ``[N]``."""
        if not parent:
            return key
        if key.startswith("["):
            return parent + key
        return f"{parent}.{key}"
