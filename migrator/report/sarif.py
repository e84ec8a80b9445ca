"""SARIF 2.1.0, the format code-scanning dashboards (GitHub, GitLab, Azure DevOps) import.

Results carry the rule, the location and the fingerprint as a partial fingerprint, so the
dashboard tracks a secret across edits; the message holds the redacted hint only. Locations are
relative URI references (relative to the scanned tree), which dashboards resolve against the
repository checkout.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from migrator import __version__
from migrator.discover.detectors import rule_ids
from migrator.discover.models import Confidence, ScanResult

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Confidence.HIGH: "error", Confidence.MEDIUM: "error", Confidence.LOW: "warning"}
_HELP = ("Move the value into your vault and reference it at runtime, or mark a false positive with a "
         "`vaultshift: allow` comment or the baseline.")


def _uri(path: str) -> str:
    """A relative URI reference: percent-encoded, so '#' and spaces stay part of the path."""
    return quote(path.replace("\\", "/"), safe="/")


def _rule_description(rule: str) -> str:
    words = rule.replace("-", " ")
    return f"Plaintext credential: {words}"


def scan_to_sarif(result: ScanResult) -> dict[str, object]:
    rules = rule_ids()
    index = {rule: i for i, rule in enumerate(rules)}
    results = []
    for finding in result.findings:
        span = finding.span
        results.append({
            "ruleId": finding.rule,
            "ruleIndex": index.get(finding.rule, -1),
            "level": _LEVEL[finding.confidence],
            "message": {"text": f"{finding.kind.replace('_', ' ')} in {finding.key_path or 'text'}: "
                                f"{finding.hint}"},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.path)},
                    "region": {
                        "startLine": span.line,
                        "startColumn": span.column,
                        "endLine": span.end_line,
                        "endColumn": span.end_column,
                        "byteOffset": span.start,
                        "byteLength": span.end - span.start,
                    },
                },
            }],
            "partialFingerprints": {"vaultshift/v1": finding.fingerprint},
            "properties": {"confidence": str(finding.confidence), "keyPath": finding.key_path,
                           "kind": finding.kind},
        })
    notifications = [
        {"level": "error" if error.fatal else "note", "message": {"text": error.reason},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(error.path)}}}]}
        for error in result.errors
    ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "vaultshift",
                "version": __version__,
                "informationUri": "https://github.com/vaultshift/vaultshift",
                "rules": [{
                    "id": rule,
                    "name": rule,
                    "shortDescription": {"text": _rule_description(rule)},
                    "help": {"text": _HELP},
                    "properties": {"tags": ["security", "secret"]},
                } for rule in rules],
            }},
            "results": results,
            "invocations": [{
                "executionSuccessful": not any(error.fatal for error in result.errors),
                "toolExecutionNotifications": notifications,
            }],
        }],
    }


def render(result: ScanResult) -> str:
    return json.dumps(scan_to_sarif(result), indent=2) + "\n"
