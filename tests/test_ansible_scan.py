"""The fleet scan ``vaultshift.secrets.scan`` and the filter ``vaultshift.secrets.merge_findings``.

A test fleet of three hosts on this machine (``ansible_connection=local``, each with its own file
system root) is scanned by the real ansible-playbook at ``-vvvv``: as root, in check mode, and as
an unprivileged user with a Python that has nothing but its standard library. Fake secrets are
generated per run; none of them may appear in any output, left-over file or returned result.
In-process tests check that the walk's decisions applied to the host's listing give exactly
what the engine's own walk and scan give on the same tree.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ansible_run import BIN, ansible, plugin, run_playbook
from assertions import assert_no_canary
from sandbox import watch_fifo
from test_rewrite_support import make_token  # conftest's, under a name that is not ambiguous

from migrator.discover.models import Confidence
from migrator.discover.scanner import Scanner, ScanOptions
from migrator.discover.walker import DEFAULT_MAX_FILE_SIZE, WalkOptions
from migrator.fingerprint import Fingerprinter
from migrator.plan.digest import FileDigester

HOSTS = ("web1", "web2", "db1")
PATHS = ["/etc/app", "/srv/app", "/opt/missing"]
FINDING_KEYS = {"host", "path", "line", "column", "key_path", "kind", "rule", "confidence", "fingerprint", "hint",
                "end_line", "end_column", "start_byte", "end_byte", "reader", "file_digest"}
OUTSIDE = "symlink to a path outside the scanned root; not followed"
CLI = BIN / "vaultshift"
TEST_KEY = secrets.token_bytes(32)




# -- canaries -----------------------------------------------------------------------------------






# -- the test fleet -----------------------------------------------------------------------------


@dataclass
class Fleet:
    base: Path
    workdir: Path
    key: str
    values: dict[str, str]
    run: subprocess.CompletedProcess[str]
    results: dict[str, dict[str, Any]]  # host -> {"scan", "check", "nobody"}
    merged: list[dict[str, Any]]
    bare_python: str
    fifo_opened: bool
    var_tmp_before: set[str]

    def root(self, host: str) -> Path:
        return self.base / "fleet" / host


def bare_python() -> str:
    """A Python without vaultshift or Ansible that the unprivileged user can run, or ''."""
    python = "/usr/bin/python3"
    if os.geteuid() != 0 or not os.access(python, os.X_OK) or not shutil.which("su"):
        return ""
    probe = "import importlib.util as u, sys; sys.exit(bool(u.find_spec('ansible') or u.find_spec('migrator')))"
    ran = subprocess.run(["su", "-s", "/bin/sh", "nobody", "-c", f"{python} -I -c \"{probe}\""],
                         capture_output=True, timeout=30, check=False, cwd="/")
    return python if ran.returncode == 0 else ""


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def plant(base: Path) -> dict[str, str]:
    """Three hosts' files with fake secrets, and what the scan must not read or report."""
    v = {
        "shared_db": make_token(24),  # the same database password on web1 and web2
        "db1_db": make_token(24),
        "bak": make_token(24), "ignored": make_token(28), "git": make_token(20), "outside": make_token(24),
        "private": make_token(26), "locked": make_token(22),
    }
    for host in HOSTS:
        v[f"{host}_smtp"] = make_token(20)
        v[f"{host}_api"] = make_token(32)
    v["web1_github"] = "ghp_" + make_token(36)
    fleet = base / "fleet"
    for host in HOSTS:
        root = fleet / host
        db = v["db1_db"] if host == "db1" else v["shared_db"]
        write(root / "etc/app/config.yml", f"database:\n  password: \"{db}\"\n  host: db.internal\n")
        write(root / "etc/app/mail.ini", f"[mail]\nhost = smtp.internal\nsmtp_password = {v[host + '_smtp']}\n")
        write(root / "srv/app/.env", f"APP_ENV=production\nAPI_TOKEN={v[host + '_api']}\n")
    web1, web2, db1 = (fleet / host for host in HOSTS)
    (web1 / "srv/app/.env").write_text(f"API_TOKEN={v['web1_api']}\nGITHUB_TOKEN={v['web1_github']}\n")
    write(web1 / "etc/app/config.yml.bak", f"database:\n  password: \"{v['bak']}\"\n")  # excluded
    write(web1 / "srv/app/.vaultshiftignore", "cache/\n")
    write(web1 / "srv/app/cache/session.env", f"SESSION_SECRET={v['ignored']}\n")  # ignored
    write(web1 / "srv/app/.git/config", f"[remote \"origin\"]\n  url = https://deploy:{v['git']}@git.internal/app\n")
    write(web1 / "srv/app/private/keys.env", f"DB_PASSWORD={v['private']}\n")
    (web1 / "srv/app/private").chmod(0o700)  # unreadable to nobody
    write(base / "outside/secret.yml", f"password: \"{v['outside']}\"\n")
    (web2 / "etc/app/shared.yml").symlink_to(base / "outside/secret.yml")  # out of web2's root
    write(db1 / "etc/app/secret.yml", f"admin:\n  password: \"{v['locked']}\"\n", mode=0o600)  # root's only
    return v


PLAYBOOK = """\
- hosts: fleet
  gather_facts: false
  tasks:
    - name: scan
      vaultshift.secrets.scan: &scan
        paths: {paths}
        root: "{{{{ fleet_root }}}}"
        exclude: ["*.bak"]
      register: scan

    - name: scan in check mode
      vaultshift.secrets.scan: *scan
      check_mode: true
      register: scan_check

    - name: scan as an unprivileged user, with a Python that has only its standard library
      vaultshift.secrets.scan: *scan
      vars:
        ansible_python_interpreter: "{{{{ bare_python }}}}"
      become: true
      become_method: su
      become_user: nobody
      become_flags: "-s /bin/sh"
      when: bare_python | length > 0
      register: scan_nobody

    - name: a path relative to nothing is refused
      vaultshift.secrets.scan:
        paths: [etc/app]
      ignore_errors: true
      run_once: true
      register: relative

    - name: a root that is not there fails the host, in one line
      vaultshift.secrets.scan:
        paths: [/etc/app]
        root: "{{{{ fleet_root }}}}/no-such-root"
      ignore_errors: true
      run_once: true
      register: no_root

    - name: a task cannot set the module's protocol options
      vaultshift.secrets.scan:
        paths: [/etc/app]
        _read: [/etc/shadow]
      ignore_errors: true
      run_once: true
      register: smuggled

    - name: keep the results
      ansible.builtin.copy:
        content: "{{{{ {{'scan': scan, 'check': scan_check, 'nobody': scan_nobody, 'relative': relative,
                       'no_root': no_root, 'smuggled': smuggled}} | to_nice_json }}}}"
        dest: "{out}/{{{{ inventory_hostname }}}}.json"
        mode: "0600"
      delegate_to: localhost

    - name: one inventory for the fleet
      ansible.builtin.copy:
        content: "{{{{ ansible_play_hosts | map('extract', hostvars, 'scan') | list
                     | vaultshift.secrets.merge_findings | to_nice_json }}}}"
        dest: "{out}/merged.json"
        mode: "0600"
      delegate_to: localhost
      run_once: true
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    base = Path(tempfile.mkdtemp(prefix="vaultshift-fleet-"))
    base.chmod(0o755)  # the unprivileged scan must reach the hosts' roots
    try:
        values = plant(base)
        workdir = tmp_path_factory.mktemp("ansible-scan")
        out = workdir / "results"
        out.mkdir()
        python = bare_python()
        inventory = "[fleet]\n" + "".join(f"{host} fleet_root={base / 'fleet' / host}\n" for host in HOSTS)
        inventory += f"[fleet:vars]\nansible_connection=local\nbare_python={python}\n"
        key = secrets.token_hex(32)
        var_tmp_before = set(os.listdir("/var/tmp")) if os.path.isdir("/var/tmp") else set()
        with watch_fifo(base / "fleet/db1/srv/app/app.sock") as opened:
            run = run_playbook(workdir, PLAYBOOK.format(paths=json.dumps(PATHS), out=out), inventory, "-vvvv",
                               env={"VAULTSHIFT_FINGERPRINT_KEY": key})
            fifo_opened = opened.is_set()
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
        results = {host: json.loads((out / f"{host}.json").read_text()) for host in HOSTS}
        merged = json.loads((out / "merged.json").read_text())
        yield Fleet(base, workdir, key, values, run, results, merged, python, fifo_opened, var_tmp_before)
    finally:
        shutil.rmtree(base)


def by_place(result: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["path"], f["key_path"]): f for f in result["findings"]}


# -- the fleet, through ansible-playbook ---------------------------------------------------------


def test_findings_per_host_and_path(fleet: Fleet):
    expected = {
        "web1": {("/etc/app/config.yml", "database.password"), ("/etc/app/mail.ini", "mail.smtp_password"),
                 ("/srv/app/.env", "API_TOKEN"), ("/srv/app/.env", "GITHUB_TOKEN"),
                 ("/srv/app/private/keys.env", "DB_PASSWORD")},
        "web2": {("/etc/app/config.yml", "database.password"), ("/etc/app/mail.ini", "mail.smtp_password"),
                 ("/srv/app/.env", "API_TOKEN")},
        "db1": {("/etc/app/config.yml", "database.password"), ("/etc/app/mail.ini", "mail.smtp_password"),
                ("/srv/app/.env", "API_TOKEN"), ("/etc/app/secret.yml", "admin.password")},
    }
    for host in HOSTS:
        result = fleet.results[host]["scan"]
        assert result["changed"] is False and not result.get("failed")
        assert set(by_place(result)) == expected[host], host  # not the .bak, the ignored cache, .git, the link
        for finding in result["findings"]:
            assert set(finding) == FINDING_KEYS
            assert finding["host"] == host
            assert finding["fingerprint"].startswith("hmac-sha256:")
        assert set(result) >= {"host", "root", "key_id", "findings", "errors", "notes", "stats"}
        assert (result["host"], result["root"]) == (host, str(fleet.root(host)))
        assert result["key_id"] == Fingerprinter(bytes.fromhex(fleet.key)).key_id
        assert not {"trees", "files", "data", "content"} & set(result)
        assert result["errors"] == ["/opt/missing: no such file or directory"]
        assert result["stats"]["findings"] == len(expected[host])
    config = by_place(fleet.results["web1"]["scan"])[("/etc/app/config.yml", "database.password")]
    assert (config["line"], config["column"], config["kind"], config["rule"], config["confidence"]) == \
        (2, 14, "password", "keyword-password", "high")
    github = by_place(fleet.results["web1"]["scan"])[("/srv/app/.env", "GITHUB_TOKEN")]
    assert github["kind"] == "github_token"
    assert fleet.results["web2"]["scan"]["notes"] == [f"/etc/app/shared.yml: {OUTSIDE}"]
    assert fleet.results["db1"]["scan"]["notes"] == ["/srv/app/app.sock: not a regular file (FIFO); skipped"]
    assert not fleet.fifo_opened, "the FIFO was opened"


def test_the_same_secret_on_two_hosts_is_one_fleet_entry(fleet: Fleet):
    web1 = by_place(fleet.results["web1"]["scan"])[("/etc/app/config.yml", "database.password")]
    web2 = by_place(fleet.results["web2"]["scan"])[("/etc/app/config.yml", "database.password")]
    db1 = by_place(fleet.results["db1"]["scan"])[("/etc/app/config.yml", "database.password")]
    assert web1["fingerprint"] == web2["fingerprint"] != db1["fingerprint"]

    all_findings = [f for host in HOSTS for f in fleet.results[host]["scan"]["findings"]]
    assert len(fleet.merged) == len({f["fingerprint"] for f in all_findings}) == 11
    shared = fleet.merged[0]  # the most widespread first
    assert shared == {
        "fingerprint": web1["fingerprint"], "kind": "password", "hint": web1["hint"], "confidence": "high", "hosts": 2,
        "occurrences": [
            {"host": "web1", "path": "/etc/app/config.yml", "line": 2, "key_path": "database.password"},
            {"host": "web2", "path": "/etc/app/config.yml", "line": 2, "key_path": "database.password"},
        ],
    }
    assert all(entry["hosts"] == 1 for entry in fleet.merged[1:])
    assert sum(len(entry["occurrences"]) for entry in fleet.merged) == len(all_findings)


def test_missing_and_unreadable_paths_are_one_line_errors_and_the_rest_is_scanned(fleet: Fleet):
    if not fleet.bare_python:
        pytest.skip("needs root, su and a system python3 the user nobody can run")
    nobody = {host: fleet.results[host]["nobody"] for host in HOSTS}
    assert nobody["web1"]["errors"] == ["/opt/missing: no such file or directory",
                                        "/srv/app/private: permission denied"]
    assert nobody["db1"]["errors"] == ["/etc/app/secret.yml: permission denied",
                                       "/opt/missing: no such file or directory"]
    assert nobody["web2"]["errors"] == ["/opt/missing: no such file or directory"]
    for host in HOSTS:
        as_root = by_place(fleet.results[host]["scan"])
        unreadable = {("/srv/app/private/keys.env", "DB_PASSWORD"), ("/etc/app/secret.yml", "admin.password")}
        assert by_place(nobody[host]) == {place: f for place, f in as_root.items() if place not in unreadable}
        # config.yml, mail.ini, .env (and web1's .vaultshiftignore): everything readable was scanned
        assert nobody[host]["stats"]["files_scanned"] == (4 if host == "web1" else 3)
    assert "path(s) left unscanned on db1: see the result's errors" in fleet.run.stdout + fleet.run.stderr


def test_check_mode_scans_the_same_and_changes_nothing(fleet: Fleet):
    for host in HOSTS:
        scanned, checked = fleet.results[host]["scan"], fleet.results[host]["check"]
        assert checked["changed"] is False and not checked.get("failed") and not checked.get("skipped")
        assert checked["findings"] == scanned["findings"]
        assert checked["errors"] == scanned["errors"] and checked["notes"] == scanned["notes"]


def test_results_are_what_a_fleet_plan_reads(fleet: Fleet):
    """migrator.plan.fleet (behind vaultshift.secrets.plan) locates every finding on its host, and
    each file digest is the keyed digest of the file's bytes, as ``vaultshift plan`` makes it."""
    from migrator.plan.fleet import collected_from_scans

    scans = [fleet.results[host]["scan"] for host in HOSTS]
    collected = collected_from_scans(scans, Fingerprinter(bytes.fromhex(fleet.key)).key_id)
    assert len(collected.located) == sum(len(scan["findings"]) for scan in scans) == 12
    digester = FileDigester(bytes.fromhex(fleet.key))
    for scan in scans:
        for finding in scan["findings"]:
            data = (fleet.root(scan["host"]) / finding["path"].lstrip("/")).read_bytes()
            assert finding["file_digest"] == digester(data)
            exact = Fingerprinter(bytes.fromhex(fleet.key))(
                data[finding["start_byte"]:finding["end_byte"]].decode()) == finding["fingerprint"]
            assert exact, f"{scan['host']}:{finding['path']}: the span is not the value's"  # never show the value


def test_bad_arguments_fail_the_task_in_one_line(fleet: Fleet):
    relative, smuggled = fleet.results["web1"]["relative"], fleet.results["web1"]["smuggled"]
    assert relative["failed"] and relative["msg"] == \
        "paths: give absolute paths as the host sees them, not ['etc/app']"
    assert smuggled["failed"] and smuggled["msg"] == "Invalid options for vaultshift.secrets.scan: _read"
    no_root = fleet.results["web1"]["no_root"]
    assert no_root["failed"] and no_root["msg"] == \
        f"the scan module failed on the host: root {fleet.root('web1')}/no-such-root: not a directory on the host"
    assert "files" not in smuggled and "trees" not in smuggled


def test_fingerprints_match_vaultshift_scan(fleet: Fleet):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTSHIFT_")}
    env.update(HOME=str(fleet.workdir / "cli-home"), VAULTSHIFT_FINGERPRINT_KEY=fleet.key)
    ran = subprocess.run([str(CLI), "scan", "--format", "json", str(fleet.root("web1") / "etc/app/config.yml")],
                         capture_output=True, text=True, timeout=60, env=env, check=False)
    assert ran.returncode == 1, ran.stderr
    [local] = json.loads(ran.stdout)["findings"]
    remote = by_place(fleet.results["web1"]["scan"])[("/etc/app/config.yml", "database.password")]
    assert (local["fingerprint"], local["hint"], local["line"], local["column"]) == \
        (remote["fingerprint"], remote["hint"], remote["line"], remote["column"])


def test_no_planted_value_in_any_output_left_over_file_or_result(fleet: Fleet):
    assert "-vvvv" not in fleet.run.stdout  # sanity: the run was verbose, not echoed
    assert "ESTABLISH LOCAL CONNECTION" in fleet.run.stdout  # ... at -vvv and beyond
    assert_no_canary(fleet.run.stdout, fleet.values, "ansible-playbook's stdout")
    assert_no_canary(fleet.run.stderr, fleet.values, "ansible-playbook's stderr")
    checked = 0
    for path in fleet.workdir.rglob("*"):  # the temporary HOME, Ansible's local and remote temp, results
        if path.is_file() and not path.is_symlink():
            assert_no_canary(path.read_bytes().decode("latin-1"), fleet.values, str(path))
            checked += 1
    assert checked >= 4  # playbook, inventory, ansible.cfg, results
    for name in set(os.listdir("/var/tmp")) - fleet.var_tmp_before if os.path.isdir("/var/tmp") else ():
        for path in [Path("/var/tmp", name), *Path("/var/tmp", name).rglob("*")]:
            if path.name.startswith("ansible") and path.is_file():
                assert_no_canary(path.read_bytes().decode("latin-1"), fleet.values, str(path))
    assert_no_canary(json.dumps([fleet.results, fleet.merged]), fleet.values, "the returned results")


# -- the collection's files -----------------------------------------------------------------------


def test_ansible_doc_renders_the_module_and_the_filter(tmp_path: Path):
    module = ansible("ansible-doc", "vaultshift.secrets.scan", home=tmp_path / "home")
    assert module.returncode == 0, module.stderr
    assert "[WARNING]" not in module.stderr and "ERROR" not in module.stderr
    for text in ("paths", "root", "exclude", "max_file_size", "min_confidence", "baseline", "uuids",
                 "findings", "fingerprint", "EXAMPLES", "RETURN VALUES"):
        assert text in module.stdout
    merge = ansible("ansible-doc", "-t", "filter", "vaultshift.secrets.merge_findings", home=tmp_path / "home")
    assert merge.returncode == 0, merge.stderr
    assert "[WARNING]" not in merge.stderr and "ERROR" not in merge.stderr
    for text in ("_input", "occurrences", "hosts", "EXAMPLES", "RETURN VALUES"):
        assert text in merge.stdout


def test_documented_defaults_are_the_engines():
    spec = plugin("modules.scan").ARGUMENT_SPEC
    from ansible.module_utils.common.text.formatters import human_to_bytes

    assert human_to_bytes(spec["max_file_size"]["default"]) == DEFAULT_MAX_FILE_SIZE
    assert Confidence.parse(spec["min_confidence"]["default"]) == ScanOptions().min_confidence
    assert spec["uuids"]["default"] is ScanOptions().include_uuids
    assert spec["ignore_files"]["default"] is WalkOptions().use_ignore_files


# -- the walk's decisions on the host's listing = the engine's walk --------------------------------


def module_call(root: str) -> Any:
    """The module's answers, in this process and through JSON as over a connection."""
    module = plugin("modules.scan")
    spec = {**module.ARGUMENT_SPEC, **module._PROTOCOL_SPEC}

    def call(request: dict[str, Any]) -> dict[str, Any]:
        params = {name: option.get("default") for name, option in spec.items()}
        params.update(request, root=root)
        return json.loads(json.dumps(module.respond(params)))

    return call


def tricky_tree(tree: Path, outside: Path) -> None:
    t = make_token
    files: dict[str, str | bytes] = {
        ".gitignore": "*.log\nbuild/\n!keep.log\n",
        "app.yml": f"db:\n  password: \"{t(24)}\"\n",
        "debug.log": f"password={t(24)}\n",
        "keep.log": f"password={t(24)}\n",
        "build/out.env": f"API_TOKEN={t(32)}\n",
        "build/keep.log": f"password={t(24)}\n",  # not re-included below an ignored directory
        "sub/.vaultshiftignore": "local.env\n/anchored.txt\n",
        "sub/local.env": f"SECRET_KEY={t(32)}\n",
        "sub/anchored.txt": f"password: {t(24)}\n",
        "sub/deeper/anchored.txt": f"password: {t(24)}\n",
        "sub/deeper/.gitignore": "!local.env\n",
        "sub/deeper/local.env": f"API_KEY={t(32)}\n",
        "vendor/lib.env": f"API_TOKEN={t(32)}\n",
        "x.bak": f"password={t(24)}\n",
        ".git/config": f"url = https://u:{t(20)}@git.internal/x\n",
        "big.txt": f"password={t(24)}\n" + "# filler\n" * 600,
        "big.bin": b"\x00" + b"password=" + t(24).encode() + b"\x01" * 5000,
        "small.bin": b"\x00password=" + t(24).encode(),
        "latin.env": b"DB_PASSWORD=" + t(24).encode() + b"\xff\n",
        "broken.yml": f"a: [1, 2\nadmin_password: {t(24)}\n",
    }
    for name, content in files.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.yml").write_text(f"password: \"{t(24)}\"\n")
    os.mkfifo(tree / "fifo")
    (tree / "link-out.yml").symlink_to(outside / "secret.yml")
    (tree / "link-root.yml").symlink_to("/etc")
    (tree / "link-in.env").symlink_to("app.yml")
    (tree / "link-abs.yml").symlink_to(tree / "sub/deeper/anchored.txt")
    (tree / "link-dir").symlink_to("sub")
    (tree / "broken-link").symlink_to("nowhere")
    (tree / "loop-link").symlink_to("loop-link")


@pytest.mark.parametrize("chroot", [False, True], ids=["root-slash", "root-dir"])
def test_the_listing_decisions_give_what_the_engine_gives(tmp_path: Path, chroot: bool):
    action = plugin("action.scan")
    tree = tmp_path / "host" / "srv" / "tree"
    tricky_tree(tree, tmp_path / "host" / "outside")
    options = ScanOptions(walk=WalkOptions(exclude=("vendor/", "*.bak"), max_file_size=4096))
    scanner = Scanner(Fingerprinter(TEST_KEY), options)

    local = scanner.scan([tree])
    root, top = (str(tmp_path / "host"), "/srv/tree") if chroot else ("/", str(tree))
    fleet = action.fleet_scan(action.Engine(scanner, FileDigester(TEST_KEY)), "h1", [top], root, module_call(root))

    prefix = top + "/"
    assert all(f["path"].startswith(prefix) for f in fleet["findings"])
    assert [{**f, "path": f["path"].removeprefix(prefix)} for f in fleet["findings"]] == \
        [{"host": "h1", **f.to_dict(), "file_digest": FileDigester(TEST_KEY)((tree / f.path).read_bytes())}
         for f in local.findings]
    assert sorted(line.removeprefix(prefix) for line in fleet["errors"]) == \
        sorted(str(e) for e in local.errors if e.fatal)
    assert sorted(line.removeprefix(prefix) for line in fleet["notes"]) == \
        sorted(str(e) for e in local.errors if not e.fatal)
    keys = ("files_scanned", "files_skipped", "bytes_scanned", "candidates", "findings", "skipped", "dropped_by_filter")
    assert {k: fleet["stats"][k] for k in keys} == {k: local.stats.to_dict()[k] for k in keys}
    # What the tree holds was really exercised.
    shown = {f["path"].removeprefix(prefix) for f in fleet["findings"]}
    assert {"app.yml", "keep.log", "sub/deeper/anchored.txt", "sub/deeper/local.env", "link-in.env",
            "link-abs.yml", "latin.env", "broken.yml"} <= shown
    assert not shown & {"debug.log", "build/out.env", "build/keep.log", "sub/local.env", "sub/anchored.txt",
                        "vendor/lib.env", "x.bak", "link-out.yml", "big.txt"}
    notes = "\n".join(fleet["notes"])
    assert f"link-out.yml: {OUTSIDE}" in notes and f"link-root.yml: {OUTSIDE}" in notes
    assert "fifo: not a regular file (FIFO)" in notes and "broken-link: broken symlink" in notes
    assert "loop-link: symlink loop" in notes
    assert [line.removeprefix(prefix) for line in fleet["errors"]] == \
        ["big.txt: larger than the 4 KiB cap; skipped (raise it with --max-file-size)"]


def test_the_module_reads_only_inside_the_scanned_paths(tmp_path: Path):
    """A read request for a file outside every scanned path (a controller bug, a tampered request,
    a symlink swapped in since the listing) is refused by the module on the host."""
    write(tmp_path / "host/etc/app/config.yml", "a: 1\n")
    write(tmp_path / "host/etc/shadow", "root:x\n")
    call = module_call(str(tmp_path / "host"))
    read = call({"paths": ["/etc/app"], "max_file_size": 1024, "_read": ["/etc/shadow", "/etc/app/../shadow",
                                                                         "/etc/app/config.yml"], "_sniff": 8})
    assert [item.get("outside", False) for item in read["files"]] == [True, True, False]
    assert "data" not in read["files"][0] and "data" not in read["files"][1]
    assert base64.b64decode(read["files"][2]["data"]) == b"a: 1\n"
    # ".." never climbs out of the root
    listing = call({"paths": ["/../../etc/app"]})
    assert listing["trees"][0]["path"] == "/etc/app" and listing["trees"][0]["type"] == "dir"


def test_a_baseline_of_host_paths_accepts_fleet_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from migrator.cli.common import UsageError
    from migrator.discover.baseline import BaselineEntry, save

    action, module = plugin("action.scan"), plugin("modules.scan")
    root = tmp_path / "host"
    write(root / "etc/app/config.yml", f"db:\n  password: \"{make_token(24)}\"\n  token: \"{make_token(32)}\"\n")
    monkeypatch.setenv("VAULTSHIFT_FINGERPRINT_KEY", TEST_KEY.hex())
    args = {name: option.get("default") for name, option in module.ARGUMENT_SPEC.items()}
    args.update(paths=["/etc/app"], max_file_size=DEFAULT_MAX_FILE_SIZE)
    engine = action.make_engine(args, None)
    first = action.fleet_scan(engine, "h1", ["/etc/app"], str(root), module_call(str(root)))
    accepted, kept = first["findings"]
    baseline = tmp_path / "baseline.json"
    save(baseline, [BaselineEntry(accepted["fingerprint"], "/etc/app/config.yml", accepted["key_path"],
                                  accepted["rule"])], key_id=engine.scanner.fingerprint.key_id)

    again = action.fleet_scan(action.make_engine(args, str(baseline)), "h1", ["/etc/app"], str(root),
                              module_call(str(root)))
    assert again["findings"] == [kept]
    assert again["stats"]["dropped_by_filter"]["baseline"] == 1
    monkeypatch.setenv("VAULTSHIFT_FINGERPRINT_KEY", secrets.token_hex(32))
    with pytest.raises(ValueError, match="made with another fingerprint key"):
        action.make_engine(args, str(baseline))
    with pytest.raises(UsageError, match="not a valid gitignore-style pattern"):
        action.make_engine({**args, "exclude": ["!"]}, None)


def test_merge_findings_accepts_results_and_lists_and_is_deterministic():
    merge = plugin("filter.merge_findings").merge_findings

    def finding(host: str, path: str, line: int, fingerprint: str, kind: str = "password") -> dict[str, Any]:
        return {"host": host, "path": path, "line": line, "column": 1, "key_path": "k", "kind": kind,
                "rule": "r", "confidence": "high", "fingerprint": fingerprint, "hint": "a***b (9 chars)"}

    a1, a2 = finding("web2", "/x", 3, "fp-a"), finding("web1", "/x", 3, "fp-a", kind="token")
    b1 = finding("web1", "/y", 1, "fp-b")
    results = [{"findings": [a1, b1]}, {"skipped": True}, {"findings": [a2]}]
    merged = merge(results)
    assert merged == merge(list(reversed(results))) == merge([[b1], a2, [a1, a1]])
    assert [(e["fingerprint"], e["hosts"]) for e in merged] == [("fp-a", 2), ("fp-b", 1)]
    assert merged[0]["occurrences"] == [{"host": "web1", "path": "/x", "line": 3, "key_path": "k"},
                                        {"host": "web2", "path": "/x", "line": 3, "key_path": "k"}]
    assert merged[0]["kind"] == "password"  # ties: alphabetical, whatever the order of the hosts
    assert merge([]) == []
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError, match="neither a scan result nor a finding"):
        merge([{"stdout": "x"}])
