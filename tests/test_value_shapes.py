"""Values whose shape or wording says they are not credentials, in config files and in code,
and the signals behind those decisions (word-likeness, entropy)."""

from __future__ import annotations

import pytest

from migrator.discover.detectors.entropy import looks_random, word_score, wordlike
from migrator.discover.filters.value_shape import shape_reason


@pytest.mark.parametrize("value", ["docker_username", "spring-boot-demo", "allow", "sidecar-istio-proxy-image",
                                   "correcthorsebatterystaple"])
def test_words_and_identifiers_read_as_words(value):
    assert wordlike(value), word_score(value)


@pytest.mark.parametrize("value", ["dkbgqyzwe", "ufnlbbavawsdeecn", "pbbjmvmhi", "zzkqlra1", "bqlwg"])
def test_generated_letters_do_not_read_as_words(value):
    assert not wordlike(value), word_score(value)


def test_randomness_needs_length_and_mixed_characters():
    assert not looks_random("password")
    assert not looks_random("Ab1")
    assert looks_random("k8Hq2LmZ9xTa4Rw7")


@pytest.mark.parametrize(("value", "reason"), [
    ("/etc/ssl/private/app.key", "path"),
    ("https://vault.internal:8200/v1/secret", "url"),
    ("DB_PASSWORD", "variable-name"),
    ("ops@example.com", "email"),
    ("^1.2.0", "version-or-quantity"),
    ("30s", "version-or-quantity"),
    ("conf.access_token", "code"),
    ("getpass('Password: ')", "code"),
    ("#f8f8f2", "color"),
    ("([a-z]{24})", "regex"),
    ("^[A-Za-z0-9_-]+$", "regex"),
    (".user[0].role", "selector"),
    ("Optional[str]", "type-name"),
    ("states/route53/state1", "path"),
])
def test_shapes_that_are_not_credentials(value, reason):
    assert shape_reason(value) == reason


@pytest.mark.parametrize("value", ["k8Hq2LmZ9xTa4Rw7", "Zkn6fT@pnz8ei", "ufnlbbavawsdeecn"])
def test_credential_shaped_values_have_no_other_shape(value):
    assert shape_reason(value) is None


def test_identifier_values_in_config_are_not_reported_but_random_ones_are(scan, token):
    secret = token(18)
    files = {"app.yml": f"ci:\n  from_secret: docker_username\n  client_secret: spring-boot-demo\n"
                        f"  db_password: {secret}\n"}
    assert [f.key_path for f in scan(files).findings] == ["ci.db_password"]


def test_in_code_unquoted_values_and_bare_words_are_not_credentials(scan, token):
    secret = token(16)
    code = (
        "def check(token, conf):\n"
        "    if token == 'allow':\n"
        "        return conf.access_token\n"
        "    password = conf.password\n"
        f"    api_token = '{secret}'\n"
    )
    result = scan({"handler.py": code})
    assert [(f.span.line, f.key_path) for f in result.findings] == [(5, "api_token")]


def test_comment_prose_is_not_an_assignment(scan, token):
    secret = token(12, "abcdefghijklmnopqrstuvwxyz")
    files = {"notes.conf": f"# Single pass: characters present in the vocabulary\n# Default password: {secret}\n"}
    assert [f.span.line for f in scan(files).findings] == [2]


def test_jasypt_and_sops_values_are_references(scan, token):
    files = {"application.yml": f"spring:\n  datasource:\n    password: ENC({token(32)})\n",
             "secrets.yaml": f"db:\n  password: ENC[AES256_GCM,data:{token(20)},type:str]\n"}
    assert scan(files).findings == []


def test_api_model_vocabulary_is_not_reported(scan, token):
    """Shapes from AWS API models and CloudFormation schemas: pagination and idempotency tokens,
    type names used as keys, IAM condition keys and single words under token names."""
    files = {
        "paginators.json": '{"pagination": {"ListUsers": {"input_token": "Marker", "output_token": "Marker"}}}',
        "examples.json": '{"input": {"ClientRequestToken": "' + token(24) + '", "NextToken": "' + token(32) + '"}}',
        "schemas.json": '{"AWS::SecretsManager::Secret": "c85175a4ebcce361", '
                        '"AWS::KMS::ReplicaKey": "903f43e74c8d8853"}',
        "policies.json": '{"conditionKeys": ["ec2:Attribute", "ec2:KmsKeyId", "ec2:Phase1IntegrityAlgorithms"]}',
    }
    assert scan(files).findings == []


def test_the_same_places_with_credentials_are_still_reported(scan, token):
    secret = token(24)
    files = {"vault-response.json": '{"auth": {"client_token": "' + secret + '", "accessor": "x"}}'}
    assert [f.key_path for f in scan(files).findings] == ["auth.client_token"]


def test_infrastructure_idioms_that_are_not_credentials(scan, token):
    files = {
        "Dockerfile": "FROM alpine\nRUN echo '%sudo ALL=(ALL:ALL) NOPASSWD: ALL' >> /etc/sudoers\n",
        "mysql.conf": "root_password_sha2 = " + "8c6976e5b5410415bde908bd4dee15dfb167a9c873fc4bb8a81f6f2ab448a918\n",
        "postgrest.conf": 'jwt-secret = "@/run/secrets/jwt"\n',
        "app.env": "DATABASE_URL=postgres://postgres:postgres@db:5432/app\n"
                   "OAUTH_TOKEN=1234567890abcdefghijklmnopqrstuvwxyz\n",
        "fixture.json": '{"access_token": "AAAA%2FAAA%3DAAAAAAAA"}\n',
        "auth.conf": "#auth_username_chars = abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n",
    }
    assert [(f.path, f.key_path) for f in scan(files).findings] == []
    secret = token(16)
    assert [f.rule for f in scan({"app.env": f"DATABASE_URL=postgres://app:{secret}@db/app\n"}).findings] == [
        "url-password"]
