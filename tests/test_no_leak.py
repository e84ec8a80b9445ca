"""No secret value ever leaves the scan: not on stdout or stderr, not in a report, not in any file.

Canary values are generated per run with the ``secrets`` module and planted in several formats;
every output is then searched for each canary and for any 8-character piece of it.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path

import pytest

from migrator.fingerprint import ENV_KEY, Fingerprinter

HINT = re.compile(r"^(?:\*\*\* \((?P<short>\d+) chars\)|(?P<first>.)\*\*\*(?P<last>.) \((?P<length>\d+) chars\))$")


@pytest.fixture
def planted(tree, token) -> tuple[Path, dict[str, str]]:
    """A tree with canaries in .env, YAML, JSON, a URL, a PEM body, a short password, a broken file."""
    pem_body = "\n".join(base64.b64encode(secrets.token_bytes(48)).decode() for _ in range(6))
    canaries = {
        "env": token(28),
        "yaml": token(32),
        "json": token(30),
        "url": token(22),
        "pem": pem_body,
        "short": token(7),
        "broken": token(26),
        "allowed": token(26),
        "github": token(36, prefix="ghp_"),
    }
    root = tree({
        ".env": f"APP_ENV=prod\nDB_PASSWORD={canaries['env']}\nSMTP_PASSWORD={canaries['short']}\n",
        "deploy/values.yaml": f"service:\n  auth:\n    api_token: \"{canaries['yaml']}\"\n",
        "config/app.json": json.dumps({"oauth": {"client_secret": canaries["json"]}}, indent=2) + "\n",
        "config/db.properties": f"jdbc.url=postgres://app:{canaries['url']}@db.internal:5432/app\n",
        "keys/deploy_key": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{pem_body}\n-----END OPENSSH PRIVATE KEY-----\n",
        "broken.yml": f"a: [1, 2\nadmin_password: {canaries['broken']}\n",
        "ok.env": f"LEGACY_SECRET={canaries['allowed']}  # vaultshift: allow\n",
        "scripts/ci.sh": f"export GH_TOKEN={canaries['github']}\n",
    })
    return root, canaries


def pieces(value: str) -> set[str]:
    """The value and every 8-character window of it (each PEM line on its own)."""
    found = {value}
    for part in value.splitlines():
        found.update(part[i:i + 8] for i in range(max(len(part) - 7, 1)))
    return {p for p in found if p}


def assert_no_canary(text: str, canaries: dict[str, str], where: str) -> None:
    for name, canary in canaries.items():
        for piece in pieces(canary):
            assert piece not in text, f"canary {name!r} (or a piece of it) leaked into {where}"


def snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("fmt", ["table", "json", "sarif"])
def test_no_canary_in_any_output_or_created_file(cli, cli_env, planted, tmp_path, fmt):
    root, canaries = planted
    tree_before = snapshot(root)
    before = snapshot(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    to_stdout = cli("scan", "--format", fmt, "--color", "always", str(root))
    to_file = cli("scan", "--format", fmt, "--output", str(out_dir / f"report.{fmt}"), str(root))
    assert to_stdout.returncode == to_file.returncode == 1, to_stdout.stderr + to_file.stderr
    assert "Traceback" not in to_stdout.stderr + to_file.stderr

    for proc, label in ((to_stdout, "stdout run"), (to_file, "--output run")):
        assert_no_canary(proc.stdout, canaries, f"{label} stdout")
        assert_no_canary(proc.stderr, canaries, f"{label} stderr")
    created = {p: data for p, data in snapshot(tmp_path).items() if before.get(p) != data}
    assert out_dir / f"report.{fmt}" in created
    for path, data in created.items():
        assert_no_canary(data.decode("utf-8", "replace"), canaries, str(path))
    assert snapshot(root) == tree_before  # the scan never writes into the tree

    # The report found what was planted (so the absence of canaries means something).
    report = to_stdout.stdout
    for name in ("DB_PASSWORD", "service.auth.api_token", "oauth.client_secret", "keys/deploy_key", "broken.yml"):
        assert name in report, name
    assert (f"{canaries['env'][0]}***{canaries['env'][-1]} ({len(canaries['env'])} chars)") in report


def test_key_file_created_by_a_scan_holds_no_canary(cli, cli_env, planted, tmp_path):
    root, canaries = planted
    env = {k: v for k, v in cli_env.items() if k != ENV_KEY}
    before = snapshot(tmp_path)
    proc = cli("scan", "--format", "json", str(root), env=env)
    assert proc.returncode == 1
    created = {p: data for p, data in snapshot(tmp_path).items() if before.get(p) != data}
    assert [p.name for p in created] == ["fingerprint.key"]
    for path, data in created.items():
        assert_no_canary(data.decode("utf-8", "replace"), canaries, str(path))
    assert_no_canary(proc.stdout + proc.stderr, canaries, "output")


def test_hints_show_at_most_the_first_and_last_character_and_the_length(cli, cli_env, planted):
    root, canaries = planted
    fingerprint = Fingerprinter(bytes.fromhex(cli_env[ENV_KEY]))
    by_fingerprint = {fingerprint(value): value for value in canaries.values()}
    report = json.loads(cli("scan", "--format", "json", str(root)).stdout)
    matched = set()
    for finding in report["findings"]:
        match = HINT.match(finding["hint"])
        assert match, finding["hint"]
        value = by_fingerprint.get(finding["fingerprint"])
        if value is None:  # a finding on a value that is not a whole canary (the PEM block)
            assert finding["rule"] == "private-key"
            continue
        matched.add(value)
        if len(value) < 8:
            assert match["short"] == str(len(value))
        else:
            assert (match["first"], match["last"], int(match["length"])) == (value[0], value[-1], len(value))
    assert {canaries[n] for n in ("env", "yaml", "json", "url", "short", "broken", "github")} <= matched
    assert canaries["allowed"] not in matched
    short = next(f for f in report["findings"] if f["key_path"] == "SMTP_PASSWORD")
    assert short["hint"] == f"*** ({len(canaries['short'])} chars)"
