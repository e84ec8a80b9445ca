"""Every detector family: clear-cut true positives, exact spans, and the obvious near-misses.

Token values are built at runtime from random characters: no realistic secret is written here.
"""

from __future__ import annotations

import base64
import json
import secrets
import string

import pytest

from migrator.discover.models import Confidence, Finding, ScanResult

UPPER = string.ascii_uppercase
AWS_ALPHABET = UPPER + "234567"
HEX = "0123456789abcdef"


def written(files: dict[str, str], finding: Finding) -> str:
    """The bytes a finding's span covers in the file as written, decoded."""
    data = files[finding.path].encode("utf-8")
    return data[finding.span.start:finding.span.end].decode("utf-8")


def only(result: ScanResult) -> Finding:
    assert not [e for e in result.errors if e.fatal], result.errors
    assert len(result.findings) == 1, [(f.path, f.rule, f.key_path) for f in result.findings]
    return result.findings[0]


def expected_hint(value: str) -> str:
    return f"{value[0]}***{value[-1]} ({len(value)} chars)"


# -- provider tokens ------------------------------------------------------------------------------

PROVIDERS = {
    # rule: (builder of the token, confidence)
    "aws-access-key-id": (lambda t: t(16, AWS_ALPHABET, "AKIA"), Confidence.HIGH),
    "github-token": (lambda t: t(36, prefix="ghp_"), Confidence.HIGH),
    "github-fine-grained-token": (lambda t: t(82, string.ascii_letters + string.digits + "_", "github_pat_"),
                                  Confidence.HIGH),
    "gitlab-token": (lambda t: t(20, prefix="glpat-"), Confidence.HIGH),
    "slack-token": (lambda t: "xoxb-" + t(12, string.digits) + "-" + t(24), Confidence.HIGH),
    "slack-webhook": (lambda t: "https://hooks.slack.com/services/T" + t(8, UPPER) + "/B" + t(8, UPPER) + "/" + t(24),
                      Confidence.HIGH),
    "stripe-secret-key": (lambda t: t(24, prefix="sk_live_"), Confidence.HIGH),
    "google-api-key": (lambda t: t(35, prefix="AIza"), Confidence.HIGH),
    "sendgrid-api-key": (lambda t: "SG." + t(22) + "." + t(43), Confidence.HIGH),
    "npm-token": (lambda t: t(36, prefix="npm_"), Confidence.HIGH),
    "vault-token": (lambda t: t(90, prefix="hvs."), Confidence.HIGH),
    "jwt": (lambda t: "eyJ" + t(30) + ".eyJ" + t(40) + "." + t(43), Confidence.MEDIUM),
    "grafana-service-account-token": (lambda t: "glsa_" + t(32) + "_" + t(8, HEX), Confidence.HIGH),
    "postman-api-key": (lambda t: "PMAK-" + t(24, HEX) + "-" + t(34, HEX), Confidence.HIGH),
    "pulumi-token": (lambda t: t(40, HEX, "pul-"), Confidence.HIGH),
    "linear-api-key": (lambda t: t(40, prefix="lin_api_"), Confidence.HIGH),
    "tailscale-key": (lambda t: "tskey-auth-" + t(10) + "-" + t(30), Confidence.HIGH),
    "rubygems-api-key": (lambda t: t(48, HEX, "rubygems_"), Confidence.HIGH),
    "alibaba-access-key-id": (lambda t: t(16, prefix="LTAI"), Confidence.HIGH),
}


@pytest.mark.parametrize("rule", sorted(PROVIDERS))
@pytest.mark.parametrize("name, template", [
    ("notes.txt", "see {tok} for details\n"),
    ("deploy.sh", "curl --data-urlencode 'x={tok}' https://api.internal/hook\n"),
])
def test_provider_token_found_with_exact_span(scan, token, rule, name, template):
    build, confidence = PROVIDERS[rule]
    tok = build(token)
    files = {name: "# header line\n" + template.format(tok=tok)}
    finding = only(scan(files))
    assert finding.rule == rule
    assert finding.confidence == confidence
    assert finding.path == name
    assert finding.span.line == finding.span.end_line == 2
    assert written(files, finding) == tok
    assert finding.hint == expected_hint(tok)


def test_provider_token_inside_a_keyword_assignment_reports_once_as_the_provider_rule(scan, token):
    tok = token(36, prefix="ghp_")
    files = {"ci.yml": f"env:\n  GITHUB_TOKEN: {tok}\n"}
    finding = only(scan(files))
    assert finding.rule == "github-token"
    assert finding.key_path == "env.GITHUB_TOKEN"
    assert written(files, finding) == tok


@pytest.mark.parametrize("case", [
    "stripe publishable key",
    "short github token",
    "aws key id with lower-case body",
    "aws key id too short",
    "aws key id inside a longer word",
    "stripe key inside a longer word",
    "short npm token",
    "short vault token",
])
def test_provider_near_misses_are_not_reported(scan, token, case):
    value = {
        "stripe publishable key": token(24, prefix="pk_live_"),
        "short github token": token(20, prefix="ghp_"),
        "aws key id with lower-case body": token(16, string.ascii_lowercase, "AKIA"),
        "aws key id too short": token(15, AWS_ALPHABET, "AKIA"),
        "aws key id inside a longer word": token(16, AWS_ALPHABET, "XAKIA"),
        "stripe key inside a longer word": token(24, prefix="mask_live_"),
        "short npm token": token(20, prefix="npm_"),
        "short vault token": token(10, prefix="hvs."),
    }[case]
    result = scan({"notes.txt": f"value {value} end\n"})
    assert result.findings == []


# -- private keys ---------------------------------------------------------------------------------


def pem(label: str = "RSA PRIVATE KEY", lines: int = 8) -> str:
    body = "\n".join(base64.b64encode(secrets.token_bytes(48)).decode() for _ in range(lines))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


def test_a_private_key_whose_body_spells_a_marker_by_chance_is_still_found(scan):
    key = pem("OPENSSH PRIVATE KEY").replace("\n", "\nFaKeDummyExample", 1)
    finding = only(scan({"key.pem": key + "\n"}))
    assert finding.kind == "private_key"


def test_private_key_raw_in_a_file(scan):
    key = pem()
    files = {"keys/id_rsa": "\n" + key + "\n"}
    finding = only(scan(files))
    assert (finding.rule, finding.kind, finding.confidence) == ("private-key", "private_key", Confidence.HIGH)
    assert finding.path == "keys/id_rsa"
    assert (finding.span.line, finding.span.end_line) == (2, 2 + key.count("\n"))
    assert written(files, finding) == key
    assert finding.hint == f"-***- ({len(key)} chars)"


@pytest.mark.parametrize("label", ["PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY"])
def test_private_key_labels(scan, label):
    key = pem(label)
    files = {"key.pem": key + "\n"}
    finding = only(scan(files))
    assert finding.rule == "private-key"
    assert written(files, finding) == key


def test_private_key_in_a_yaml_block_scalar(scan):
    key = pem()
    block = "".join(f"    {line}\n" for line in key.splitlines())
    files = {"values.yaml": f"tls:\n  key: |\n{block}  cert: none\n"}
    finding = only(scan(files))
    assert finding.rule == "private-key"
    assert finding.key_path == "tls.key"
    assert finding.span.line == 3
    assert finding.span.end_line == 3 + key.count("\n")
    assert written(files, finding).startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert written(files, finding).endswith("-----END RSA PRIVATE KEY-----")


def test_private_key_with_escaped_newlines_in_a_json_string(scan):
    key = pem("PRIVATE KEY")
    files = {"service-account.json": json.dumps({"type": "service_account", "private_key": key}, indent=2) + "\n"}
    finding = only(scan(files))
    assert finding.rule == "private-key"
    assert finding.key_path == "private_key"
    assert finding.span.line == finding.span.end_line == 3
    assert written(files, finding) == key.replace("\n", "\\n")
    assert finding.hint == f"-***- ({len(key)} chars)"  # the decoded key, not its escaped text


@pytest.mark.parametrize("label", ["PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE"])
def test_public_keys_and_certificates_are_not_reported(scan, label):
    assert scan({"material.pem": pem(label) + "\n"}).findings == []


def test_private_key_header_without_key_material_is_not_reported(scan):
    doc = "Paste your key between the markers:\n-----BEGIN PRIVATE KEY-----\n<key>\n-----END PRIVATE KEY-----\n"
    assert scan({"README.md": doc}).findings == []


# -- URL credentials and connection strings -------------------------------------------------------


def test_url_password_span_is_exactly_the_password(scan, token):
    password = token(20)
    files = {"app.txt": f"DATABASE_URL=postgres://appuser:{password}@db.internal:5432/app\n"}
    finding = only(scan(files))
    assert (finding.rule, finding.kind) == ("url-password", "url_credentials")
    assert written(files, finding) == password
    assert finding.span.column == len("DATABASE_URL=postgres://appuser:") + 1
    assert finding.span.end_column - finding.span.column == len(password)
    assert finding.hint == expected_hint(password)


def test_url_password_byte_span_after_non_ascii_text(scan, token):
    password = token(20)
    files = {"notes.txt": f"# Zugangsdaten für café ☕\nREDIS=redis://:{password}@cache:6379/0\n"}
    finding = only(scan(files))
    assert finding.rule == "url-password"
    assert finding.span.line == 2
    assert written(files, finding) == password  # byte offsets, not character offsets


@pytest.mark.parametrize("url", [
    "postgres://appuser@db.internal:5432/app",
    "https://registry.internal:8443/v2/",
    "postgres://appuser:${DB_PASSWORD}@db.internal/app",
])
def test_url_without_a_literal_password_is_not_reported(scan, url):
    assert scan({"app.txt": f"URL={url}\n"}).findings == []


def test_connection_string_password(scan, token):
    password = token(20)
    conn = f"Server=db.internal;Database=app;User Id=app;Password={password};Encrypt=true"
    files = {"appsettings.json": json.dumps({"ConnectionStrings": {"Default": conn}}, indent=2) + "\n"}
    finding = only(scan(files))
    assert (finding.rule, finding.kind) == ("connection-string-password", "connection_string")
    assert finding.key_path.startswith("ConnectionStrings.Default")
    assert written(files, finding) == password


def test_password_word_in_prose_is_not_a_connection_string(scan):
    result = scan({"notes.txt": "Remember the password = hunter2 is bad\n"})
    assert all(f.rule != "connection-string-password" for f in result.findings)


# -- Authorization headers ------------------------------------------------------------------------


def test_bearer_authorization(scan, token):
    credential = token(40)
    files = {"call.sh": f"curl -s -H 'Authorization: Bearer {credential}' https://api.internal/v1\n"}
    finding = only(scan(files))
    assert finding.rule == "bearer-authorization"
    assert written(files, finding) == credential


def test_basic_authorization(scan, token):
    credential = base64.b64encode(f"deploy:{token(24)}".encode()).decode()
    files = {"request.http": f"GET /v1/items HTTP/1.1\nAuthorization: Basic {credential}\n"}
    finding = only(scan(files))
    assert finding.rule == "basic-authorization"
    assert finding.span.line == 2
    assert written(files, finding) == credential


def test_basic_authorization_word_in_prose_is_not_reported(scan):
    assert scan({"README.md": "The service supports Basic authentication and nothing else.\n"}).findings == []


def test_bearer_word_in_prose_is_not_reported(scan):
    assert scan({"README.md": "The API uses Bearer authentication for every request.\n"}).findings == []


# -- keyword assignments --------------------------------------------------------------------------

KEYWORD_FORMATS = [
    ("config.yaml", "db:\n  main:\n    host: db.internal\n    password: {v}\n", "db.main.password", 4),
    (".env", "DB_HOST=db.internal\nDB_PASSWORD={v}\n", "DB_PASSWORD", 2),
    ("config.json", '{{\n  "db": {{\n    "password": "{v}"\n  }}\n}}\n', "db.password", 3),
    ("app.ini", "[database]\nhost = db.internal\npassword = {v}\n", "database.password", 3),
    ("app.properties", "spring.datasource.url=jdbc:h2:mem\nspring.datasource.password={v}\n",
     "spring.datasource.password", 2),
    ("settings.toml", '[db]\npassword = "{v}"\n', "db.password", 2),
]


@pytest.mark.parametrize("name, template, key_path, line", KEYWORD_FORMATS, ids=[f[0] for f in KEYWORD_FORMATS])
def test_keyword_password_in_each_format(scan, token, name, template, key_path, line):
    value = token(24)
    files = {name: template.format(v=value)}
    finding = only(scan(files))
    assert (finding.rule, finding.kind) == ("keyword-password", "password")
    assert finding.key_path == key_path
    assert finding.span.line == line
    assert written(files, finding) == value
    assert finding.confidence == Confidence.HIGH
    assert finding.hint == expected_hint(value)


@pytest.mark.parametrize("key, rule", [
    ("api_token", "keyword-token"),
    ("client_secret", "keyword-secret"),
    ("apiKey", "keyword-api-key"),
    ("DB_PASSWD", "keyword-password"),
])
def test_keyword_kinds(scan, token, key, rule):
    files = {"c.yml": f"service:\n  {key}: {token(32)}\n"}
    finding = only(scan(files))
    assert finding.rule == rule
    assert finding.key_path == f"service.{key}"


@pytest.mark.parametrize("line", [
    "password_file: /etc/app/db.pass",
    "token_url: https://auth.internal/oauth/token",
    "secretName: db-credentials",
    "password: true",
    "password_min_length: 12",
    "public_key: {tok}",
    "keyboard_layout: {tok}",
])
def test_keyword_near_misses(scan, token, line):
    assert scan({"c.yml": line.format(tok=token(32)) + "\n"}).findings == []


def test_object_under_a_credential_key_in_pretty_json_is_not_reported(scan):
    doc = '{\n  "credentials": {\n    "type": "service_account",\n    "project": "acme"\n  }\n}\n'
    assert scan({"settings.json": doc}).findings == []


def test_object_under_a_credential_key_in_minified_json_is_not_reported(scan):
    doc = '{"credentials":{"type":"service_account","project":"acme"}}\n'
    assert scan({"settings.json": doc}).findings == []
