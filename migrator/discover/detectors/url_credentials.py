"""Credentials inside URLs and connection strings, and in HTTP Authorization values.

``postgres://app:s3cret@db/app`` - the password part only, so a rewrite can swap just it.
``Server=db;User Id=app;Password=s3cret;`` - ADO.NET / JDBC / ODBC style key=value lists.
``Authorization: Bearer abc...`` / ``Basic dXNlcjpwYXNz`` - header values and cookies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from migrator.discover.detectors.base import Hit, TextDetector
from migrator.discover.document import Document
from migrator.discover.models import Confidence

_URL = re.compile(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,30}://"  # scheme
    r"(?P<user>[^\s:/@'\"`<>{}\[\]\\]{0,100}):"  # user (may be empty: redis://:pass@host)
    r"(?P<password>[^\s/@'\"`<>\\]{1,200})"
    r"@(?=[A-Za-z0-9\[_\-.%$]+)"  # host follows
)
_CONN = re.compile(
    r"(?i)(?:^|[;\s\"'])(?:password|pwd)\s*=\s*(?P<password>(?:\{[^}\n]{1,200}\})|[^;\"'\s<>]{1,200})(?=;|\"|'|\s|$)",
    re.MULTILINE,
)
_CONN_CONTEXT = re.compile(
    r"(?i)(?:server|data source|host|uid|user id|user|database|initial catalog|dsn)\s*=")
_AUTH = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?P<scheme>bearer|basic|token)[ \t]+(?P<credential>[A-Za-z0-9+/=._~\-]{12,})"
)


class UrlCredentialDetector(TextDetector):
    name = "url-credentials"

    def scan(self, doc: Document) -> Iterator[Hit]:
        text = doc.text
        if "://" in text:
            for match in _URL.finditer(text):
                start, end = match.span("password")
                yield Hit("url-password", "url_credentials", start, end, Confidence.HIGH)
        low = doc.lower
        if "password" in low or "pwd" in low:
            for match in _CONN.finditer(text):
                line_start = text.rfind("\n", 0, match.start()) + 1
                line_end = text.find("\n", match.end())
                line = text[line_start: len(text) if line_end < 0 else line_end]
                if ";" in line and _CONN_CONTEXT.search(line):
                    start, end = match.span("password")
                    yield Hit("connection-string-password", "connection_string", start, end, Confidence.HIGH)


class AuthorizationDetector(TextDetector):
    name = "authorization"

    def scan(self, doc: Document) -> Iterator[Hit]:
        low = doc.lower
        if "bearer" not in low and "basic" not in low and "token " not in low:
            return
        for match in _AUTH.finditer(doc.text):
            scheme = match.group("scheme").lower()
            credential = match.group("credential")
            if scheme == "token" and not _looks_random(credential):
                continue
            if scheme == "basic" and not _looks_random(credential):
                continue
            start, end = match.span("credential")
            yield Hit(f"{scheme}-authorization", f"{scheme}_authorization", start, end, Confidence.HIGH)


def _looks_random(value: str) -> bool:
    """Letters and digits mixed, as tokens are; prose words are not."""
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return has_digit and has_alpha
