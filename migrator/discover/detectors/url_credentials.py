"""Credentials inside URLs and connection strings, and in HTTP Authorization values.

``postgres://app:s3cret@db/app`` - the password part only, so a rewrite can swap just it.
``Server=db;User Id=app;Password=s3cret;`` - ADO.NET / JDBC / ODBC style key=value lists.
``Authorization: Bearer abc...`` / ``Basic dXNlcjpwYXNz`` - header values and cookies.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

from migrator.discover.detectors.base import Hit, TextDetector
from migrator.discover.document import Document
from migrator.discover.models import Confidence

# Searched from the literal "://" (fast), the scheme is checked behind it.
_URL = re.compile(
    r"://"
    r"(?P<user>[^\s:/@'\"`<>{}\[\]\\]{0,100}(?:@[^\s:/@'\"`<>{}\[\]\\]{1,100})?):"  # user (may be empty, or
    # an e-mail address: smtps://me@example.com:pass@smtp.example.com)
    r"(?P<password>[^\s/@'\"`<>\\]{1,200})"
    r"@(?=[A-Za-z0-9\[_\-.%$]+)"  # host follows
)
# Run on the lower-cased text; each alternative starts with a literal so the search is fast.
_CONN = tuple(
    re.compile(word + r"\s*=\s*(?P<password>(?:\{[^}\n]{1,200}\})|[^;\"'\s<>]{1,200})(?=;|\"|'|\s|$)", re.MULTILINE)
    for word in ("password", "pwd")
)
_CONN_CONTEXT = re.compile(
    r"(?i)(?:server|data source|host|uid|user id|user|database|initial catalog|dsn)\s*=")
# Run on the lower-cased text; the credential's offsets are the same in the original text.
_AUTH = tuple(
    (scheme, re.compile(scheme + r"[ \t]+(?P<credential>[a-z0-9+/=._~\-]{12,})"))
    for scheme in ("bearer", "basic", "token")
)


class UrlCredentialDetector(TextDetector):
    name = "url-credentials"

    def scan(self, doc: Document) -> Iterator[Hit]:
        text = doc.text
        if "://" in text:
            for match in _URL.finditer(text):
                if not match.start() or not text[match.start() - 1].isalnum():
                    continue  # "://" with no scheme in front
                if match.group("password") == match.group("user"):
                    continue  # guest:guest@, postgres:postgres@: a default, the same word twice
                start, end = match.span("password")
                yield Hit("url-password", "url_credentials", start, end, Confidence.HIGH)
        low = doc.lower
        for regex in _CONN:
            for match in regex.finditer(low):
                if match.start() and low[match.start() - 1] not in ";\"' \t\n":
                    continue  # part of a longer key (db_password=...): the keyword detector's job
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
        text = doc.text
        for scheme, regex in _AUTH:
            for match in regex.finditer(low):
                if match.start() and low[match.start() - 1].isalnum():
                    continue  # inside a longer word
                start, end = match.span("credential")
                credential = text[start:end]
                if not (_looks_random(credential) or (scheme == "basic" and _is_basic_pair(credential))):
                    continue  # "Bearer authentication" in prose; tokens mix letters and digits
                line_start = low.rfind("\n", 0, start) + 1
                header = "Authorization" if "authorization" in low[line_start:start] else ""
                yield Hit(f"{scheme}-authorization", f"{scheme}_authorization", start, end, Confidence.HIGH,
                          key=header, key_path=header)


def _is_basic_pair(credential: str) -> bool:
    """HTTP Basic credentials are base64 of ``user:password``."""
    try:
        decoded = base64.b64decode(credential, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    user, sep, password = decoded.partition(":")
    return bool(sep and user and password and decoded.isprintable())


def _looks_random(value: str) -> bool:
    """Letters and digits mixed, as tokens are; prose words are not."""
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return has_digit and has_alpha


# Query parameters that carry credentials: ?user=app&password=s3cret, &access_token=...
_QUERY = re.compile(
    r"[?&](?P<name>password|passwd|pwd|pass|secret|client_secret|token|access_token|api_key|apikey|auth_token|sig)"
    r"=(?P<value>[^&\s'\"#<>`\\]{3,300})"
)


class QueryParameterDetector(TextDetector):
    name = "keyword"

    def scan(self, doc: Document) -> Iterator[Hit]:
        low = doc.lower
        if "=" not in low:
            return
        text = doc.text
        for match in _QUERY.finditer(low):
            start, end = match.span("value")
            kind = "password" if match.group("name").startswith("pas") or match.group("name") == "pwd" else "token"
            yield Hit("url-query-credential", kind, start, end, Confidence.MEDIUM, value=text[start:end])
