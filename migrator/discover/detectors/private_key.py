"""Private keys in PEM and OpenSSH form, written raw or with escaped newlines (JSON, HCL)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

from migrator.discover.detectors.base import Hit, TextDetector
from migrator.discover.document import Document
from migrator.discover.models import Confidence

_BEGIN = re.compile(
    r"-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----"
)
_END = re.compile(r"-----END[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----")
# The body must look like base64 (allowing headers such as Proc-Type and escaped newlines).
_BODY = re.compile(r"[A-Za-z0-9+/=]{40}")
_MAX_KEY = 16384
# The same key, base64-encoded once more (Kubernetes Secret data, Helm values): the encoding of
# "-----BEGIN " is always "LS0tLS1CRUdJTi".
_BASE64_PEM = re.compile(r"(?<![A-Za-z0-9+/])LS0tLS1CRUdJTi[A-Za-z0-9+/]{40,}={0,2}")


def normalize_pem(written: str) -> str:
    """The key as a PEM file holds it, however it was written: escaped newlines (JSON, HCL)
    decoded and indentation (YAML block scalars) removed, so that the same key has the same
    fingerprint in every file."""
    text = written.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\r\n", "\n")
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


class PrivateKeyDetector(TextDetector):
    name = "private-key"

    def scan(self, doc: Document) -> Iterator[Hit]:
        text = doc.text
        if "LS0tLS1CRUdJTi" in text:
            for match in _BASE64_PEM.finditer(text):
                head = match.group()[:64]
                try:
                    decoded = base64.b64decode(head[: len(head) - len(head) % 4]).decode("ascii", "replace")
                except (binascii.Error, ValueError):
                    continue
                if "PRIVATE KEY" in decoded:
                    yield Hit("private-key-base64", "private_key", match.start(), match.end(), Confidence.HIGH)
        if "PRIVATE KEY" not in text:
            return
        for begin in _BEGIN.finditer(text):
            end_match = _END.search(text, begin.end(), begin.end() + _MAX_KEY)
            if end_match:
                stop = end_match.end()
            else:  # a truncated or templated key: report the header line
                line_end = text.find("\n", begin.end())
                stop = len(text) if line_end < 0 else line_end
            body = text[begin.end():stop]
            if not _BODY.search(body):
                continue  # a header with no key material: documentation, a template
            yield Hit("private-key", "private_key", begin.start(), stop, Confidence.HIGH,
                      value=normalize_pem(text[begin.start():stop]))
