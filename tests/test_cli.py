"""The ``vaultshift`` command, run for real as a subprocess: exit codes, formats, options."""

from __future__ import annotations

import json
import os

import pytest

from migrator.discover import baseline
from migrator.discover.baseline import BaselineEntry


def is_note(error: dict) -> bool:
    """A JSON error entry that does not make the report incomplete (README: "scanned": true)."""
    return error.get("severity") == "note" or error.get("scanned") is True


def assert_one_line_error(stderr: str) -> None:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("vaultshift")


@pytest.fixture
def dirty(tree, token):
    """A tree with one keyword finding, one provider token, a clean file."""
    return tree({
        ".env": f"DB_PASSWORD={token(24)}\n",
        "ci/workflow.yml": f"env:\n  GITHUB_TOKEN: {token(36, prefix='ghp_')}\n",
        "README.md": "Nothing to see here.\n",
    })


def test_exit_0_on_a_clean_tree(cli, tree):
    root = tree({"README.md": "hello\n", "c.yml": "db:\n  host: db.internal\n  password: ${DB_PASSWORD}\n"})
    proc = cli("scan", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "0 findings in 0 files; 2 files scanned" in proc.stdout
    assert proc.stderr == ""


def test_exit_1_with_findings_and_the_table(cli, dirty):
    proc = cli("scan", "--color", "never", str(dirty))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["LOCATION", "KIND", "KEY", "RULE", "CONF", "HINT"]
    rows = {line.split()[0]: line.split() for line in lines[1:3]}
    assert set(rows) == {".env:1", "ci/workflow.yml:2"}
    assert rows[".env:1"][1:5] == ["password", "DB_PASSWORD", "keyword-password", "high"]
    assert rows["ci/workflow.yml:2"][2:4] == ["env.GITHUB_TOKEN", "github-token"]
    assert " ".join(rows[".env:1"][5:]).endswith("(24 chars)")
    assert any(line.startswith("2 findings in 2 files; 3 files scanned") for line in lines)
    assert "\033[" not in proc.stdout


def test_color_always_colours_the_table(cli, dirty):
    proc = cli("scan", "--color", "always", str(dirty))
    assert proc.returncode == 1
    assert "\033[31m" in proc.stdout


def test_exit_2_on_an_unknown_option(cli, dirty):
    proc = cli("scan", "--no-such-option", str(dirty))
    assert proc.returncode == 2
    assert "unrecognized arguments: --no-such-option" in proc.stderr
    assert proc.stdout == ""


def test_exit_2_without_a_command(cli):
    proc = cli()
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


def test_exit_2_on_a_path_that_does_not_exist(cli, dirty, tmp_path):
    missing = tmp_path / "not-there"
    proc = cli("scan", "--format", "json", str(dirty), str(missing))
    assert proc.returncode == 2
    report = json.loads(proc.stdout)
    errors = [e for e in report["errors"] if e["path"] == str(missing)]
    assert len(errors) == 1
    assert errors[0]["reason"] == "no such file or directory"
    assert not is_note(errors[0])
    assert len(report["findings"]) == 2  # the rest was still scanned


def test_unreadable_file_is_an_error_exit_2(cli, tree):
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    root = tree({"secret.env": "A=1\n"})
    (root / "secret.env").chmod(0)
    proc = cli("scan", str(root))
    assert proc.returncode == 2
    assert "permission denied" in proc.stdout


def test_json_format_shape(cli, dirty):
    proc = cli("scan", "--format", "json", str(dirty))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert {"findings", "errors", "stats"} <= set(report)
    assert report["errors"] == []
    assert len(report["findings"]) == 2
    for finding in report["findings"]:
        assert {"path", "line", "end_line", "column", "end_column", "key_path", "kind", "rule", "confidence",
                "fingerprint", "hint"} <= set(finding)
        assert isinstance(finding["line"], int) and finding["line"] >= 1
        assert finding["fingerprint"].startswith("hmac-sha256:")
    assert [f["path"] for f in report["findings"]] == [".env", "ci/workflow.yml"]
    stats = report["stats"]
    assert stats["files_scanned"] == 3
    assert stats["findings"] == 2
    assert isinstance(stats["dropped_by_filter"], dict)


def test_json_reports_non_fatal_errors(cli, tree, token):
    root = tree({"broken.yml": f"a: [1, 2\ndb_password: {token(24)}\n"})
    proc = cli("scan", "-f", "json", str(root))
    assert proc.returncode == 1  # non-fatal: findings decide
    report = json.loads(proc.stdout)
    assert len(report["errors"]) == 1
    error = report["errors"][0]
    assert error["path"] == "broken.yml" and is_note(error)
    assert "malformed YAML" in error["reason"]


def test_sarif_format(cli, dirty):
    proc = cli("scan", "--format", "sarif", str(dirty))
    assert proc.returncode == 1
    sarif = json.loads(proc.stdout)
    assert sarif["version"] == "2.1.0"
    assert "sarif" in sarif["$schema"] and sarif["$schema"].endswith(".json")
    run = sarif["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "vaultshift"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    results = run["results"]
    assert sorted(r["ruleId"] for r in results) == ["github-token", "keyword-password"]
    for result in results:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] in (".env", "ci/workflow.yml")
        region = location["region"]
        assert region["startLine"] >= 1 and region["endLine"] >= region["startLine"]
        assert region["startColumn"] >= 1 and region["endColumn"] > region["startColumn"]
        assert result["partialFingerprints"]["vaultshift/v1"].startswith("hmac-sha256:")
    lines = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]:
             r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results}
    assert lines == {".env": 1, "ci/workflow.yml": 2}
    assert run["invocations"][0]["executionSuccessful"] is True


def test_output_file(cli, dirty, tmp_path):
    out = tmp_path / "reports" / "scan.json"
    out.parent.mkdir()
    proc = cli("scan", "-f", "json", "--output", str(out), str(dirty))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith("2 findings in 2 files")
    assert len(json.loads(out.read_text())["findings"]) == 2
    assert sorted(p.name for p in out.parent.iterdir()) == ["scan.json"]  # no temporary file left


def test_table_output_file(cli, dirty, tmp_path):
    out = tmp_path / "scan.txt"
    proc = cli("scan", "-o", str(out), str(dirty))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert out.read_text().startswith("LOCATION")


def test_output_into_a_missing_directory_is_a_one_line_error(cli, dirty, tmp_path):
    proc = cli("scan", "-f", "json", "-o", str(tmp_path / "nope" / "scan.json"), str(dirty))
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr)
    assert "cannot write report" in proc.stderr


def test_exclude(cli, dirty):
    proc = cli("scan", "-f", "json", "--exclude", "ci/", str(dirty))
    assert proc.returncode == 1
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == [".env"]
    proc = cli("scan", "-f", "json", "-e", "ci/", "-e", ".env", str(dirty))
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["findings"] == []


def test_invalid_exclude_pattern_is_a_usage_error(cli, dirty):
    proc = cli("scan", "--exclude", "!", str(dirty))
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr)


def test_invalid_gitignore_line_does_not_crash_the_scan(cli, tree, token):
    root = tree({".gitignore": "!\n*.log\n", ".env": f"DB_PASSWORD={token(24)}\n"})
    proc = cli("scan", str(root))
    assert "Traceback" not in proc.stderr
    assert proc.returncode in (1, 2)


def test_baseline(cli, dirty, tmp_path):
    first = json.loads(cli("scan", "-f", "json", str(dirty)).stdout)
    path = tmp_path / "baseline.json"
    baseline.save(path, [BaselineEntry(f["fingerprint"], f["path"], f["key_path"], f["rule"])
                         for f in first["findings"]])
    proc = cli("scan", "-f", "json", "--baseline", str(path), str(dirty))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["findings"] == []
    assert report["stats"]["dropped_by_filter"]["baseline"] == 2


def test_baseline_keeps_new_secrets(cli, dirty, tmp_path, token):
    first = json.loads(cli("scan", "-f", "json", str(dirty)).stdout)
    path = tmp_path / "baseline.json"
    baseline.save(path, [BaselineEntry(f["fingerprint"], f["path"], f["key_path"], f["rule"])
                         for f in first["findings"]])
    (dirty / "new.env").write_text(f"API_SECRET={token(24)}\n")
    proc = cli("scan", "-f", "json", "--baseline", str(path), str(dirty))
    assert proc.returncode == 1
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == ["new.env"]


@pytest.mark.parametrize("content, message", [
    (None, "cannot read baseline"),
    ("{not json", "not valid JSON"),
    ('{"entries": {}}', "not a vaultshift baseline"),
])
def test_bad_baseline_is_a_one_line_error(cli, dirty, tmp_path, content, message):
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    proc = cli("scan", "--baseline", str(path), str(dirty))
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr)
    assert message in proc.stderr


def test_min_confidence_high(cli, tree, token):
    jwt = "eyJ" + token(30) + ".eyJ" + token(40) + "." + token(43)
    root = tree({"notes.txt": f"session {jwt}\n"})
    assert cli("scan", str(root)).returncode == 1
    proc = cli("scan", "-f", "json", "--min-confidence", "high", str(root))
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["stats"]["dropped_by_filter"] == {"min-confidence": 1}
    assert cli("scan", "--min-confidence", "extreme", str(root)).returncode == 2


def test_max_file_size(cli, tree, token):
    root = tree({"big.env": f"DB_PASSWORD={token(24)}\n" + "# padding\n" * 200, "small.env": "A=1\n"})
    proc = cli("scan", "-f", "json", "--max-file-size", "1K", str(root))
    assert proc.returncode == 2  # content left unscanned: the report is incomplete, and says why
    report = json.loads(proc.stdout)
    assert report["findings"] == []
    assert len(report["errors"]) == 1
    error = report["errors"][0]
    assert error["path"] == "big.env" and "--max-file-size" in error["reason"] and not is_note(error)
    assert cli("scan", "-f", "json", str(root)).returncode == 1  # found without the cap
    assert cli("scan", "--max-file-size", "huge", str(root)).returncode == 2


def test_scan_defaults_to_the_current_directory(cli, dirty):
    proc = cli("scan", "-f", "json", cwd=dirty)
    assert proc.returncode == 1
    assert [f["path"] for f in json.loads(proc.stdout)["findings"]] == [".env", "ci/workflow.yml"]


def test_version(cli):
    proc = cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("vaultshift ")


def test_baseline_create_then_scan_reports_only_new_secrets(cli, tree, token, tmp_path):
    first, second = token(20), token(20)
    root = tree({"app.env": f"DB_PASSWORD={first}\n"})
    baseline = tmp_path / "baseline.json"
    created = cli("baseline", "create", "-o", str(baseline), str(root))
    assert created.returncode == 0, created.stderr
    assert created.stderr.startswith("1 accepted finding written to")
    data = json.loads(baseline.read_text())
    assert [(e["path"], e["key_path"], e["rule"]) for e in data["entries"]] == [
        ("app.env", "DB_PASSWORD", "keyword-password")]
    assert first not in baseline.read_text()
    assert cli("scan", "--baseline", str(baseline), str(root)).returncode == 0
    (root / "app.env").write_text(f"# moved down a line\nDB_PASSWORD={first}\nAPI_TOKEN={second}\n")
    proc = cli("scan", "-f", "json", "--baseline", str(baseline), str(root))
    assert proc.returncode == 1
    assert [f["key_path"] for f in json.loads(proc.stdout)["findings"]] == ["API_TOKEN"]



@pytest.mark.parametrize("command", ["guard", "baseline"])
def test_a_command_without_its_action_prints_its_own_help(cli, command):
    run = cli(command)
    assert run.returncode == 2
    assert run.stderr.startswith(f"usage: vaultshift {command} ")


def test_output_to_a_device_or_fifo_writes_in_place(cli, tree, tmp_path):
    import os
    import stat as stat_mod

    root = tree({"a.env": "HOST=db\n"})
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        run = cli("scan", str(root), "--format", "json", "--output", str(fifo))
        assert run.returncode == 0, run.stderr
        assert b'"findings": []' in os.read(reader, 1 << 16)
    finally:
        os.close(reader)
    assert stat_mod.S_ISFIFO(fifo.stat().st_mode)  # still a FIFO, not replaced by a file
    link = tmp_path / "link.json"
    target = tmp_path / "real.json"
    target.write_text("old")
    link.symlink_to(target)
    assert cli("scan", str(root), "--format", "json", "--output", str(link)).returncode == 0
    assert link.is_symlink() and '"findings"' in target.read_text()
