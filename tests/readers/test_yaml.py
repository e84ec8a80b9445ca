from __future__ import annotations

from migrator.discover.readers.yaml import YamlReader

PEM_LINES = ["-----BEGIN RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEA1c7", "-----END RSA PRIVATE KEY-----"]


def test_nested_mappings_and_lists(read):
    parsed = read(
        "group_vars/all.yml",
        "# переменные é\n"
        "db:\n"
        "  пароль: секрет\n"
        "  password: 'p@ss é'\n"
        '  user: "admin\\u00e9"\n'
        "  hosts:\n"
        "    - a.example\n"
        "    - name: b\n"
        "      token: tok-b\n",
    )
    assert isinstance(parsed.reader, YamlReader)
    parsed.check("db.пароль", "секрет", key="пароль", quote="")
    parsed.check("db.password", "p@ss é", quote="'")
    parsed.check("db.user", "adminé", quote='"', raw=True)
    parsed.check("db.hosts[0]", "a.example", key="hosts")
    parsed.check("db.hosts[1].token", "tok-b", key="token")


def test_anchors_and_aliases_are_walked_once(read):
    parsed = read(
        "compose.yaml",
        "x-common: &common\n  password: anchored-é\nsvc:\n  a: *common\n  b:\n    <<: *common\n    extra: e\n",
    )
    parsed.check("x-common.password", "anchored-é")
    parsed.check("svc.b.extra", "e")
    assert [e.value for e in parsed.entries].count("anchored-é") == 1


def test_block_scalars_holding_a_pem_key(read):
    literal = "\n".join("  " + line for line in PEM_LINES)
    parsed = read("keys.yml", f"é: 1\nliteral: |\n{literal}\nfolded: >-\n  one\n  two\nnext: ok\n")
    entry = parsed.check("literal", "\n".join(PEM_LINES) + "\n", quote="|", raw=True)
    written = parsed.doc.text[entry.start : entry.end]
    assert written.startswith("|") and written.endswith(PEM_LINES[-1])
    span = parsed.doc.span(entry.start, entry.end)
    assert (span.line, span.end_line) == (2, 5)
    parsed.check("folded", "one two", quote=">", raw=True)
    parsed.check("next", "ok")


def test_flow_mappings_and_sequences(read):
    parsed = read("flow.yml", 'ключ: {user: admin, password: "flöw", list: [a, "b"]}\n')
    parsed.check("ключ.user", "admin")
    parsed.check("ключ.password", "flöw", quote='"')
    parsed.check("ключ.list[1]", "b", key="list")


def test_multi_document_yaml(read):
    parsed = read(
        "k8s.yaml", "kind: Secret\nstringData:\n  pw: first\n---\n# é\nkind: ConfigMap\ndata:\n  pw: second\n"
    )
    parsed.check("stringData.pw", "first")
    parsed.check("data.pw", "second")
    assert len(parsed.all("kind")) == 2


def test_custom_tags_are_harmless(read):
    parsed = read("vault.yml", "secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\nref: !Ref Other\n")
    parsed.check("ref", "Other")
    assert parsed["secret"].value.startswith("$ANSIBLE_VAULT")


def test_malformed_yaml(malformed):
    message = malformed("bad.yml", "ok: 1\npassword: \"hunter2\n  next: [\n", "hunter2")
    assert message.startswith("malformed YAML at line")
    message = malformed("bad2.yaml", "a:\n  b: 1\n c: hunter2\n", "hunter2")
    assert "line 3" in message
