"""Credentials passed on command lines written into files: scripts, Dockerfile RUN lines, CI
steps and unit files. ``--password s3cret``, ``--token=abc``, ``openssl ... -passin pass:s3cret``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from migrator.discover.detectors.base import Hit, TextDetector
from migrator.discover.detectors.keyword import judge_value
from migrator.discover.document import Document

# Run on the lower-cased text; the search starts at the literal "--" of a long option.
_FLAG = re.compile(
    r"--(?P<flag>(?:[a-z0-9]+-)*(?:password|passwd|pwd|token|secret|api-key|apikey|access-key|secret-key"
    r"|auth-token|client-secret))"
    r"(?:=|[ \t]+)(?P<quote>['\"]?)(?P<value>[^\s'\"\\\-][^\s'\"\\]{2,199})(?P=quote)(?=[\s;|&)\\]|$)"
)
_OPENSSL_PASS = re.compile(r"pass:(?P<value>[^\s'\"\\]{1,200})")


class CommandLineDetector(TextDetector):
    name = "keyword"

    def scan(self, doc: Document) -> Iterator[Hit]:
        low = doc.lower
        text = doc.text
        if "--" in low:
            for match in _FLAG.finditer(low):
                if match.start() and low[match.start() - 1] not in " \t\n'\"=[(,":
                    continue  # "--" inside a word or a longer dash run
                start, end = match.span("value")
                value = text[start:end]
                flag = match.group("flag")
                kind = "password" if "pass" in flag or flag.endswith("pwd") else "token"
                confidence = judge_value(kind, value)
                if confidence is not None:
                    yield Hit("command-line-credential", kind, start, end, confidence, value=value, key=flag)
        if "pass:" in low:
            for match in _OPENSSL_PASS.finditer(low):
                if not re.search(r"-pass(?:in|out)[ \t]+['\"]?$", low[max(match.start() - 20, 0):match.start()]):
                    continue  # only openssl's -passin/-passout pass:SECRET
                start, end = match.span("value")
                value = text[start:end]
                confidence = judge_value("password", value)
                if confidence is not None:
                    yield Hit("command-line-credential", "password", start, end, confidence, value=value, key="pass")
