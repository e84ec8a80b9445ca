"""Credentials found through their context rather than a format: command lines, URL query
strings, name/value pair lists, lists of strings, base64-wrapped keys, nested assignments, and
the opt-in UUID detector. Values are random per run."""

from __future__ import annotations

import base64
import json
import uuid

from migrator.discover.models import Confidence, Finding, ScanResult


def found(result: ScanResult) -> list[tuple[str, int, str, str]]:
    return [(f.path, f.span.line, f.rule, f.key_path) for f in result.findings]


def value_of(files: dict[str, str], finding: Finding) -> str:
    return files[finding.path].encode()[finding.span.start:finding.span.end].decode()


def test_long_option_with_a_password_on_a_command_line(scan, token):
    secret = token(16)
    files = {"deploy.sh": f"#!/bin/sh\nmysqldump --user app --password {secret} shop > dump.sql\n"}
    result = scan(files)
    assert [(f.rule, f.kind) for f in result.findings] == [("command-line-credential", "password")]
    assert value_of(files, result.findings[0]) == secret


def test_openssl_passin_in_a_dockerfile_run_line(scan, token):
    secret = token(12)
    files = {"Dockerfile": f"FROM alpine\nRUN openssl genrsa -aes256 -passout pass:{secret} -out ca.key 4096\n"}
    result = scan(files)
    assert [f.rule for f in result.findings] == ["command-line-credential"]
    assert value_of(files, result.findings[0]) == secret


def test_a_flag_followed_by_another_flag_is_not_a_value(scan):
    assert scan({"complete.sh": "commandline --current-token --cut-at-cursor\n"}).findings == []


def test_password_in_a_url_query_string(scan, token):
    secret = token(10)
    files = {"client.php": f"<?php\n$uri = 'tcp://10.0.0.5:6400?timeout=0.5&database=5&password={secret}';\n"}
    result = scan(files)
    assert [f.rule for f in result.findings] == ["url-query-credential"]
    assert value_of(files, result.findings[0]) == secret


def test_kubernetes_env_name_value_pairs(scan, token):
    secret = token(20)
    manifest = (
        "spec:\n  containers:\n    - name: app\n      env:\n"
        "        - name: LOG_LEVEL\n          value: debug\n"
        f"        - name: DB_PASSWORD\n          value: \"{secret}\"\n"
    )
    result = scan({"deploy.yaml": manifest})
    assert found(result) == [("deploy.yaml", 8, "keyword-password", "spec.containers[0].env[1].value")]


def test_ecs_style_json_name_value_pairs(scan, token):
    secret = token(24)
    task = {"containerDefinitions": [{"environment": [
        {"name": "REGION", "value": "eu-west-1"},
        {"name": "API_TOKEN", "value": secret},
    ]}]}
    result = scan({"task.json": json.dumps(task, indent=2)})
    assert [(f.rule, f.key_path) for f in result.findings] == [
        ("keyword-token", "containerDefinitions[0].environment[1].value")]


def test_assignment_inside_a_list_item_and_inside_a_json_string(scan, token):
    first, second = token(20), token(32)
    files = {
        "compose.yml": f"services:\n  web:\n    environment:\n      - MODE=prod\n      - SESSION_SECRET={first}\n",
        "cassette.yml": "interactions:\n- response:\n    body:\n      string: "
                        f"'{{\"access_token\":\"{second}\",\"expires_in\":300}}'\n",
    }
    result = scan(files)
    assert sorted((f.path, f.key_path) for f in result.findings) == [
        ("cassette.yml", "interactions[0].response.body.string.access_token"),
        ("compose.yml", "services.web.environment[1].SESSION_SECRET"),
    ]
    values = {value_of(files, f) for f in result.findings}
    assert values == {first, second}


def test_each_string_of_a_one_line_list_is_a_value(scan, token):
    one, two = token(16, "0123456789abcdef"), token(16, "0123456789abcdef")
    files = {"vehicle.yml": f"body: '{{\"vin\":\"X\",\"tokens\":[\"{one}\",\"{two}\"],\"state\":\"online\"}}'\n"}
    result = scan(files)
    assert sorted(value_of(files, f) for f in result.findings) == sorted([one, two])
    assert {f.key_path for f in result.findings} == {"body.tokens[0]", "body.tokens[1]"}


def test_private_key_wrapped_in_base64_again(scan, token):
    body = "\n".join(token(64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                     for _ in range(4))
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
    wrapped = base64.b64encode(pem.encode()).decode()
    result = scan({"secret.yaml": f"apiVersion: v1\nkind: Secret\ndata:\n  tls.key: {wrapped}\n"})
    assert [(f.rule, f.kind, f.key_path) for f in result.findings] == [
        ("private-key-base64", "private_key", "data.tls.key")]


def test_base64_of_a_public_certificate_is_not_a_private_key(scan, token):
    cert = "-----BEGIN CERTIFICATE-----\n" + token(64) + "\n-----END CERTIFICATE-----\n"
    wrapped = base64.b64encode(cert.encode()).decode()
    assert scan({"secret.yaml": f"data:\n  tls.crt: {wrapped}\n"}).findings == []


def test_basic_authorization_recognised_by_what_it_encodes(scan, token):
    pair = base64.b64encode(b"deploy:" + token(12, "abcdefghijklmnopqrstuvwxyz").encode()).decode()
    result = scan({"request.json": json.dumps({"headers": [{"key": "Authorization", "value": f"Basic {pair}"}]})})
    assert [f.rule for f in result.findings] == ["basic-authorization"]


def test_bare_uuids_reported_at_low_confidence_unless_turned_off(scan):
    files = {"collection.json": json.dumps({"info": {"_postman_id": str(uuid.uuid4())},  # names an id: dropped
                                            "item": [{"id": str(uuid.uuid4())}, {"value": str(uuid.uuid4())}]},
                                           indent=2)}
    assert [(f.rule, f.key_path, str(f.confidence)) for f in scan(files).findings] == [
        ("uuid", "item[0].id", "low"), ("uuid", "item[1].value", "low")]
    assert scan(files, include_uuids=False).findings == []
    assert scan(files, min_confidence=Confidence.MEDIUM).findings == []


def test_uuid_under_a_credential_key_is_reported_by_default(scan):
    result = scan({"app.env": f"HEROKU_API_KEY={uuid.uuid4()}\n"})
    assert [(f.rule, f.key_path) for f in result.findings] == [("keyword-api-key", "HEROKU_API_KEY")]


def test_comment_in_jsonc_is_read_even_after_a_sentence(scan, token):
    secret = token(16)
    files = {"settings.jsonc": f'{{\n  // local override: db_password = "{secret}"\n  "name": "x"\n}}\n'}
    result = scan(files)
    assert [(f.span.line, f.key_path) for f in result.findings] == [(2, "db_password")]
    assert value_of(files, result.findings[0]) == secret
