"""Files are untrusted input: no content may make a reader or detector backtrack for minutes.

Each case is scanned in a child process with a generous deadline (a hang guard, not a speed
target: the benchmark measures speed). Before the tokenizers were made possessive, the first
case alone took 80 seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CASES = {
    "spaces.json": " " * 50_000 + "x",
    "escaped-quotes.json": 'key: "' + '\\"' * 10_000,
    "letters.yml": "a" * 20_000 + "!",
    "separators.env": "ab-" * 7_000 + "!",
    "equals.txt": "=" * 30_000,
    "colon-words.conf": "token:" + "abc:" * 8_000,
    "dashes.sh": "--" * 20_000 + "password",
    "url.txt": "https://" + "a:" * 10_000 + "@",
    "open-comment.json": '{"a": 1 /*' + "x" * 20_000,
    "unclosed-string.py": 'password = "' + "\\x" * 10_000,
    "camel.toml": "key = " + "AbCdEfGh" * 5_000 + "!",
    "pem.txt": "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 60_000,
}


_SCAN = (
    "import sys\n"
    "from migrator.discover import Scanner\n"
    "from migrator.fingerprint import Fingerprinter\n"
    "result = Scanner(Fingerprinter(bytes(32))).scan([sys.argv[1]])\n"
    "print(result.stats.files_scanned, len(result.errors))\n"
)


def scan_in_a_child(root: Path, env: dict[str, str]) -> tuple[int, int]:
    """Files scanned and errors noted, scanning ``root`` in a child process with a deadline: a
    crash or a stall fails the test instead of taking the suite down."""
    proc = subprocess.run([sys.executable, "-c", _SCAN, str(root)], capture_output=True, text=True,
                          timeout=20, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    scanned, errors = proc.stdout.split()
    return int(scanned), int(errors)


@pytest.mark.parametrize("name", sorted(CASES))
def test_pathological_content_scans_without_backtracking(tmp_path: Path, name: str, cli_env):
    (tmp_path / name).write_text(CASES[name] + "\n")
    assert scan_in_a_child(tmp_path, cli_env)[0] == 1


def test_deep_nesting_is_refused_quickly_and_the_file_is_still_read_line_by_line(scan, token):
    secret = token(20)
    body = "[" * 20_000 + "\n" + f'{{"db_password": "{secret}"}}\n'
    result = scan({"deep.json": body})
    assert [e.reason for e in result.errors] == [
        "malformed JSON at line 1: nested deeper than 256 levels; scanned line by line"]
    assert [f.key_path for f in result.findings] == ["db_password"]


@pytest.mark.parametrize("name", ["deep.yml", "deep.tf", "deep.php", "deep.toml", "deep.py"])
def test_forty_thousand_open_brackets_neither_crash_nor_stall_a_reader(tmp_path: Path, name: str, cli_env):
    """libyaml recursed in C until the process died (a segmentation fault) at this depth; the
    HCL and PHP readers built ever longer key paths (seconds, quadratically)."""
    prefix = "<?php $a = " if name.endswith(".php") else ("a = " if name.endswith((".tf", ".toml", ".py")) else "")
    (tmp_path / name).write_text(prefix + "[" * 40_000 + "\n")
    scanned, notes = scan_in_a_child(tmp_path, cli_env)
    assert scanned == 1 and notes in (0, 1)  # scanned (a reader that refuses the depth leaves a note)
