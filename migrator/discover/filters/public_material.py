"""Public keys, certificates and publishable keys: meant to be shared."""

from __future__ import annotations

import re

from migrator.discover.document import Document
from migrator.discover.filters.base import Filter
from migrator.discover.models import Candidate

_PUBLIC = re.compile(
    r"^(?:-----BEGIN (?:PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE|X509 CRL|CERTIFICATE REQUEST|NEW CERTIFICATE REQUEST"
    r"|PGP PUBLIC KEY BLOCK|SSH2 PUBLIC KEY|OPENSSH PUBLIC KEY|DH PARAMETERS|EC PARAMETERS)-----"
    r"|(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-ssh-ed25519@openssh\.com) AAAA"
    r"|pk_(?:live|test)_|AAAA[BC]3NzaC1|MII[BC][A-Za-z0-9+/]{20,}IDAQAB)"
)


class PublicMaterial(Filter):
    name = "public-material"

    def drops(self, candidate: Candidate, doc: Document) -> bool:
        return bool(_PUBLIC.match(candidate.value.strip()))
