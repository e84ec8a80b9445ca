"""The report renderers: JSON, SARIF, the table and the progress bar."""

from __future__ import annotations

import io
import json
import re
from urllib.parse import unquote

from migrator.discover.detectors import rule_ids
from migrator.discover.models import Confidence, Finding, ScanError, ScanResult, Span
from migrator.report import json_report, sarif, table
from migrator.report.progress import ProgressBar

ANSI = re.compile(r"\033\[[0-9;]*m")


def finding(path: str = "conf/app.yml", line: int = 3, key_path: str = "db.password", rule: str = "keyword-password",
            kind: str = "password", confidence: Confidence = Confidence.HIGH) -> Finding:
    return Finding(path, Span(line, 5, line, 29, 40, 64), key_path, kind, rule, confidence,
                   "hmac-sha256:" + "0" * 32, "A***z (24 chars)", "yaml")


def result_of(findings=(), errors=()) -> ScanResult:
    result = ScanResult(findings=list(findings), errors=list(errors))
    result.stats.files_scanned = 4
    result.stats.findings = len(result.findings)
    return result


# -- JSON -------------------------------------------------------------------------------------------


def test_json_report(scan, token):
    result = scan({".env": f"DB_PASSWORD={token(24)}\n", "bad.json": '{"a": ]\n'})
    report = json.loads(json_report.render(result))
    assert report["version"] == 1
    assert report["tool"]["name"] == "vaultshift"
    assert [f["key_path"] for f in report["findings"]] == ["DB_PASSWORD"]
    assert report["findings"][0]["start_byte"] == len("DB_PASSWORD=")
    assert report["findings"][0]["end_byte"] == len("DB_PASSWORD=") + 24
    assert [(e["path"], e["reason"]) for e in report["errors"]] == [("bad.json", result.errors[0].reason)]
    assert report["errors"][0].get("severity") == "note" or report["errors"][0].get("scanned") is True
    assert report["stats"]["files_scanned"] == 2


# -- SARIF ------------------------------------------------------------------------------------------


def test_sarif_rule_table_covers_every_rule_and_results_point_into_it():
    findings = [finding(rule=rule) for rule in ("keyword-password", "github-token", "private-key", "url-password")]
    doc = sarif.scan_to_sarif(result_of(findings))
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == rule_ids()
    for result in doc["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_region_and_levels():
    findings = [finding(confidence=Confidence.HIGH), finding(line=9, confidence=Confidence.LOW)]
    results = sarif.scan_to_sarif(result_of(findings))["runs"][0]["results"]
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 29, "byteOffset": 40,
                      "byteLength": 24}
    assert [r["level"] for r in results] == ["error", "warning"]
    assert results[0]["properties"] == {"confidence": "high", "keyPath": "db.password", "kind": "password"}
    assert "A***z (24 chars)" in results[0]["message"]["text"]


def test_sarif_errors_become_notifications():
    errors = [ScanError("gone.yml", "no such file or directory"), ScanError("bad.yml", "malformed YAML", fatal=False)]
    invocation = sarif.scan_to_sarif(result_of(errors=errors))["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    notes = invocation["toolExecutionNotifications"]
    assert [(n["level"], n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for n in notes] == [
        ("error", "gone.yml"), ("note", "bad.yml")]
    only_warnings = sarif.scan_to_sarif(result_of(errors=errors[1:]))
    assert only_warnings["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_sarif_render_is_json():
    doc = json.loads(sarif.render(result_of([finding()])))
    assert doc["version"] == "2.1.0"
    assert doc["$schema"] == sarif.SCHEMA


# -- table ------------------------------------------------------------------------------------------


def test_table_rows_errors_and_summary():
    text = table.render(result_of([finding(), finding(path="a.env", line=1, key_path="")],
                                  [ScanError("gone", "no such file or directory"),
                                   ScanError("bad.yml", "malformed YAML", fatal=False)]), width=200)
    lines = text.splitlines()
    assert lines[0].split() == ["LOCATION", "KIND", "KEY", "RULE", "CONF", "HINT"]
    assert lines[1].split()[:5] == ["conf/app.yml:3", "password", "db.password", "keyword-password", "high"]
    assert lines[2].split()[:3] == ["a.env:1", "password", "-"]
    assert "error: gone: no such file or directory" in lines
    assert "note: bad.yml: malformed YAML" in lines
    assert any(line.startswith("2 findings in 2 files; 4 files scanned, 0 skipped, 2 errors") for line in lines)
    assert not ANSI.search(text)


def test_table_without_findings_is_the_summary_alone():
    assert table.render(result_of(), width=100).startswith("0 findings in 0 files; 4 files scanned")


def test_table_clips_the_key_path_and_location_to_the_width():
    long = finding(path="services/" + "very-long-directory-name/" * 4 + "values.yaml",
                   key_path="spec.template.spec.containers[0].env[3].valueFrom.literal.password")
    unlimited = table.render(result_of([long])).splitlines()
    assert len(unlimited[1]) > 200
    lines = table.render(result_of([long]), width=100).splitlines()
    assert all(len(line) <= 100 for line in lines[:2])
    assert "…" in lines[1]
    assert lines[1].split()[3:5] == ["keyword-password", "high"]  # rule and confidence stay whole


def test_table_never_gets_wider_when_the_terminal_is_narrower():
    natural = max(len(line) for line in table.render(result_of([finding()])).splitlines()[:2])
    narrow = max(len(line) for line in table.render(result_of([finding()]), width=60).splitlines()[:2])
    assert narrow <= natural


def test_table_colour():
    text = table.render(result_of([finding()]), color=True, width=120)
    assert ANSI.search(text)
    assert ANSI.sub("", text) == table.render(result_of([finding()]), color=False, width=120)


# -- progress ---------------------------------------------------------------------------------------


def test_progress_bar_draws_for_big_scans_and_clears():
    stream = io.StringIO()
    bar = ProgressBar(stream=stream, min_total=3, interval=0)
    for done in range(1, 4):
        bar(done, 3, f"dir/file{done}.yml")
    assert "3/3" in stream.getvalue() and "dir/file3.yml" in stream.getvalue()
    bar.close()
    assert stream.getvalue().endswith("\r")


def test_progress_bar_is_silent_for_small_scans():
    stream = io.StringIO()
    bar = ProgressBar(stream=stream, min_total=200)
    bar(1, 5, "a")
    bar.close()
    assert stream.getvalue() == ""


def test_sarif_uri_is_percent_encoded(scan, token):
    result = scan({"my dir/app #1.env": f"DB_PASSWORD={token(24)}\n"})
    uri = sarif.scan_to_sarif(result)["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"]["uri"]
    assert " " not in uri and "#" not in uri
    assert unquote(uri) == "my dir/app #1.env"


def test_a_narrow_table_keeps_the_file_and_line_of_each_location(tmp_path):
    from migrator.discover.models import Confidence, Finding, ScanResult, Span
    from migrator.report import table

    finding = Finding("deeply/nested/directory/of/configuration/app.yml", Span(42, 3, 42, 20, 100, 117),
                      "database.primary.password", "password", "keyword-password", Confidence.HIGH,
                      "hmac-sha256:" + "0" * 32, "a***z (17 chars)", "yaml")
    rendered = table.render(ScanResult(findings=[finding]), width=90)
    row = rendered.splitlines()[1]
    assert row.startswith("…") and "app.yml:42" in row
    assert "a***z (17 chars)" in row
    assert max(len(line) for line in rendered.splitlines()[:2]) <= 90
