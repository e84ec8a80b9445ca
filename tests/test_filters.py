"""Every filter: one case it drops (checked by the name the stats count it under) and one it keeps."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid

import pytest

from migrator.discover import baseline
from migrator.discover.baseline import entries_from_findings
from migrator.discover.filters.references import is_reference
from migrator.discover.filters.uuids import names_an_identifier
from migrator.discover.models import ScanResult


def dropped(result: ScanResult, name: str) -> int:
    return result.stats.dropped_by_filter.get(name, 0)


def rules(result: ScanResult) -> list[tuple[str, str]]:
    return [(f.key_path, f.rule) for f in result.findings]


# -- placeholder ----------------------------------------------------------------------------------

PLACEHOLDERS = [
    "changeme",
    "xxx-xxx-xxx",
    "XXXXXXXXXXXX",
    "<password>",
    "${DB_PASS}",
    "$(DB_PASS)",
    "%(db_pass)s",
    "{{ db_pass }}",
    "{% if prod %}{{ pw }}{% endif %}",
]


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_placeholder_dropped(scan, value):
    result = scan({"c.yml": f'db_password: "{value}"\n'})
    assert result.findings == []
    assert dropped(result, "placeholder") >= 1


@pytest.mark.parametrize("value", ["${DB_PASS}", "changeme"])
def test_placeholder_dropped_in_env_file(scan, value):
    result = scan({".env": f"DB_PASSWORD='{value}'\n"})
    assert result.findings == []
    assert dropped(result, "placeholder") >= 1


def test_placeholder_keeps_a_random_value_and_a_value_embedding_a_template_word(scan, token):
    value = token(24)
    result = scan({"c.yml": f'db_password: "{value}"\napi_token: "{token(28)}"\n'})
    assert rules(result) == [("db_password", "keyword-password"), ("api_token", "keyword-token")]
    assert dropped(result, "placeholder") == 0


# -- reference --------------------------------------------------------------------------------------

REFERENCES = [
    "vault:secret/data/app/db#password",
    "$ANSIBLE_VAULT;1.1;AES256",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-Ab12Cd",
]


@pytest.mark.parametrize("value", REFERENCES)
def test_reference_dropped(scan, value):
    result = scan({"c.yml": f'db_password: "{value}"\n'})
    assert result.findings == []
    assert dropped(result, "reference") == 1


def test_ansible_lookup_is_a_reference_and_not_reported(scan):
    value = "lookup('community.hashi_vault.hashi_vault', 'secret=kv/data/db:password')"
    assert is_reference(value)
    assert is_reference("{{ " + value + " }}")
    result = scan({"vars.yml": f'db_password: "{value}"\nother_password: "{{{{ {value} }}}}"\n'})
    assert result.findings == []
    assert dropped(result, "reference") + dropped(result, "placeholder") == 2


def test_ansible_vault_block_is_not_reported(scan):
    body = "".join(f"  {secrets.token_hex(32)}\n" for _ in range(4))
    result = scan({"vars.yml": f"db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n{body}"})
    assert result.findings == []


def test_reference_keeps_a_literal_value(scan, token):
    value = "vault" + token(24)  # starts like a reference, is not one
    result = scan({"c.yml": f'db_password: "{value}"\n'})
    assert rules(result) == [("db_password", "keyword-password")]
    assert dropped(result, "reference") == 0


# -- documented example -----------------------------------------------------------------------------


def test_documented_example_key_dropped(scan):
    result = scan({"README.md": "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"})
    assert result.findings == []
    assert dropped(result, "documented-example") >= 1


def test_documented_example_keeps_a_real_looking_key(scan, token):
    result = scan({"README.md": f"export AWS_ACCESS_KEY_ID={token(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 'AKIA')}\n"})
    assert [f.rule for f in result.findings] == ["aws-access-key-id"]
    assert dropped(result, "documented-example") == 0


# -- public material --------------------------------------------------------------------------------


def test_public_material_dropped(scan, token):
    files = {"c.yml": (f"signing_key: pk_live_{token(24)}\n"
                       f'deploy_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5{token(48)}"\n'
                       f"api_key: MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA{token(48)}IDAQAB\n")}
    result = scan(files)
    assert result.findings == []
    assert dropped(result, "public-material") >= 2


def test_public_material_keeps_a_secret_key_under_the_same_name(scan, token):
    result = scan({"c.yml": f"signing_key: sk_live_{token(24)}\n"})
    assert [f.rule for f in result.findings] == ["stripe-secret-key"]
    assert dropped(result, "public-material") == 0


# -- hash or checksum -------------------------------------------------------------------------------


def test_integrity_attribute_is_not_reported(scan):
    sri = "sha512-" + base64.b64encode(hashlib.sha512(secrets.token_bytes(16)).digest()).decode()
    files = {"index.html": f'<script src="app.js" integrity="{sri}" crossorigin="anonymous"></script>\n',
             "lock.json": f'{{\n  "node_modules/auth-token": {{\n    "integrity": "{sri}"\n  }}\n}}\n',
             "c.yml": f'auth_token: "{sri}"\n'}
    result = scan(files)
    assert result.findings == []
    assert dropped(result, "hash-or-checksum") >= 1


def test_hex_digest_under_a_checksum_or_sha256_key_dropped(scan):
    digest = hashlib.sha256(secrets.token_bytes(16)).hexdigest()
    result = scan({"c.yml": f"sha256:\n  token: {digest}\nchecksum:\n  secret: {digest}\n"})
    assert result.findings == []
    assert dropped(result, "hash-or-checksum") == 2


def test_checksum_manifest_keyed_by_file_names_dropped(scan):
    md5 = hashlib.md5(secrets.token_bytes(16)).hexdigest()
    result = scan({"manifest.json": f'{{"config/secrets.yml": "{md5}", "lib/tasks/token.rb": "{md5}"}}\n'})
    assert result.findings == []
    assert dropped(result, "hash-or-checksum") == 2


def test_crypt_password_hash_dropped(scan, token):
    bcrypt = "$2b$12$" + token(53)
    result = scan({"users.yml": f'admin_password: "{bcrypt}"\n'})
    assert result.findings == []
    assert dropped(result, "hash-or-checksum") == 1


def test_hash_filter_keeps_hex_secrets_without_checksum_context(scan):
    digest = hashlib.sha256(secrets.token_bytes(16)).hexdigest()
    md5 = hashlib.md5(secrets.token_bytes(16)).hexdigest()
    result = scan({"c.yml": f"app:\n  token: {digest}\n", "m.json": f'{{"client_secret": "{md5}"}}\n'})
    assert sorted(rules(result)) == [("app.token", "keyword-token"), ("client_secret", "keyword-secret")]
    assert dropped(result, "hash-or-checksum") == 0


# -- uuid identifier --------------------------------------------------------------------------------


def test_uuid_naming_an_identifier_dropped(scan):
    value = str(uuid.uuid4())
    lines = ["tenant_id", "subscriptionId", "uid", "ProjectGuid", "X-Request-Id", "request_id", "user-uuid"]
    result = scan({"c.yml": "".join(f"{key}: {value}\n" for key in lines)})
    assert result.findings == []
    assert dropped(result, "uuid-identifier") == len(lines)


def test_bare_uuid_reported_at_low_confidence(scan):
    value = str(uuid.uuid4())
    result = scan({"c.yml": f"collection:\n  id: {value}\n"})
    assert [(f.key_path, f.rule, str(f.confidence)) for f in result.findings] == [("collection.id", "uuid", "low")]


@pytest.mark.parametrize("key", ["tenantId", "AZURE_TENANT_ID", "metadata.uid", "ProjectGuid", "role_id",
                                 "x-correlation-id", "dashboard.uid", "ownerReferences[0].uid", "anchoredSiteId",
                                 "fault_domain_id", "drive_ids[0]", "uuid", "taskArns[0]"])
def test_identifier_keys(key):
    assert names_an_identifier(key)


@pytest.mark.parametrize("key", ["id", "secret_id", "SecretID", "consul_token", "HEROKU_API_KEY", "apikey",
                                 "valid", "fluid", "guide", "", "auth[0]", "idRef", "session_id", "X-Auth-Id"])
def test_keys_that_do_not_name_an_identifier(key):
    assert not names_an_identifier(key)


def test_uuid_under_a_credential_key_kept(scan):
    value = str(uuid.uuid4())
    result = scan({"c.yml": f"api_token: {value}\n"})
    assert rules(result) == [("api_token", "keyword-token")]


# -- prose ------------------------------------------------------------------------------------------


def test_i18n_labels_are_not_reported(scan):
    files = {"locales/en.json": '{"LABEL_PASSWORD": "Enter your password", "ERR_TOKEN": "Your token has expired."}\n',
             "src/i18n.json": '{"PASSWORD_HINT": "Enter your password"}\n'}
    assert scan(files).findings == []


def test_prose_dropped(scan):
    result = scan({"c.yml": 'db_password: "Please type the password twice."\n'})
    assert result.findings == []
    assert dropped(result, "prose") == 1


def test_prose_keeps_a_single_random_word(scan, token):
    result = scan({"c.yml": f'db_password: "{token(20)}"\n'})
    assert rules(result) == [("db_password", "keyword-password")]
    assert dropped(result, "prose") == 0


# -- value shape ------------------------------------------------------------------------------------


def test_value_shape_drops_a_plain_url_under_a_token_key(scan):
    result = scan({"c.yml": "api_token: https://vault.internal:8200/v1/auth/token\n"})
    assert result.findings == []
    assert dropped(result, "value-shape") == 1


def test_value_shape_keeps_a_random_value(scan, token):
    result = scan({"c.yml": f"api_token: {token(32)}\n"})
    assert rules(result) == [("api_token", "keyword-token")]
    assert dropped(result, "value-shape") == 0


# -- allow comments ---------------------------------------------------------------------------------


def test_allow_comment_on_the_same_line(scan, token):
    result = scan({".env": f"DB_PASSWORD={token(24)}  # vaultshift: allow\n"})
    assert result.findings == []
    assert dropped(result, "allow-comment") == 1


def test_allow_comment_on_the_line_above_covers_only_the_next_line(scan, token):
    files = {"c.yml": f"# vaultshift: allow\ndb_password: {token(24)}\nother_password: {token(24)}\n"}
    result = scan(files)
    assert rules(result) == [("other_password", "keyword-password")]
    assert result.findings[0].span.line == 3
    assert dropped(result, "allow-comment") == 1


def test_allow_comment_applies_to_provider_tokens(scan, token):
    result = scan({"notes.txt": f"{token(36, prefix='ghp_')}  # vaultshift: allow\n"})
    assert result.findings == []
    assert dropped(result, "allow-comment") == 1


def test_allow_marker_inside_a_string_on_the_line_above_does_not_allow(scan, token):
    result = scan({"app.py": f"NOTE = 'vaultshift: allow'\nAPI_TOKEN = \"{token(32)}\"\n"})
    assert rules(result) == [("API_TOKEN", "keyword-token")]


# -- baseline ---------------------------------------------------------------------------------------


def test_baseline_drops_accepted_fingerprints_and_keeps_new_ones(scan, token, tmp_path):
    old = token(24)
    files = {".env": f"DB_PASSWORD={old}\n", "c.yml": f"api_token: {token(32)}\n"}
    first = scan(files)
    assert len(first.findings) == 2
    path = tmp_path / "baseline.json"
    baseline.save(path, entries_from_findings(first.findings))
    accepted = baseline.load(path)
    assert old not in path.read_text()

    again = scan(files, baseline=accepted)
    assert again.findings == []
    assert again.stats.dropped_by_filter.get("baseline") == 2

    fresh = token(24)
    changed = scan({**files, "new.env": f"API_SECRET={fresh}\n"}, baseline=accepted)
    assert rules(changed) == [("API_SECRET", "keyword-secret")]
    assert changed.findings[0].path == "new.env"


def test_bare_uuid_in_program_source_documentation_or_a_urn_dropped(scan):
    value = str(uuid.uuid4())
    result = scan({"known_folders.py": f'FOLDERID_Downloads = "{{{value}}}"\n',
                   "sbom.json": f'{{"serialNumber": "urn:uuid:{value}"}}\n',
                   "README.md": f"Pass the workspace `{value}` to the module.\n",
                   "task.json": f'{{"output": {{"task": "arn:aws:ecs:us-east-1:012345678910:task/{value}"}}}}\n'})
    assert result.findings == []
    assert dropped(result, "uuid-identifier") == 4
    kept = scan({"api.py": f'API_KEY = "{value}"\n'})  # a credential key in code: the keyword detector's
    assert [(f.rule, f.key_path) for f in kept.findings] == [("keyword-api-key", "API_KEY")]
