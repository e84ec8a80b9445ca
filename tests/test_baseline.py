"""Baselines: keyed on fingerprint, file and key path (no churn), key ids, create / update / audit.

Everything runs for real: files in a temporary tree, the CLI as a subprocess with its own key.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from assertions import one_line_error

from migrator.discover import baseline as baseline_file
from migrator.discover.baseline import Baseline, BaselineEntry, BaselineError
from migrator.fingerprint import ENV_KEY, Fingerprinter

FP = "hmac-sha256:" + "0" * 32


def entries(path: Path) -> list[tuple[str, str, str]]:
    return [(e["path"], e["key_path"], e["rule"]) for e in json.loads(path.read_text())["entries"]]


@pytest.fixture
def project(tree, token):
    """A tree with two accepted-to-be secrets and the values planted in it."""
    values = {"db": token(24), "api": token(32)}
    root = tree({
        "app.env": f"APP_ENV=prod\nDB_PASSWORD={values['db']}\n",
        "deploy/values.yaml": f"service:\n  replicas: 2\n  auth:\n    api_token: \"{values['api']}\"\n",
        "README.md": "nothing here\n",
    })
    return root, values


@pytest.fixture
def created(cli, project, tmp_path):
    root, values = project
    path = tmp_path / "baseline.json"
    proc = cli("baseline", "create", "-o", str(path), str(root))
    assert proc.returncode == 0, proc.stderr
    assert entries(path) == [("app.env", "DB_PASSWORD", "keyword-password"),
                             ("deploy/values.yaml", "service.auth.api_token", "keyword-token")]
    return root, values, path


# -- the engine ----------------------------------------------------------------------------------


def test_accepts_needs_the_same_fingerprint_and_path_and_the_key_path_unless_the_entry_has_none():
    other = "hmac-sha256:" + "1" * 32
    baseline = Baseline((BaselineEntry(FP, "a.env", "DB_PASSWORD", "keyword-password"),
                         BaselineEntry(other, "b.yml", "", "github-token")))
    assert baseline.accepts(FP, "a.env", "DB_PASSWORD")
    assert not baseline.accepts(FP, "a.env", "OTHER_PASSWORD")
    assert not baseline.accepts(FP, "c.env", "DB_PASSWORD")
    assert not baseline.accepts(other, "a.env", "DB_PASSWORD")
    assert baseline.accepts(other, "b.yml", "anything.at.all")
    assert not baseline.accepts(other, "a.env", "")
    assert not Baseline().accepts(FP, "a.env", "DB_PASSWORD")


def test_baseline_is_immutable_sorted_by_path_and_deduplicated():
    late = BaselineEntry(FP, "z.env", "A", "r")
    early = BaselineEntry("hmac-sha256:" + "f" * 32, "a.env", "B", "r")
    baseline = Baseline((late, early, late, late.with_reason("reviewed")))
    assert baseline.entries == (early, late.with_reason("reviewed"))  # the copy with a reason wins
    with pytest.raises(AttributeError):
        baseline.entries = ()  # type: ignore[misc]
    assert hash(baseline) == hash(Baseline((early, late.with_reason("reviewed"))))


def test_key_id_names_the_key_without_showing_it():
    key = secrets.token_bytes(32)
    key_id = Fingerprinter(key).key_id
    assert len(key_id) == 16 and int(key_id, 16) >= 0
    assert key_id == Fingerprinter(key).key_id
    assert key_id != Fingerprinter(secrets.token_bytes(32)).key_id
    assert key_id not in key.hex()
    assert key_id not in Fingerprinter(key)("vaultshift key id")  # domain-separated from fingerprints


def test_save_is_stable_and_skips_an_identical_rewrite(tmp_path):
    path = tmp_path / "b.json"
    baseline = Baseline((BaselineEntry(FP, "a.env", "A", "r"),), "0123456789abcdef")
    assert baseline_file.save(path, baseline) is True
    first = path.read_bytes()
    assert baseline_file.save(path, Baseline(tuple(reversed(baseline.entries)), baseline.key_id)) is False
    assert path.read_bytes() == first
    assert baseline_file.load(path) == baseline
    assert not [p for p in tmp_path.iterdir() if p.name != "b.json"]  # no temporary file left behind


# -- no churn, no false acceptance ---------------------------------------------------------------


def test_editing_other_lines_and_moving_the_value_does_not_churn_the_baseline(cli, created, token):
    root, values, path = created
    before = path.read_bytes()
    (root / "app.env").write_text(f"# production settings\nAPP_ENV=staging\nLOG_LEVEL=debug\n\n"
                                  f"DB_PASSWORD={values['db']}\n")
    (root / "deploy/values.yaml").write_text(
        f"service:\n  auth:\n    api_token: \"{values['api']}\"\n    user: app\n  replicas: 5\n")
    scan = cli("scan", "-f", "json", "--baseline", str(path), str(root))
    assert scan.returncode == 0, scan.stdout + scan.stderr
    assert json.loads(scan.stdout)["stats"]["dropped_by_filter"]["baseline"] == 2

    proc = cli("baseline", "update", "-b", str(path), str(root))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[-1] == f"0 added, 2 kept, 0 removed; {path} unchanged"
    assert path.read_bytes() == before


def test_the_same_secret_copied_to_another_file_or_key_is_not_accepted(cli, created):
    root, values, path = created
    (root / "other.env").write_text(f"DB_PASSWORD={values['db']}\n")
    (root / "app.env").write_text(f"DB_PASSWORD={values['db']}\nREPLICA_PASSWORD={values['db']}\n")
    proc = cli("scan", "-f", "json", "--baseline", str(path), str(root))
    assert proc.returncode == 1
    found = [(f["path"], f["key_path"]) for f in json.loads(proc.stdout)["findings"]]
    assert found == [("app.env", "REPLICA_PASSWORD"), ("other.env", "DB_PASSWORD")]


def test_a_changed_value_at_the_same_place_is_not_accepted(cli, created, token):
    root, _, path = created
    (root / "app.env").write_text(f"APP_ENV=prod\nDB_PASSWORD={token(24)}\n")
    proc = cli("scan", "-f", "json", "--baseline", str(path), str(root))
    assert proc.returncode == 1
    assert [f["key_path"] for f in json.loads(proc.stdout)["findings"]] == ["DB_PASSWORD"]


def test_output_is_sorted_by_path_and_identical_whatever_the_order_or_lines(cli, tmp_path, token):
    values = {name: token(24) for name in "dbca"}
    one, two = tmp_path / "one", tmp_path / "two"
    for name in "dbca":
        write_file(one / f"{name}.env", f"API_TOKEN={values[name]}\n")
    for name in "abcd":
        write_file(two / f"{name}.env", f"# {name}\nAPP=1\n\nAPI_TOKEN={values[name]}\n")
    for root in (one, two):
        proc = cli("baseline", "create", "-o", str(root.with_suffix(".json")), str(root))
        assert proc.returncode == 0, proc.stderr
    data = json.loads(one.with_suffix(".json").read_text())
    assert [e["path"] for e in data["entries"]] == ["a.env", "b.env", "c.env", "d.env"]
    assert set(data) == {"version", "entries", "fingerprint_key_id"} and data["version"] == 2
    assert all(set(e) == {"fingerprint", "path", "key_path", "rule"} for e in data["entries"])
    assert one.with_suffix(".json").read_bytes() == two.with_suffix(".json").read_bytes()
    assert not any(value in one.with_suffix(".json").read_text() for value in values.values())


def write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# -- fingerprint key ids -------------------------------------------------------------------------


def test_a_baseline_made_with_another_key_is_a_one_line_error(cli, cli_env, created):
    root, _, path = created
    other = {**cli_env, ENV_KEY: secrets.token_hex(32)}
    for args in (("scan", "--baseline", str(path)), ("baseline", "update", "-b", str(path)),
                 ("baseline", "audit", "-b", str(path))):
        proc = cli(*args, str(root), env=other)
        one_line_error(proc, str(path), "another fingerprint key", ENV_KEY, "--fingerprint-key-file")
    key_id = json.loads(path.read_text())["fingerprint_key_id"]
    assert key_id == Fingerprinter(bytes.fromhex(cli_env[ENV_KEY])).key_id
    assert cli_env[ENV_KEY] not in path.read_text()

    key_file = root.parent / "team.key"
    key_file.write_text(cli_env[ENV_KEY] + "\n")
    shared = cli("scan", "--baseline", str(path), "--fingerprint-key-file", str(key_file), str(root), env=other)
    assert shared.returncode == 0, shared.stderr


def test_a_version_1_baseline_still_loads_and_update_adds_the_key_id(cli, cli_env, project, tmp_path):
    root, values = project
    fingerprint = Fingerprinter(bytes.fromhex(cli_env[ENV_KEY]))
    path = tmp_path / "v1.json"
    path.write_text(json.dumps({"version": 1, "entries": [
        {"fingerprint": fingerprint(values["db"]), "path": "app.env", "key_path": "DB_PASSWORD",
         "rule": "keyword-password"},
        {"fingerprint": fingerprint(values["api"]), "path": "deploy/values.yaml",
         "key_path": "service.auth.api_token", "rule": "keyword-token"},
    ]}))
    assert baseline_file.load(path, key_id=fingerprint.key_id).key_id == ""
    assert cli("scan", "--baseline", str(path), str(root)).returncode == 0
    proc = cli("baseline", "update", "-b", str(path), str(root))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(path.read_text())
    assert data["version"] == 2 and data["fingerprint_key_id"] == fingerprint.key_id
    assert len(data["entries"]) == 2


# -- update --------------------------------------------------------------------------------------


def test_update_adds_new_findings_removes_stale_entries_and_keeps_reasons(cli, created, token):
    root, _, path = created
    data = json.loads(path.read_text())
    data["entries"][0]["reason"] = "staging database, rotated monthly"
    path.write_text(json.dumps(data))
    (root / "deploy/values.yaml").write_text("service:\n  replicas: 2\n")
    (root / "new.env").write_text(f"API_SECRET={token(24)}\nSMTP_PASSWORD={token(20)}\n")

    proc = cli("baseline", "update", "-b", str(path), str(root))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[-1] == f"2 added, 1 kept, 1 removed; written to {path}"
    assert "  removed  deploy/values.yaml service.auth.api_token" in proc.stderr
    assert "  added    new.env:1 API_SECRET" in proc.stderr
    assert entries(path) == [("app.env", "DB_PASSWORD", "keyword-password"),
                             ("new.env", "API_SECRET", "keyword-secret"),
                             ("new.env", "SMTP_PASSWORD", "keyword-password")]
    assert json.loads(path.read_text())["entries"][0]["reason"] == "staging database, rotated monthly"
    assert cli("scan", "--baseline", str(path), str(root)).returncode == 0


def test_update_keep_stale(cli, created):
    root, _, path = created
    (root / "app.env").write_text("APP_ENV=prod\n")
    proc = cli("baseline", "update", "--keep-stale", "-b", str(path), str(root))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("0 added, 1 kept, 0 removed, 1 stale kept;")
    assert len(entries(path)) == 2


def test_update_never_drops_entries_of_a_file_it_could_not_scan(cli, created):
    root, values, path = created
    (root / "app.env").write_text("# padding\n" * 300 + f"DB_PASSWORD={values['db']}\n")
    proc = cli("baseline", "update", "--max-file-size", "1K", "-b", str(path), str(root))
    assert proc.returncode == 2  # content left unscanned
    assert "error: app.env:" in proc.stderr
    assert "1 kept unverified (file not scanned)" in proc.stderr
    assert len(entries(path)) == 2


# -- audit ---------------------------------------------------------------------------------------


def test_audit_lists_present_and_stale_entries_and_prune_removes_the_stale(cli, created):
    root, values, path = created
    (root / "app.env").write_text(f"# moved\n\nDB_PASSWORD={values['db']}\n")
    (root / "deploy/values.yaml").unlink()
    before = path.read_bytes()

    proc = cli("baseline", "audit", "-b", str(path), str(root))
    assert proc.returncode == 1, proc.stderr
    assert path.read_bytes() == before  # audit alone never writes
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[1:3]}
    assert rows["present"][1:4] == ["app.env:3", "password", "DB_PASSWORD"]
    assert proc.stdout.splitlines()[1].split("  ")[-2:] == [f"{values['db'][0]}***{values['db'][-1]} (24 chars)", "-"]
    assert rows["stale"][1:4] == ["deploy/values.yaml", "-", "service.auth.api_token"]
    assert "2 baseline entries: 1 present, 1 stale" in proc.stdout

    pruned = cli("baseline", "audit", "--prune", "-b", str(path), str(root))
    assert pruned.returncode == 0, pruned.stderr
    assert f"1 stale entry removed from {path}" in pruned.stdout
    assert entries(path) == [("app.env", "DB_PASSWORD", "keyword-password")]
    again = cli("baseline", "audit", "-b", str(path), str(root))
    assert again.returncode == 0
    assert "1 baseline entry: 1 present, 0 stale" in again.stdout


def test_audit_json(cli, created, token):
    root, _, path = created
    (root / "deploy/values.yaml").unlink()
    (root / "new.env").write_text(f"API_SECRET={token(24)}\n")
    proc = cli("baseline", "audit", "-f", "json", "-b", str(path), str(root))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert [(e["path"], e["status"]) for e in report["entries"]] == [("app.env", "present"),
                                                                      ("deploy/values.yaml", "stale")]
    location = report["entries"][0]["locations"][0]
    assert (location["line"], location["kind"], location["key_path"]) == (2, "password", "DB_PASSWORD")
    assert report["entries"][1]["locations"] == []
    assert report["summary"] == {"entries": 2, "present": 1, "stale": 1, "unscanned": 0, "new_findings": 1,
                                 "pruned": 0}


def test_audit_records_a_reason_but_never_one_holding_the_secret(cli, created):
    root, values, path = created
    proc = cli("baseline", "audit", "-b", str(path), "--reason", "app.env:DB_PASSWORD", "CI database, no data",
               str(root))
    assert proc.returncode == 0, proc.stderr
    assert "CI database, no data" in proc.stdout
    stored = {e["key_path"]: e.get("reason") for e in json.loads(path.read_text())["entries"]}
    assert stored == {"DB_PASSWORD": "CI database, no data", "service.auth.api_token": None}
    before = path.read_bytes()

    leak = cli("baseline", "audit", "-b", str(path), "--reason", "deploy/values.yaml",
               f"old token {values['api']}", str(root))
    one_line_error(leak, "contains a secret value")
    assert values["api"] not in leak.stdout + leak.stderr
    assert path.read_bytes() == before

    unknown = cli("baseline", "audit", "-b", str(path), "--reason", "nowhere.env", "why", str(root))
    one_line_error(unknown, "nowhere.env", "no entry")


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("content, message", [
    (None, "cannot read baseline"),
    ("{not json", "not valid JSON"),
    ("[]", "not a vaultshift baseline"),
    ('{"entries": {}}', "not a vaultshift baseline"),
    ('{"version": 9, "entries": []}', "version 9 is not supported"),
    ('{"entries": [{"fingerprint": "abc", "path": "a.env"}]}', "entry 1 has no fingerprint"),
    (json.dumps({"entries": [{"fingerprint": FP}]}), "entry 1 has no path"),
    (json.dumps({"entries": [], "fingerprint_key_id": "not hex"}), "fingerprint_key_id"),
    ('{"results": {}, "plugins_used": []}', "detect-secrets baseline; convert it with"),
])
@pytest.mark.parametrize("command", [("scan", "--baseline"), ("baseline", "update", "-b"),
                                     ("baseline", "audit", "-b")])
def test_a_bad_baseline_is_a_one_line_error_naming_the_file(cli, project, tmp_path, content, message, command):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    elif command[1] == "update":
        pytest.skip("a first update creates the baseline (test_update_creates_a_missing_baseline)")
    one_line_error(cli(*command, str(path), str(project[0])), str(path), message)


def test_update_creates_a_missing_baseline(cli, project, tmp_path):
    path = tmp_path / "new.json"
    run = cli("baseline", "update", "-b", str(path), str(project[0]))
    assert run.returncode == 0, run.stderr
    assert "added" in run.stderr and json.loads(path.read_text())["entries"]


def test_create_into_a_missing_directory_is_a_one_line_error(cli, project, tmp_path):
    one_line_error(cli("baseline", "create", "-o", str(tmp_path / "no" / "b.json"), str(project[0])),
                   "no such directory")


def test_load_rejects_non_string_fields(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"entries": [{"fingerprint": FP, "path": "a.env", "reason": ["x"]}]}))
    with pytest.raises(BaselineError, match="'reason' must be a string"):
        baseline_file.load(path)


# -- no plaintext anywhere -----------------------------------------------------------------------


def test_no_secret_value_in_any_output_or_the_baseline(cli, created, token, tmp_path):
    root, values, path = created
    values["new"] = token(28)
    (root / "new.env").write_text(f"DEPLOY_TOKEN={values['new']}\n")
    (root / "app.env").write_text("APP_ENV=prod\n")
    runs = [
        cli("baseline", "audit", "-b", str(path), str(root)),
        cli("baseline", "audit", "-f", "json", "-b", str(path), str(root)),
        cli("baseline", "update", "-b", str(path), str(root)),
        cli("baseline", "audit", "--prune", "-b", str(path), str(root)),
        cli("baseline", "create", "-o", str(tmp_path / "again.json"), str(root)),
    ]
    assert [proc.returncode for proc in runs] == [1, 1, 0, 0, 0], [proc.stderr for proc in runs]
    outputs = [proc.stdout + proc.stderr for proc in runs] + [path.read_text(), (tmp_path / "again.json").read_text()]
    assert "1 finding not in the baseline" in outputs[0]  # the audit did see the new secret
    assert "DEPLOY_TOKEN" in outputs[2]  # and update added it
    for output in outputs:
        for value in values.values():
            for i in range(len(value) - 7):
                assert value[i:i + 8] not in output
