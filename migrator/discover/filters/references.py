"""Values that already are runtime references or ciphertext: the secret lives elsewhere (or is
encrypted here) and this is the address or the sealed box.

Vault and OpenBao paths and agent templates, vaultshift's own lookup, Ansible Vault and SOPS
ciphertext, AWS Secrets Manager and SSM, Kubernetes secret references, CI secret contexts,
Terraform variables, and environment lookups in code.
"""

from __future__ import annotations

import re

from migrator.discover.document import Document
from migrator.discover.filters.base import Filter
from migrator.discover.models import Candidate

_REFERENCE = re.compile(
    r"""(?ix)
    ^vault:|^vault://|^bao:|^openbao:|^vaultshift:|lookup\s*\(|query\s*\(|\$ansible_vault;|^!vault
    |^enc\[|^enc\(|^sops:|^u2fsdgvkx1|^vault:v\d+:|^-----begin\ pgp\ message|^aqicah|arn:aws:secretsmanager:|arn:aws:ssm:|^\{\{resolve:|^resolve:|^ssm:|^ssm://|^secretsmanager:
    |^awssm://|^gcpsm://|^azkv://|^op://|^ref\+|^sm://|@microsoft\.keyvault\(|secretkeyref|valuefrom
    |secrets\.[a-z_][a-z0-9_]*|^data\.[a-z_]+\.|^var\.[a-z_]|^local\.[a-z_]|^module\.[a-z_]|^env\(|getenv\(
    |os\.environ|process\.env\.|^env\[|system\.getenv|environment\.getenvironmentvariable|^\$env:
    |^secret/|^secrets/|^kv/|^kv-v2/|^database/creds/|^database/static-creds/|^aws/creds/|^file:|^file://
    """
)


def is_reference(value: str) -> bool:
    return bool(_REFERENCE.search(value.strip()))


class Reference(Filter):
    name = "reference"

    def drops(self, candidate: Candidate, doc: Document) -> bool:
        return is_reference(candidate.value)
