"""The registry of detectors. Adding a family is adding a module and a line here."""

from __future__ import annotations

from migrator.discover.detectors.base import EntryDetector, Hit, PatternRule, TextDetector
from migrator.discover.detectors.command_line import CommandLineDetector
from migrator.discover.detectors.keyword import KeywordDetector
from migrator.discover.detectors.private_key import PrivateKeyDetector
from migrator.discover.detectors.providers import RULES as PROVIDER_RULES
from migrator.discover.detectors.providers import ProviderTokenDetector
from migrator.discover.detectors.url_credentials import (
    AuthorizationDetector,
    QueryParameterDetector,
    UrlCredentialDetector,
)
from migrator.discover.detectors.uuids import UuidDetector


def text_detectors(include_uuids: bool = True) -> list[TextDetector]:
    detectors: list[TextDetector] = [
        ProviderTokenDetector(),
        PrivateKeyDetector(),
        UrlCredentialDetector(),
        AuthorizationDetector(),
        QueryParameterDetector(),
        CommandLineDetector(),
    ]
    if include_uuids:
        detectors.append(UuidDetector())
    return detectors


def entry_detectors() -> list[EntryDetector]:
    return [KeywordDetector()]


def rule_ids() -> list[str]:
    """Every rule id any detector can report (for SARIF's rule table and --rules listings)."""
    ids = {rule.rule for rule in PROVIDER_RULES}
    ids.update({
        "private-key", "private-key-base64", "url-password", "url-query-credential", "command-line-credential",
        "uuid", "connection-string-password", "bearer-authorization", "basic-authorization", "token-authorization",
    })
    ids.update(f"keyword-{kind}" for kind in ("password", "secret", "token", "api-key", "credential", "auth", "key"))
    return sorted(ids)


__all__ = ["EntryDetector", "Hit", "PatternRule", "TextDetector", "entry_detectors", "rule_ids", "text_detectors"]
