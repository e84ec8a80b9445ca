"""The scanner pipeline over real trees: what findings carry, fingerprints, errors, order."""

from __future__ import annotations

import base64
import json
import re
import secrets

import pytest

from migrator.discover.models import Confidence, ScanResult
from migrator.discover.scanner import Scanner, ScanOptions
from migrator.fingerprint import Fingerprinter

FINGERPRINT = re.compile(r"^hmac-sha256:[0-9a-f]{32}$")


def pem() -> str:
    body = "\n".join(base64.b64encode(secrets.token_bytes(48)).decode() for _ in range(8))
    return f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----"


def by_path(result: ScanResult) -> dict[str, list]:
    found: dict[str, list] = {}
    for finding in result.findings:
        found.setdefault(finding.path, []).append(finding)
    return found


def test_findings_carry_location_key_path_rule_and_fingerprint(tree, token):
    value = token(24)
    root = tree({"deploy/prod/app.yaml": f"# app\ndatabase:\n  host: db.internal\n  password: {value}\n"})
    key = secrets.token_bytes(32)
    result = Scanner(Fingerprinter(key)).scan([root])
    assert len(result.findings) == 1
    finding = result.findings[0]
    assert finding.path == "deploy/prod/app.yaml"  # relative to the scanned root, posix
    assert (finding.span.line, finding.span.end_line) == (4, 4)
    assert finding.span.column == len("  password: ") + 1
    assert finding.span.end_column == finding.span.column + len(value)
    assert finding.key_path == "database.password"
    assert (finding.kind, finding.rule, finding.confidence) == ("password", "keyword-password", Confidence.HIGH)
    assert finding.fingerprint == Fingerprinter(key)(value)
    assert FINGERPRINT.match(finding.fingerprint)
    assert finding.reader == "yaml"
    data = (root / finding.path).read_bytes()
    assert data[finding.span.start:finding.span.end] == value.encode()

    as_dict = finding.to_dict()
    assert {"path", "line", "end_line", "column", "end_column", "start_byte", "end_byte", "key_path", "kind",
            "rule", "confidence", "fingerprint", "hint", "reader"} <= set(as_dict)
    assert as_dict["confidence"] == "high"
    assert value not in json.dumps(as_dict)


def test_identical_values_share_a_fingerprint_across_files_and_formats(scan, token):
    value, other = token(24), token(24)
    result = scan({
        ".env": f"DB_PASSWORD={value}\n",
        "config/app.yml": f"db:\n  password: \"{value}\"\n",
        "config/app.json": json.dumps({"db": {"password": value}}) + "\n",
        "config/other.ini": f"[db]\npassword = {other}\n",
    })
    found = by_path(result)
    assert sorted(found) == [".env", "config/app.json", "config/app.yml", "config/other.ini"]
    same = {found[p][0].fingerprint for p in (".env", "config/app.yml", "config/app.json")}
    assert len(same) == 1
    assert found["config/other.ini"][0].fingerprint not in same


def test_same_private_key_raw_and_in_json_without_trailing_newline_share_a_fingerprint(scan):
    key = pem()
    result = scan({"id_rsa": key + "\n", "sa.json": json.dumps({"private_key": key}) + "\n"})
    found = by_path(result)
    assert found["id_rsa"][0].fingerprint == found["sa.json"][0].fingerprint


def test_same_private_key_raw_and_in_service_account_json_share_a_fingerprint(scan):
    key = pem()
    result = scan({"id_rsa": key + "\n", "sa.json": json.dumps({"private_key": key + "\n"}) + "\n"})
    found = by_path(result)
    assert found["sa.json"][0].hint == found["id_rsa"][0].hint
    assert found["id_rsa"][0].fingerprint == found["sa.json"][0].fingerprint


def test_same_private_key_raw_and_in_yaml_block_share_a_fingerprint(scan):
    key = pem()
    block = "".join(f"    {line}\n" for line in key.splitlines())
    result = scan({"id_rsa": key + "\n", "values.yaml": f"tls:\n  key: |\n{block}"})
    found = by_path(result)
    assert found["values.yaml"][0].hint == found["id_rsa"][0].hint
    assert found["id_rsa"][0].fingerprint == found["values.yaml"][0].fingerprint


@pytest.mark.parametrize("name, content, line", [
    ("broken.yml", "a: [1, 2\nb: {{\ndb_password: {v}\n", 3),
    ("broken.json", '{{\n  "a": 1,\n  "db_password": "{v}",\n  "x": ]\n}}\n', 3),
    ("truncated.json", '{{\n  "a": [1, 2,\n  "db_password": "{v}"\n', 3),
])
def test_malformed_file_is_a_non_fatal_error_and_still_scanned_line_by_line(scan, token, name, content, line):
    value = token(24)
    result = scan({name: content.format(v=value), "ok.env": "LOG_LEVEL=debug\n"})
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error.path == name
    assert error.fatal is False
    as_dict = error.to_dict()
    assert as_dict["path"] == name
    assert as_dict.get("severity") == "note" or as_dict.get("scanned") is True
    assert "malformed" in error.reason
    assert value not in error.reason and "\n" not in error.reason
    assert len(result.findings) == 1
    finding = result.findings[0]
    assert (finding.path, finding.rule, finding.span.line) == (name, "keyword-password", line)
    assert finding.reader.endswith("+line")
    assert result.stats.files_scanned == 2


def test_invalid_utf8_is_scanned_as_latin1_with_a_warning(scan, token):
    value = token(24)
    result = scan({"legacy.conf": b"# caf\xe9\npassword = " + value.encode() + b"\n"})
    assert [(e.path, e.fatal) for e in result.errors] == [("legacy.conf", False)]
    assert [(f.path, f.key_path, f.span.line) for f in result.findings] == [("legacy.conf", "password", 2)]


def test_binary_files_are_skipped_not_errors(scan, token):
    result = scan({"blob.bin": b"\x00\x01" + f"DB_PASSWORD={token(24)}".encode(), "ok.txt": "nothing here\n"})
    assert result.findings == []
    assert result.errors == []
    assert result.stats.files_scanned == 1
    assert result.stats.skipped_reasons == {"binary": 1}


def test_missing_root_is_a_fatal_error(tmp_path):
    result = Scanner(Fingerprinter(secrets.token_bytes(32))).scan([tmp_path / "absent"])
    assert len(result.errors) == 1 and result.errors[0].fatal
    assert result.findings == []


def test_order_is_deterministic_and_sorted_by_path_then_offset(tree, token):
    files = {}
    for name in ("z.env", "a.env", "m/b.yml", "m/a.yml", "B.env"):
        if name.endswith(".yml"):
            files[name] = f"one_token: {token(32)}\ntwo_token: {token(32)}\n"
        else:
            files[name] = f"TWO_SECRET={token(32)}\nONE_SECRET={token(32)}\n"
    root = tree(files)
    scanner = Scanner(Fingerprinter(secrets.token_bytes(32)))
    first = [f.to_dict() for f in scanner.scan([root]).findings]
    second = [f.to_dict() for f in scanner.scan([root]).findings]
    assert first == second
    assert len(first) == 10
    keys = [(f["path"], f["start_byte"]) for f in first]
    assert keys == sorted(keys)
    assert [f["path"] for f in first[::2]] == ["B.env", "a.env", "m/a.yml", "m/b.yml", "z.env"]


def test_min_confidence_drops_lower_confidence_candidates(tree, token):
    jwt = "eyJ" + token(30) + ".eyJ" + token(40) + "." + token(43)
    root = tree({"notes.txt": f"jwt {jwt}\ngh {token(36, prefix='ghp_')}\n"})
    key = secrets.token_bytes(32)
    everything = Scanner(Fingerprinter(key)).scan([root])
    assert sorted(f.rule for f in everything.findings) == ["github-token", "jwt"]
    high = Scanner(Fingerprinter(key), ScanOptions(min_confidence=Confidence.HIGH)).scan([root])
    assert [f.rule for f in high.findings] == ["github-token"]
    assert high.stats.dropped_by_filter.get("min-confidence") == 1


def test_stats_count_files_candidates_and_findings(scan, token):
    result = scan({".env": f"DB_PASSWORD={token(24)}\nOTHER_PASSWORD=changeme\n", "README.md": "hello\n"})
    stats = result.stats.to_dict()
    assert stats["files_scanned"] == 2
    assert stats["findings"] == 1
    assert stats["candidates"] >= 2
    assert stats["dropped_by_filter"].get("placeholder") == 1
    assert stats["bytes_scanned"] > 0


def test_a_single_file_root_is_displayed_as_given(tree, token):
    root = tree({"conf/.env": f"API_TOKEN={token(32)}\n"})
    result = Scanner(Fingerprinter(secrets.token_bytes(32))).scan([str(root / "conf" / ".env")])
    assert [f.path for f in result.findings] == [str(root / "conf" / ".env")]


def test_duplicate_keys_in_pretty_json_are_both_found(scan, token):
    first, second = token(24), token(24)
    doc = json.dumps({"db": {"password": "@@1"}}, indent=2).replace('"password": "@@1"', (
        f'"password": "{first}",\n    "password": "{second}"'))
    result = scan({"c.json": doc + "\n"})
    assert {f.hint for f in result.findings} == {f"{v[0]}***{v[-1]} (24 chars)" for v in (first, second)}


def test_duplicate_keys_in_minified_json_are_both_found(scan, token):
    first, second = token(24), token(24)
    result = scan({"c.json": f'{{"db":{{"password":"{first}","password":"{second}"}}}}\n'})
    assert len(result.findings) == 2


class _BrokenFilter:
    """A filter with a bug whose message quotes the value, as careless code would."""

    name = "broken"

    def drops(self, candidate, doc):
        raise ValueError(f"cannot judge {candidate.value}")


def test_a_detector_or_filter_bug_is_one_error_without_the_value(tmp_path, token):
    from migrator.discover.scanner import Scanner
    from migrator.fingerprint import Fingerprinter

    secret = token(20)
    (tmp_path / "a.env").write_text(f"DB_PASSWORD={secret}\n")
    (tmp_path / "b.txt").write_text("nothing here\n")
    result = Scanner(Fingerprinter(bytes(32)), filters=[_BrokenFilter()]).scan([tmp_path])
    assert [(e.path, e.fatal) for e in result.errors] == [("a.env", True)]
    assert "ValueError" in result.errors[0].reason and secret not in result.errors[0].reason
    assert result.stats.files_scanned == 1  # b.txt was still scanned
