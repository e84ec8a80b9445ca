"""Hashes and checksums: integrity attributes, digests, lock files and checksum manifests."""

from __future__ import annotations

import re

from migrator.discover.detectors.keyword import split_key
from migrator.discover.document import Document
from migrator.discover.filters.base import Filter
from migrator.discover.models import Candidate

_HEX_DIGEST = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{56}|[0-9a-f]{64}|[0-9a-f]{96}|[0-9a-f]{128})$",
                         re.IGNORECASE)
_PREFIXED = re.compile(r"^(?:sha(?:1|224|256|384|512)|md5|blake2b?|sha3-\d+)[-:=]", re.IGNORECASE)
_CRYPT = re.compile(
    r"^(?:\$(?:1|2[abxy]?|5|6|y|gy|7|argon2(?:id|i|d)|scrypt|pbkdf2[-\w]*)\$"  # crypt(3)
    r"|\{(?:SSHA|SHA|MD5|CRYPT|SSHA256|SSHA512|PBKDF2)\}"  # LDAP userPassword
    r"|(?:pbkdf2_sha256|pbkdf2_sha1|argon2|bcrypt_sha256|bcrypt|scrypt|sha1|md5|unsalted_md5)\$)"  # Django
)
_CONTEXT_WORDS = {"sha", "sha1", "sha2", "sha224", "sha384", "hashed", "sha256",
                  "sha512", "md5", "hash", "checksum", "checksums", "digest", "integrity",
                  "etag", "commit", "rev", "revision", "fingerprint", "thumbprint", "crc", "sum", "shasum",
                  "resolved", "hashes"}
_MANIFESTS = ("package-lock.json", "yarn.lock", "pnpm-lock.yaml", "go.sum", "gemfile.lock", "poetry.lock",
              "cargo.lock", "composer.lock", "pipfile.lock", "npm-shrinkwrap.json", "packages.lock.json",
              "checksums.txt", "sha256sums", "md5sums", "uv.lock", "flake.lock", ".terraform.lock.hcl")
_FILE_KEY = re.compile(r"[\w\-]+/[\w\-./]+\.\w{1,8}$|^[\w\-]+\.(?:rb|py|js|ts|go|java|json|yml|yaml|erb|pp|md|txt|sh)$")


class HashOrChecksum(Filter):
    name = "hash-or-checksum"

    def drops(self, candidate: Candidate, doc: Document) -> bool:
        value = candidate.value.strip()
        if _PREFIXED.match(value) or _CRYPT.match(value):
            return True  # "sha256:abc..." digests; crypt(3) / LDAP password hashes are not plaintext
        if doc.name in _MANIFESTS:
            return True
        if not _HEX_DIGEST.match(value):
            return False
        words = set(split_key(candidate.key_path))
        if words & _CONTEXT_WORDS:
            return True
        # {"path/to/file.rb": "6ba8391d..."}: a checksum manifest keyed by file names
        return bool(_FILE_KEY.search(candidate.key))
