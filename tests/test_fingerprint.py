"""Keyed fingerprints, the user key file, and redacted hints."""

from __future__ import annotations

import json
import secrets
import stat

import pytest

from migrator.fingerprint import ENV_KEY, Fingerprinter, FingerprintKeyError, hint, load_key


def test_fingerprint_is_keyed_and_stable():
    key, other_key = secrets.token_bytes(32), secrets.token_bytes(32)
    value = secrets.token_urlsafe(24)
    fingerprint = Fingerprinter(key)(value)
    assert fingerprint == Fingerprinter(key)(value)
    assert fingerprint != Fingerprinter(other_key)(value)
    assert fingerprint != Fingerprinter(key)(value + "x")
    assert fingerprint.startswith("hmac-sha256:") and len(fingerprint) == len("hmac-sha256:") + 32
    assert value not in fingerprint


def test_fingerprinter_refuses_a_short_key_and_hides_its_key():
    with pytest.raises(FingerprintKeyError):
        Fingerprinter(b"short")
    key = secrets.token_bytes(32)
    assert key.hex() not in repr(Fingerprinter(key))


@pytest.mark.parametrize("value, expected", [
    ("abc", "*** (3 chars)"),
    ("Abcdef1", "*** (7 chars)"),
    ("Abcdefg1", "A***1 (8 chars)"),
    (" padded value\t", "?***? (14 chars)"),
])
def test_hint(value, expected):
    assert hint(value) == expected


def test_load_key_from_env(monkeypatch, tmp_path):
    key = secrets.token_bytes(32)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv(ENV_KEY, key.hex())
    assert load_key() == key
    assert not (tmp_path / "config").exists()  # no key file created when the env var is set
    monkeypatch.setenv(ENV_KEY, "not-hex")
    with pytest.raises(FingerprintKeyError):
        load_key()
    monkeypatch.setenv(ENV_KEY, "ab" * 16)
    with pytest.raises(FingerprintKeyError):
        load_key()


def test_key_file_created_0600_when_none_exists(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = tmp_path / "config" / "vaultshift" / "fingerprint.key"
    key = load_key()
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == key.hex()
    assert load_key() == key  # reused, not replaced
    assert sorted(p.name for p in path.parent.iterdir()) == ["fingerprint.key"]


def test_cli_creates_the_user_key_once_and_reuses_it(cli, cli_env, tree, tmp_path, token):
    env = {k: v for k, v in cli_env.items() if k != ENV_KEY}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    root = tree({".env": f"DB_PASSWORD={token(24)}\n"})
    first = cli("scan", "-f", "json", str(root), env=env)
    assert first.returncode == 1, first.stderr
    path = tmp_path / "xdg" / "vaultshift" / "fingerprint.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = cli("scan", "-f", "json", str(root), env=env)
    fingerprints = [json.loads(p.stdout)["findings"][0]["fingerprint"] for p in (first, second)]
    assert fingerprints[0] == fingerprints[1]
    key = bytes.fromhex(path.read_text().strip())
    value = (root / ".env").read_text().strip().split("=", 1)[1]
    assert fingerprints[0] == Fingerprinter(key)(value)


def test_cli_fingerprint_uses_the_env_key(cli, cli_env, tree, token):
    value = token(24)
    root = tree({".env": f"DB_PASSWORD={value}\n"})
    report = json.loads(cli("scan", "-f", "json", str(root)).stdout)
    assert report["findings"][0]["fingerprint"] == Fingerprinter(bytes.fromhex(cli_env[ENV_KEY]))(value)
    other = dict(cli_env, **{ENV_KEY: secrets.token_hex(32)})
    report2 = json.loads(cli("scan", "-f", "json", str(root), env=other).stdout)
    assert report2["findings"][0]["fingerprint"] != report["findings"][0]["fingerprint"]


def test_cli_key_file_option(cli, tree, tmp_path, token):
    value = token(24)
    root = tree({".env": f"DB_PASSWORD={value}\n"})
    key = secrets.token_bytes(32)
    key_file = tmp_path / "team.key"
    key_file.write_text(key.hex() + "\n")
    proc = cli("scan", "-f", "json", "--fingerprint-key-file", str(key_file), str(root))
    assert json.loads(proc.stdout)["findings"][0]["fingerprint"] == Fingerprinter(key)(value)


@pytest.mark.parametrize("bad", ["not-hex-at-all", "ab" * 16])
def test_cli_bad_env_key_is_a_one_line_error(cli, cli_env, tree, token, bad):
    root = tree({".env": f"DB_PASSWORD={token(24)}\n"})
    proc = cli("scan", str(root), env=dict(cli_env, **{ENV_KEY: bad}))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("vaultshift: error:") and ENV_KEY in lines[0]
    assert bad not in proc.stderr


@pytest.mark.parametrize("content", [None, "zz" * 32, "ab" * 8])
def test_cli_bad_key_file_is_a_one_line_error(cli, tree, tmp_path, token, content):
    root = tree({".env": f"DB_PASSWORD={token(24)}\n"})
    key_file = tmp_path / "team.key"
    if content is not None:
        key_file.write_text(content)
    proc = cli("scan", "--fingerprint-key-file", str(key_file), str(root))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vaultshift: error:")
