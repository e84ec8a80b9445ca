"""Importing detect-secrets baselines and gitleaks reports: matched by value in the same file,
reported as counts and locations, and never a value (a gitleaks report holds plaintext)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from assertions import one_line_error

from migrator.discover.baseline_import import Record, read_gitleaks


def sha1(value: str) -> str:
    return hashlib.sha1(value.encode()).hexdigest()


def assert_no_value(text: str, values: dict[str, str], where: str) -> None:
    for name, value in values.items():
        for i in range(len(value) - 7):
            assert value[i:i + 8] not in text, f"{name} (or a piece of it) leaked into {where}"


def accepted(path: Path) -> list[tuple[str, str, str]]:
    return [(e["path"], e["key_path"], e.get("reason", "")) for e in json.loads(path.read_text())["entries"]]


@pytest.fixture
def values(token) -> dict[str, str]:
    return {"db": token(24), "api": token(32), "yaml": token(30), "github": token(36, prefix="ghp_"),
            "url": token(20), "rotated": token(32), "gone": token(26)}


@pytest.fixture
def project(tree, values) -> Path:
    return tree({
        "config/app.env": f"APP_ENV=prod\nDB_PASSWORD={values['db']}\nAPI_TOKEN={values['api']}\n",
        "deploy/values.yaml": f"service:\n  replicas: 2\n  auth:\n    api_token: \"{values['yaml']}\"\n",
        "scripts/ci.sh": f"#!/bin/sh\nexport GH_TOKEN={values['github']}\n",
        "README.md": "nothing here\n",
    })


# -- detect-secrets ------------------------------------------------------------------------------


def detect_secrets_baseline(results: dict[str, list[dict[str, object]]]) -> str:
    """A detect-secrets 1.5 ``.secrets.baseline`` as the tool writes it."""
    return json.dumps({
        "version": "1.5.0",
        "plugins_used": [
            {"name": "ArtifactoryDetector"}, {"name": "AWSKeyDetector"}, {"name": "AzureStorageKeyDetector"},
            {"name": "Base64HighEntropyString", "limit": 4.5}, {"name": "BasicAuthDetector"},
            {"name": "GitHubTokenDetector"}, {"name": "HexHighEntropyString", "limit": 3.0},
            {"name": "KeywordDetector", "keyword_exclude": ""}, {"name": "PrivateKeyDetector"},
        ],
        "filters_used": [
            {"path": "detect_secrets.filters.allowlist.is_line_allowlisted"},
            {"path": "detect_secrets.filters.common.is_baseline_file", "filename": ".secrets.baseline"},
            {"path": "detect_secrets.filters.heuristic.is_likely_id_string"},
        ],
        "results": {
            name: [{"type": item["type"], "filename": name, "hashed_secret": item["hashed_secret"],
                    "is_verified": False, "line_number": item["line_number"],
                    **({"is_secret": item["is_secret"]} if "is_secret" in item else {})}
                   for item in items]
            for name, items in sorted(results.items())
        },
        "generated_at": "2026-11-20T09:14:03Z",
    }, indent=2) + "\n"


def test_detect_secrets_import_matches_by_sha1_in_the_same_file(cli, project, values, tmp_path):
    source = tmp_path / ".secrets.baseline"
    source.write_text(detect_secrets_baseline({
        "config/app.env": [
            {"type": "Secret Keyword", "hashed_secret": sha1(values["db"]), "line_number": 7},  # lines drift
            # The GitHub token is in scripts/ci.sh, not here: another file's secret is not accepted.
            {"type": "GitHub Token", "hashed_secret": sha1(values["github"]), "line_number": 9},
        ],
        "deploy/values.yaml": [
            {"type": "Secret Keyword", "hashed_secret": sha1(values["yaml"]), "line_number": 4, "is_secret": False},
        ],
        "old/removed.env": [
            {"type": "Secret Keyword", "hashed_secret": sha1(values["gone"]), "line_number": 4},
        ],
    }))
    output = tmp_path / "imported.json"
    proc = cli("baseline", "import", "--from", "detect-secrets", str(source), "-o", str(output), cwd=project)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == "2 imported, 2 not found in the current tree: config/app.env:9, old/removed.env:4"
    assert lines[1] == f"2 baseline entries written to {output}"
    assert lines[2].startswith("2 current findings not in the imported baseline")
    assert accepted(output) == [
        ("config/app.env", "DB_PASSWORD", "imported from detect-secrets"),
        ("deploy/values.yaml", "service.auth.api_token", "imported from detect-secrets (audited: not a secret)"),
    ]
    scan = cli("scan", "-f", "json", "--baseline", str(output), cwd=project)
    assert scan.returncode == 1
    assert [(f["path"], f["key_path"]) for f in json.loads(scan.stdout)["findings"]] == [
        ("config/app.env", "API_TOKEN"), ("scripts/ci.sh", "GH_TOKEN")]
    assert_no_value(proc.stdout + proc.stderr + output.read_text(), values, "import output")


def test_detect_secrets_paths_with_a_leading_dot_slash_and_a_scanned_path(cli, project, values, tmp_path):
    source = tmp_path / "ds.json"
    source.write_text(detect_secrets_baseline({
        "./scripts/ci.sh": [{"type": "GitHub Token", "hashed_secret": sha1(values["github"]), "line_number": 2}],
    }))
    output = tmp_path / "imported.json"
    proc = cli("baseline", "import", "--from", "detect-secrets", str(source), str(project), "-o", str(output))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("1 imported\n")
    assert [entry[:2] for entry in accepted(output)] == [("scripts/ci.sh", "GH_TOKEN")]


# -- gitleaks ------------------------------------------------------------------------------------


def gitleaks_finding(file: str, line: int, secret: str, rule: str = "generic-api-key", commit: str = "",
                     match_prefix: str = "") -> dict[str, object]:
    """One finding of a gitleaks 8 JSON report, every field as gitleaks writes it."""
    return {
        "RuleID": rule, "Description": "Detected a Generic API Key, potentially exposing access to various "
                                       "services and sensitive operations.",
        "StartLine": line, "EndLine": line, "StartColumn": len(match_prefix) + 1,
        "EndColumn": len(match_prefix) + len(secret), "Match": match_prefix + secret, "Secret": secret,
        "File": file, "SymlinkFile": "", "Commit": commit, "Entropy": 4.6, "Author": "", "Email": "",
        "Date": "", "Message": "", "Tags": [], "Fingerprint": f"{commit + ':' if commit else ''}{file}:{rule}:{line}",
    }


def test_gitleaks_import_matches_by_value_then_by_line_when_redacted(cli, project, values, tmp_path):
    (project / "config/db.properties").write_text(
        f"# primary\njdbc.url=postgres://app:{values['url']}@db.internal:5432/app\n")
    (project / "config/rotated.env").write_text(f"APP=1\nSERVICE_TOKEN={values['rotated']}\n")
    report = [
        gitleaks_finding("config/app.env", 5, values["api"], match_prefix="API_TOKEN="),  # moved since: by value
        gitleaks_finding("scripts/ci.sh", 2, values["github"], "github-pat", commit="4f1c2a9"),
        gitleaks_finding("scripts/ci.sh", 2, values["github"], "github-pat", commit="4f1c2a9"),  # twice: once
        gitleaks_finding("./deploy/values.yaml", 4, "REDACTED"),  # a redacted report: by file and line
        # gitleaks' secret is the whole URL; the finding is the password inside it, on that line.
        gitleaks_finding("config/db.properties", 2, f"postgres://app:{values['url']}@db.internal:5432/app",
                         "postgres-url"),
        # The value at this place was rotated since the report: the new one is not accepted.
        gitleaks_finding("config/rotated.env", 2, values["gone"], match_prefix="SERVICE_TOKEN="),
        gitleaks_finding(str(project / "old.env"), 1, values["db"]),  # absolute path, file gone
    ]
    source = tmp_path / "gitleaks-report.json"
    source.write_text(json.dumps(report, indent=1))
    output = tmp_path / "imported.json"
    proc = cli("baseline", "import", "--from", "gitleaks", str(source), str(project), "-o", str(output))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == ("4 imported, 2 not found in the current tree: config/rotated.env:2, "
                                          f"{project / 'old.env'}:1")
    assert [entry[:2] for entry in accepted(output)] == [
        ("config/app.env", "API_TOKEN"),
        ("config/db.properties", "jdbc.url"),
        ("deploy/values.yaml", "service.auth.api_token"),
        ("scripts/ci.sh", "GH_TOKEN"),
    ]
    scan = cli("scan", "-f", "json", "--baseline", str(output), str(project))
    assert [(f["path"], f["key_path"]) for f in json.loads(scan.stdout)["findings"]] == [
        ("config/app.env", "DB_PASSWORD"), ("config/rotated.env", "SERVICE_TOKEN")]
    assert_no_value(proc.stdout + proc.stderr + output.read_text() + scan.stdout + scan.stderr, values, "output")


def test_gitleaks_absolute_paths_under_the_scanned_root_are_matched(cli, project, values, tmp_path):
    source = tmp_path / "report.json"
    source.write_text(json.dumps([gitleaks_finding(str(project / "config/app.env"), 2, values["db"])]))
    output = tmp_path / "imported.json"
    proc = cli("baseline", "import", "--from", "gitleaks", str(source), str(project), "-o", str(output))
    assert proc.returncode == 0, proc.stderr
    assert [entry[:2] for entry in accepted(output)] == [("config/app.env", "DB_PASSWORD")]


def test_an_empty_gitleaks_report_imports_nothing(cli, project, tmp_path):
    source = tmp_path / "report.json"
    source.write_text("[]\n")
    output = tmp_path / "imported.json"
    proc = cli("baseline", "import", "--from", "gitleaks", str(source), str(project), "-o", str(output))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == "0 imported"
    assert json.loads(output.read_text())["entries"] == []


def test_a_gitleaks_secret_is_never_shown_even_by_repr_or_in_errors(cli, project, values, tmp_path):
    record = Record("a.env", 1, 1, "generic-api-key", "imported", secret=values["api"])
    assert values["api"] not in repr(record)
    source = tmp_path / "report.json"
    bad = gitleaks_finding("config/app.env", 3, values["api"])
    bad["StartLine"] = str(values["api"])
    source.write_text(json.dumps([gitleaks_finding("config/app.env", 2, values["db"]), bad]))
    proc = cli("baseline", "import", "--from", "gitleaks", str(source), str(project))
    one_line_error(proc, str(source), "finding 2", "StartLine")
    assert_no_value(proc.stdout + proc.stderr, values, "error")
    assert not (project / ".vaultshift-baseline.json").exists()
    source.write_text(json.dumps([gitleaks_finding("config/app.env", 2, values["db"])]))
    assert values["db"] not in repr(read_gitleaks(source))


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source, content, message", [
    ("detect-secrets", None, "cannot read detect-secrets baseline"),
    ("gitleaks", None, "cannot read gitleaks report"),
    ("detect-secrets", "{oops", "detect-secrets baseline is not valid JSON (line 1)"),
    ("gitleaks", "[{]", "gitleaks report is not valid JSON"),
    ("detect-secrets", "[]", "not a detect-secrets baseline"),
    ("gitleaks", '{"results": {}}', "not a gitleaks report"),
    ("gitleaks", '[{"RuleID": "x"}]', "finding 1 has no File"),
    ("detect-secrets", '{"results": {"a.env": [{"hashed_secret": "xyz", "line_number": 1}]}}',
     "a.env: entry 1 has no hashed_secret"),
])
def test_bad_source_files_are_one_line_errors_naming_the_file(cli, project, tmp_path, source, content, message):
    path = tmp_path / "source.json"
    if content is not None:
        path.write_text(content)
    output = tmp_path / "out.json"
    one_line_error(cli("baseline", "import", "--from", source, str(path), str(project), "-o", str(output)),
                   str(path), message)
    assert not output.exists()


def test_unknown_source_tool_is_a_one_line_error(cli, project, tmp_path):
    source = tmp_path / "report.json"
    source.write_text("[]")
    one_line_error(cli("baseline", "import", "--from", "trufflehog", str(source), str(project)),
                   "--from 'trufflehog'", "detect-secrets or gitleaks")
