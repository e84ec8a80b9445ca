"""The ansible-lookup rewriter on real files: YAML vars (comments, anchors, every quoting style,
PEM block scalars), INI inventories, JSON vars and Jinja templates.

Equivalence is checked the way Ansible would see it: the original file parsed, against the
rewritten file parsed and then templated by jinja2 with a ``lookup`` that answers from the vault
values; templates are rendered before and after and must give the same bytes."""

from __future__ import annotations

import base64
import json
import secrets
import shlex
from typing import Any

import pytest
import yaml
from test_rewrite_support import Found, assert_no_canary, assert_only_spans_changed, make_token, scan_values

from migrator.plan.models import ReferenceStyle, SecretRef
from migrator.rewrite import Replacement, RewriteContext, RewriteError, RewriteResult, rewrite
from migrator.rewrite.verify import VerifyError, verify_parses

jinja2 = pytest.importorskip("jinja2")
STYLE = ReferenceStyle.ANSIBLE_LOOKUP


def fake_pem(kind: str = "RSA PRIVATE KEY") -> str:
    body = base64.b64encode(secrets.token_bytes(600)).decode()
    lines = [body[i: i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"])


def lookup_values(found: list[Found]) -> dict[str, str]:
    return {f"{f.replacement.ref.path}#{f.replacement.ref.field}": f.value for f in found}


def environment(values: dict[str, str]) -> Any:
    env = jinja2.Environment(keep_trailing_newline=True, trim_blocks=True, undefined=jinja2.StrictUndefined)

    def lookup(plugin: str, term: str, backend: str | None = None) -> str:
        assert plugin == "vaultshift.secrets.secret"
        return values[term]

    env.globals["lookup"] = lookup
    return env


def templated(data: Any, values: dict[str, str]) -> Any:
    """``data`` (parsed vars) with every string templated, as Ansible does when it uses a var."""
    env = environment(values)
    if isinstance(data, dict):
        return {k: templated(v, values) for k, v in data.items()}
    if isinstance(data, list):
        return [templated(v, values) for v in data]
    if isinstance(data, str) and "{{" in data:
        return env.from_string(data).render()
    return data


def do(path: str, original: bytes, replacements: list[Replacement], **context: Any) -> RewriteResult:
    result = rewrite(STYLE, original, replacements, RewriteContext(path, **context))
    verify_parses(path, result.new_bytes, result.spans, original)
    again = rewrite(STYLE, result.new_bytes, replacements, RewriteContext(path, **context))
    assert again.unchanged and again.new_bytes == result.new_bytes
    return result


def manual(text: str, value: str, field: str, occurrence: int = 1) -> Replacement:
    """A replacement for the ``occurrence``-th written ``value`` in ``text``."""
    start = -1
    for _ in range(occurrence):
        start = text.index(value, start + 1)
    begin = len(text[:start].encode())
    return Replacement(begin, begin + len(value.encode()), SecretRef("vault", "apps/web", field))


# -- YAML ------------------------------------------------------------------------------------------

def test_yaml_vars_file_every_value_becomes_a_lookup_and_nothing_else_moves() -> None:
    password, token, url_pw, flow_pw = (make_token(20) for _ in range(4))
    pem = fake_pem()
    indented = "\n".join("    " + line for line in pem.splitlines())
    text = (
        "# group_vars/web.yml: managed by hand, keep the comments\n"
        "defaults: &defaults\n"
        "  timeout: 30   # seconds\n"
        f"  db_password: {password}  # rotated 2024\n"
        "web:\n"
        "  <<: *defaults\n"
        f'  api_token: "{token}"\n'
        f"  database_url: postgres://app:{url_pw}@db.internal:5432/app\n"
        f"  cache: {{host: redis, password: {flow_pw}, port: 6379}}\n"
        "  tls_key: |\n"
        f"{indented}\n"
        "  unicode_note: \"caf\u00e9 \u2603\"\n"
        "list:\n"
        "  - *defaults\n"
    )
    original = text.encode()
    found = scan_values("group_vars/web.yml", original)
    assert {f.key_path for f in found} >= {"defaults.db_password", "web.api_token", "web.database_url",
                                          "web.cache.password", "web.tls_key"}
    reps = [f.replacement for f in found]
    result = do("group_vars/web.yml", original, reps)
    new = result.new_bytes.decode()
    assert_no_canary(result, [f.value for f in found])
    assert not result.companions

    expr = "{{ lookup('vaultshift.secrets.secret', 'apps/web#%s') }}"
    assert f'  db_password: "{expr % "db_password"}"  # rotated 2024\n' in new
    assert f'  api_token: "{expr % "api_token"}"\n' in new
    assert f"  database_url: postgres://app:{expr % 'database_url'}@db.internal:5432/app\n" in new
    assert f'  cache: {{host: redis, password: "{expr % "password"}", port: 6379}}\n' in new
    assert f'  tls_key: "{expr % "tls_key"}\\n"\n' in new  # the block's clipped newline, kept
    assert new.startswith(text[: text.index(password)])  # comments and anchors untouched
    assert new.endswith("  unicode_note: \"caf\u00e9 \u2603\"\nlist:\n  - *defaults\n")

    # What Ansible sees once it templates the vars is what it saw before.
    values = lookup_values(found)
    assert templated(yaml.safe_load(new), values) == yaml.safe_load(text)


def test_yaml_quoting_contexts() -> None:
    secret_sq, secret_dq, secret_plain = make_token(18), make_token(18), make_token(18)
    text = (f"sq: 'it''s {secret_sq}'\n"
            f'dq: "pre \\" {secret_dq}"\n'
            f"plain: {secret_plain}\n")
    reps = [manual(text, secret_sq, "sq"), manual(text, secret_dq, "dq"), manual(text, secret_plain, "plain")]
    result = do("vars.yml", text.encode(), reps)
    assert_only_spans_changed(text.encode(), result, reps)
    assert result.new_bytes.decode() == (
        "sq: 'it''s {{ lookup(''vaultshift.secrets.secret'', ''apps/web#sq'') }}'\n"
        "dq: \"pre \\\" {{ lookup('vaultshift.secrets.secret', 'apps/web#dq') }}\"\n"
        "plain: \"{{ lookup('vaultshift.secrets.secret', 'apps/web#plain') }}\"\n")
    values = {"apps/web#sq": secret_sq, "apps/web#dq": secret_dq, "apps/web#plain": secret_plain}
    assert templated(yaml.safe_load(result.new_bytes), values) == yaml.safe_load(text)


@pytest.mark.parametrize("indicator,tail", [("|", "\\n"), ("|-", ""), ("|+", "\\n\\n")])
def test_pem_block_scalar_becomes_one_quoted_lookup(indicator: str, tail: str) -> None:
    pem = fake_pem("PRIVATE KEY")
    block = "\n".join("      " + line for line in pem.splitlines())
    text = f"tls:\n  server:\n    key: {indicator}\n{block}\n" + ("\n" if indicator == "|+" else "") + \
        "    cert_file: /etc/ssl/server.crt\n"
    original = text.encode()
    found = scan_values("tls.yml", original)
    assert [f.key_path for f in found] == ["tls.server.key"]
    result = do("tls.yml", original, [found[0].replacement])
    new = result.new_bytes.decode()
    assert new.startswith("tls:\n  server:\n    key: \"{{ lookup('vaultshift.secrets.secret', 'apps/web#key') }}"
                          + tail + '"\n')
    assert new.endswith("    cert_file: /etc/ssl/server.crt\n")
    assert templated(yaml.safe_load(new), lookup_values(found)) == yaml.safe_load(text)


def test_keyword_block_scalar_with_its_indicator() -> None:
    password = make_token(24)
    text = f"db:\n  password: |\n    {password}\n  user: app\n"
    found = scan_values("db.yml", text.encode())
    assert len(found) == 1 and found[0].value == password + "\n"  # the span covers "|" and the block
    result = do("db.yml", text.encode(), [found[0].replacement])
    assert result.new_bytes.decode() == \
        "db:\n  password: \"{{ lookup('vaultshift.secrets.secret', 'apps/web#password') }}\"\n  user: app\n"
    assert templated(yaml.safe_load(result.new_bytes), lookup_values(found)) == yaml.safe_load(text)


def test_secret_on_one_line_of_a_script_block_is_replaced_in_place() -> None:
    password = make_token(20)
    text = f"tasks:\n  script: |\n    set -e\n    mysql --password {password} -h db\n    echo done\n"
    reps = [manual(text, password, "password")]
    result = do("play.yml", text.encode(), reps)
    assert_only_spans_changed(text.encode(), result, reps)
    assert "    mysql --password {{ lookup('vaultshift.secrets.secret', 'apps/web#password') }} -h db\n" in \
        result.new_bytes.decode()
    assert templated(yaml.safe_load(result.new_bytes), {"apps/web#password": password}) == yaml.safe_load(text)


def test_plain_scalar_that_would_start_with_a_brace_is_quoted_whole() -> None:
    token = make_token(20)
    text = f"auth: {token}:x-oauth-basic  # github\n"
    reps = [manual(text, token, "token")]
    result = do("vars.yml", text.encode(), reps)
    assert result.new_bytes.decode() == \
        "auth: \"{{ lookup('vaultshift.secrets.secret', 'apps/web#token') }}:x-oauth-basic\"  # github\n"
    assert templated(yaml.safe_load(result.new_bytes), {"apps/web#token": token}) == yaml.safe_load(text)


def test_partial_value_inside_a_flow_mapping_is_quoted_when_in_place_would_not_parse() -> None:
    password = make_token(20)
    text = f"db: {{url: postgres://app:{password}@db/app, pool: 5}}\n"
    reps = [manual(text, password, "url")]
    result = do("vars.yml", text.encode(), reps)
    assert result.new_bytes.decode() == \
        "db: {url: \"postgres://app:{{ lookup('vaultshift.secrets.secret', 'apps/web#url') }}@db/app\", pool: 5}\n"
    assert templated(yaml.safe_load(result.new_bytes), {"apps/web#url": password}) == yaml.safe_load(text)


def test_other_backend_is_named_and_multi_document_yaml() -> None:
    one, two = make_token(20), make_token(20)
    text = f"---\na: {one}\n...\n---\nb: \"{two}\"\n"
    b = manual(text, two, "b")
    reps = [manual(text, one, "a"), Replacement(b.start_byte, b.end_byte, SecretRef("aws", "apps/web", "b"))]
    result = do("multi.yaml", text.encode(), reps)
    assert result.new_bytes.decode() == (
        "---\na: \"{{ lookup('vaultshift.secrets.secret', 'apps/web#a') }}\"\n...\n---\n"
        "b: \"{{ lookup('vaultshift.secrets.secret', 'apps/web#b', backend='aws') }}\"\n")


def test_unsafe_tag_and_comments_are_refused() -> None:
    secret = make_token(20)
    text = f"password: !unsafe '{secret}'\n"
    with pytest.raises(RewriteError, match="unsafe"):
        rewrite(STYLE, text.encode(), [manual(text, secret, "password")], RewriteContext("vars.yml"))
    text = f"# password: {secret}\nother: 1\n"
    with pytest.raises(RewriteError, match="comment"):
        rewrite(STYLE, text.encode(), [manual(text, secret, "password")], RewriteContext("vars.yml"))


def test_bad_spans_and_refs_are_refused_with_one_line() -> None:
    text = "password: abcdefghijkl\n"
    good = manual(text, "abcdefghijkl", "password")
    cases = [
        ([Replacement(5, 400, good.ref)], "not inside the file"),
        ([good, Replacement(good.start_byte + 2, good.end_byte + 1, good.ref)], "overlap"),
        ([Replacement(good.start_byte, good.end_byte, SecretRef("vault", "apps/we'b", "password"))], "plain path"),
        ([Replacement(good.start_byte, good.end_byte, SecretRef("vault", "apps/web", "pass'word"))], "field name"),
        ([Replacement(good.start_byte, good.end_byte, SecretRef("vault", "apps/../web", "password"))], "plain path"),
        ([], "nothing to rewrite"),
    ]
    for reps, message in cases:
        with pytest.raises(RewriteError, match=message) as info:
            rewrite(STYLE, text.encode(), reps, RewriteContext("vars.yml"))
        assert "\n" not in str(info.value) and "abcdefghijkl" not in str(info.value)
    # a span that splits a multi-byte character does not fit the file
    text = "password: caf\u00e9abcdefghijk\n"
    with pytest.raises(RewriteError, match="multi-byte"):
        rewrite(STYLE, text.encode(), [Replacement(14, 20, good.ref)], RewriteContext("vars.yml"))


# -- INI inventories, JSON ----------------------------------------------------------------------------

def test_ini_inventory_host_lines_and_group_vars() -> None:
    host_pw, become_pw, vault_pw, group_pw = (make_token(20) for _ in range(4))
    text = ("# inventory\n[web]\n"
            f"web1 ansible_host=10.0.0.1 ansible_password={host_pw} ansible_user=deploy  # primary\n"
            f'web2 ansible_host=10.0.0.2 ansible_become_password="{become_pw}"\n'
            f"web3 ansible_host=10.0.0.3 ansible_password='{vault_pw}'\n"
            "\n[web:vars]\n"
            f"db_password = {group_pw}\n")
    reps = [manual(text, host_pw, "ansible_password"), manual(text, become_pw, "ansible_become_password"),
            manual(text, vault_pw, "web3"), manual(text, group_pw, "db_password")]
    result = do("inventory/hosts", text.encode(), reps)
    assert_only_spans_changed(text.encode(), result, reps)
    lines = result.new_bytes.decode().splitlines()
    assert lines[2] == ("web1 ansible_host=10.0.0.1 ansible_password=\"{{ lookup('vaultshift.secrets.secret', "
                        "'apps/web#ansible_password') }}\" ansible_user=deploy  # primary")
    assert lines[3] == ("web2 ansible_host=10.0.0.2 ansible_become_password=\"{{ lookup('vaultshift.secrets.secret', "
                        "'apps/web#ansible_become_password') }}\"")
    assert lines[4] == ("web3 ansible_host=10.0.0.3 ansible_password='{{ lookup(\"vaultshift.secrets.secret\", "
                        "\"apps/web#web3\") }}'")
    assert lines[7] == "db_password = {{ lookup('vaultshift.secrets.secret', 'apps/web#db_password') }}"
    # Ansible's INI inventory splits host lines like a shell (comments=True): each value stays
    # one word and templates to the secret
    values = {"apps/web#ansible_password": host_pw, "apps/web#ansible_become_password": become_pw,
              "apps/web#web3": vault_pw}
    env = environment(values)
    for line, expected in ((lines[2], host_pw), (lines[3], become_pw), (lines[4], vault_pw)):
        words = dict(word.split("=", 1) for word in shlex.split(line, comments=True)[1:])
        rendered = {k: env.from_string(v).render() for k, v in words.items()}
        original = dict(word.split("=", 1) for word in shlex.split(text.splitlines()[lines.index(line)],
                                                                   comments=True)[1:])
        assert rendered == original and expected in rendered.values()


def test_json_vars_quoted_and_bare() -> None:
    password, pin = make_token(20), "90817263"
    text = '{\n  "db": {"password": "PW", "pin": PIN},\n  "note": "keep \\u00e9"\n}\n'
    text = text.replace("PW", password).replace("PIN", pin)
    reps = [manual(text, password, "password"), manual(text, pin, "pin")]
    result = do("vars.json", text.encode(), reps)
    assert_only_spans_changed(text.encode(), result, reps)
    data = json.loads(result.new_bytes)
    assert data["db"] == {"password": "{{ lookup('vaultshift.secrets.secret', 'apps/web#password') }}",
                          "pin": "{{ lookup('vaultshift.secrets.secret', 'apps/web#pin') }}"}
    assert data["note"] == "keep \u00e9"


# -- Jinja templates ----------------------------------------------------------------------------------

def render(template: str, values: dict[str, str]) -> str:
    return str(environment(values).from_string(template).render(pw="unused", ansible_managed="by hand"))


def test_jinja_template_renders_exactly_the_original() -> None:
    password, token, default_pw = make_token(20), make_token(24), make_token(20)
    text = (
        "# {{ ansible_managed }}\n"
        "[server]\n"
        "listen = {{ listen_port | default(8080) }}\n"
        f"password = {password}\n"
        f'{{% set api_token = "{token}" %}}\n'
        "token = {{ api_token }}\n"
        f"fallback = {{{{ db_pass | default('{default_pw}') }}}}\n"
        '{# a comment #}\n'
        "literal = {{ '{{' }} not a tag {{ '}}' }}\n"
    )
    reps = [manual(text, password, "password"), manual(text, token, "token"), manual(text, default_pw, "default")]
    result = do("app.conf.j2", text.encode(), reps)
    new = result.new_bytes.decode()
    assert "password = {{ lookup('vaultshift.secrets.secret', 'apps/web#password') }}\n" in new
    assert "{% set api_token = lookup('vaultshift.secrets.secret', 'apps/web#token') %}\n" in new
    assert "fallback = {{ db_pass | default(lookup('vaultshift.secrets.secret', 'apps/web#default')) }}\n" in new
    values = {"apps/web#password": password, "apps/web#token": token, "apps/web#default": default_pw}
    assert render(new, values) == render(text, {})
    assert_no_canary(result, list(values.values()))


def test_jinja_yaml_template_with_a_pem_block_is_reindented() -> None:
    pem = fake_pem()
    block = "\n".join("    " + line for line in pem.splitlines())
    text = f"app:\n  name: {{{{ app_name }}}}\n  key: |\n{block}\n  port: 8080\n"
    original = text.encode()
    found = scan_values("app.yml.j2", original)
    assert [f.key_path for f in found] == ["app.key"]
    result = do("app.yml.j2", original, [found[0].replacement])
    assert "  key: |\n    {{ lookup('vaultshift.secrets.secret', 'apps/web#key') | indent(4) }}\n" in \
        result.new_bytes.decode()
    env = environment(lookup_values(found))
    assert env.from_string(result.new_bytes.decode()).render(app_name="x") == \
        env.from_string(text).render(app_name="x")


@pytest.mark.parametrize("text,needle", [
    ("{# old password: SECRETVALUE1 #}\nx = 1\n", "comment"),
    ("{% raw %}\npassword = SECRETVALUE1\n{% endraw %}\n", "raw"),
    ("x = {{ 'pre' ~ 'SECRETVALUE1-and-more' }}\n", "whole string literal"),
    ("x = {{ pw }}SECRETVALUE1\n", None),  # plain text next to an expression: fine
])
def test_jinja_positions_that_are_refused(text: str, needle: str | None) -> None:
    rep = manual(text, "SECRETVALUE1", "password")
    if needle is None:
        result = rewrite(STYLE, text.encode(), [rep], RewriteContext("x.conf.j2"))
        assert result.new_bytes.decode() == \
            "x = {{ pw }}{{ lookup('vaultshift.secrets.secret', 'apps/web#password') }}\n"
        return
    with pytest.raises(RewriteError, match=needle) as info:
        rewrite(STYLE, text.encode(), [rep], RewriteContext("x.conf.j2"))
    assert "SECRETVALUE1" not in str(info.value)


def test_rerun_on_a_rewritten_file_is_detected_and_a_span_holding_a_reference_refused() -> None:
    lookup = "{{ lookup('vaultshift.secrets.secret', 'apps/web#a') }}"
    text = f'a: "{lookup}"\nb: abcdefghijklmnop\n'
    inside = text.index("lookup")
    first = Replacement(inside, inside + 20, SecretRef("vault", "apps/web", "a"))
    later = manual(text, "abcdefghijklmnop", "b")
    # the first span lies inside a lookup: the file is this rewrite's output already
    result = rewrite(STYLE, text.encode(), [first, later], RewriteContext("v.yml"))
    assert result.unchanged and result.new_bytes == text.encode() and not result.companions
    # a span after a plain value that holds a reference is refused, not rewritten twice
    text = f'b: abcdefghijklmnop\na: "{lookup}"\n'
    inside = text.index("lookup")
    reps = [manual(text, "abcdefghijklmnop", "b"),
            Replacement(inside, inside + 40, SecretRef("vault", "apps/web", "a"))]
    with pytest.raises(RewriteError, match="already holds"):
        rewrite(STYLE, text.encode(), reps, RewriteContext("v.yml"))


def test_verify_parses_catches_broken_files_and_remaining_secrets() -> None:
    password = make_token(24)
    text = f"db:\n  password: {password}\n"
    rep = manual(text, password, "password")
    with pytest.raises(VerifyError, match="finding remains") as info:
        verify_parses("v.yml", text.encode(), [(rep.start_byte, rep.end_byte)], text.encode())
    assert password not in str(info.value)
    # Spans are bytes; the check places them in the text (here after forty two-byte characters).
    accented = f"owner: Jos{'é' * 40}\ndb:\n  password: {password}\n"
    start = accented.encode().index(password.encode())
    with pytest.raises(VerifyError, match="finding remains"):
        verify_parses("v.yml", accented.encode(), [(start, start + len(password))], accented.encode())
    # A finding away from the rewritten spans is not this check's business.
    verify_parses("v.yml", accented.encode(), [(0, 5)], accented.encode())
    with pytest.raises(VerifyError, match="no longer reads as yaml"):
        verify_parses("v.yml", b"db: [unclosed\n", [], text.encode())
    verify_parses("v.yml", b"db: [unclosed\n", [], b"db: [also broken\n")  # was malformed already
    with pytest.raises(VerifyError, match="not valid Jinja"):
        verify_parses("t.conf.j2", b"x = {{ lookup('a' }}\n")
