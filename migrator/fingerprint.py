"""Fingerprints and hints: how vaultshift names a secret without ever showing it.

A fingerprint is HMAC-SHA256 of the value under a key that never leaves the machine (or the
team's secret store), so identical values share a fingerprint across files and hosts, and a
fingerprint cannot be brute-forced offline by someone who only holds a report.

The key comes from, in order: an explicit key file, VAULTSHIFT_FINGERPRINT_KEY (hex, 32 bytes
or more), or the user key file ``$XDG_CONFIG_HOME/vaultshift/fingerprint.key`` (created 0600
with 32 random bytes on first use). Teams that share baselines share that key through their
vault, exactly like any other secret.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

ENV_KEY = "VAULTSHIFT_FINGERPRINT_KEY"
PREFIX = "hmac-sha256:"
_FINGERPRINT_HEX = 32  # 128 bits: collision-free for any inventory, short enough to read
_KEY_ID_HEX = 16
# 0xff never occurs in UTF-8 (not even with surrogatepass), so no value's fingerprint can
# equal the key id: the two uses of the key are domain-separated.
_KEY_ID_MESSAGE = b"\xffvaultshift key id"


class FingerprintKeyError(ValueError):
    pass


def default_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "vaultshift" / "fingerprint.key"


def _read_key_file(path: Path) -> bytes:
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise FingerprintKeyError(f"{path}: cannot read fingerprint key: {exc.strerror or exc}") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise FingerprintKeyError(f"{path}: fingerprint key must be hex") from None
    if len(key) < 32:
        raise FingerprintKeyError(f"{path}: fingerprint key must be at least 32 bytes")
    return key


def _create_key_file(path: Path) -> bytes:
    key = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key.hex().encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # never replace a key another process created meanwhile
    except FileExistsError:
        return _read_key_file(path)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def load_key(key_file: str | os.PathLike[str] | None = None) -> bytes:
    if key_file is not None:
        return _read_key_file(Path(key_file))
    env = os.environ.get(ENV_KEY)
    if env:
        try:
            key = bytes.fromhex(env.strip())
        except ValueError:
            raise FingerprintKeyError(f"{ENV_KEY} must be hex") from None
        if len(key) < 32:
            raise FingerprintKeyError(f"{ENV_KEY} must be at least 32 bytes (64 hex digits)")
        return key
    path = default_key_file()
    if path.exists():
        return _read_key_file(path)
    return _create_key_file(path)


class Fingerprinter:
    """Keyed fingerprints of secret values."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise FingerprintKeyError("fingerprint key must be at least 32 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "Fingerprinter(<key hidden>)"

    @property
    def key_id(self) -> str:
        """A short public name for the key (16 hex digits of an HMAC under it), never the key.

        Two fingerprints can only be compared when they were made with the same key; a baseline
        records the key id so that a mismatch is an error rather than a silent "nothing accepted".
        """
        return hmac.new(self._key, _KEY_ID_MESSAGE, hashlib.sha256).hexdigest()[:_KEY_ID_HEX]

    def __call__(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return PREFIX + digest[:_FINGERPRINT_HEX]


def hint(value: str) -> str:
    """A short redacted hint: first and last character and the length, never more.

    Values shorter than 8 characters show only their length: two characters of a short
    password are too much of it.
    """
    length = len(value)
    if length < 8:
        return f"*** ({length} chars)"
    first, last = value[0], value[-1]
    if not first.isprintable() or first.isspace():
        first = "?"
    if not last.isprintable() or last.isspace():
        last = "?"
    return f"{first}***{last} ({length} chars)"
