"""File digests: a keyed HMAC of a whole file as planned, so apply can refuse a file that changed.

Keyed with the fingerprint key (a plain hash of a small config file can be guessed offline) and
domain-separated from value fingerprints twice over: the message starts with byte 0xfe, which
UTF-8 (the encoding of every fingerprinted value) never holds, and the text has its own prefix,
so a file digest can never equal, or be taken for, a value's fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac

FILE_DIGEST_PREFIX = "file-hmac-sha256:"
_DOMAIN = b"\xfevaultshift file digest\x00"


class FileDigester:
    """``digester(data)`` -> ``file-hmac-sha256:<64 hex>``."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("fingerprint key must be at least 32 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "FileDigester(<key hidden>)"

    def __call__(self, data: bytes) -> str:
        mac = hmac.new(self._key, _DOMAIN, hashlib.sha256)
        mac.update(data)
        return FILE_DIGEST_PREFIX + mac.hexdigest()

    def matches(self, data: bytes, digest: str) -> bool:
        """Whether ``data`` is the file ``digest`` was made of (constant-time comparison)."""
        return hmac.compare_digest(self(data), digest)
