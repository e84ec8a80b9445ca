"""Migration plans made in memory for the access tests: an occurrence on a host, a secret with
its occurrences, a plan of secrets (no file is read: the access model needs paths, hosts, kinds)."""

from __future__ import annotations

from migrator.plan.models import Occurrence, Plan, PlannedSecret, ReferenceStyle, SecretRef


def occurrence(path: str, host: str = "") -> Occurrence:
    return Occurrence(path, 0, 8, 1, "password", "yaml", ReferenceStyle.AGENT_TEMPLATE, "hmac:x", host, "/srv")


def secret(ref: SecretRef, *occurrences: Occurrence) -> PlannedSecret:
    return PlannedSecret(f"fp:{ref}", "password", ref, occurrences)


def make_plan(*secrets: PlannedSecret) -> Plan:
    return Plan(tuple(secrets), ("/srv",), "key", "apps/{app}/{key}")
