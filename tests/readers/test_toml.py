from __future__ import annotations

from migrator.discover.readers.toml import TomlReader

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


def test_tables_dotted_keys_and_string_kinds(read):
    parsed = read(
        "config.toml",
        "# конфигурация é\n"
        'title = "Café"\n'
        "[database]\n"
        '"пароль" = "секрет"  # comment\n'
        "password = 'lit\\eral'\n"
        'auth.token = "tok-é"\n'
        '"quoted.key" = "q"\n'
        "port = 5432\n"
        "[servers.alpha]\n"
        'ip = "10.0.0.1"\n',
    )
    assert isinstance(parsed.reader, TomlReader)
    parsed.check("title", "Café", quote='"')
    parsed.check("database.пароль", "секрет")
    parsed.check("database.password", "lit\\eral", quote="'", raw=False)
    parsed.check("database.auth.token", "tok-é", key="token")
    parsed.check("database.quoted.key", "q", key="quoted.key")
    parsed.check("servers.alpha.ip", "10.0.0.1", key="ip")
    assert not any(p.endswith("port") for p in parsed.paths)


def test_arrays_of_tables_are_indexed(read):
    parsed = read(
        "Cargo.toml",
        '[[bin]]\nname = "é-one"\n[[bin]]\nname = "two"\n[bin.extra]\nkey = "x"\n'
        '[[bin.sub]]\nv = "s0"\n[[bin.sub]]\nv = "s1"\n',
    )
    parsed.check("bin[0].name", "é-one")
    parsed.check("bin[1].name", "two", key="name")
    parsed.check("bin[1].extra.key", "x")
    parsed.check("bin[1].sub[0].v", "s0")
    parsed.check("bin[1].sub[1].v", "s1")


def test_inline_tables_and_arrays(read):
    parsed = read(
        "pyproject.toml",
        'creds = { user = "admin", password = "pä55" }\n'
        'hosts = ["a.example", "é.example",\n  # comment\n  "c.example",\n]\n'
        'nested = { db = { password = "deep" }, list = [ { k = "v" } ] }\n',
    )
    parsed.check("creds.user", "admin")
    parsed.check("creds.password", "pä55", key="password")
    parsed.check("hosts[0]", "a.example", key="hosts")
    parsed.check("hosts[1]", "é.example")
    parsed.check("hosts[2]", "c.example")
    parsed.check("nested.db.password", "deep")
    parsed.check("nested.list[0].k", "v")


def test_multiline_and_escaped_strings(read):
    parsed = read(
        "secrets.toml",
        '"é" = 1\nkey = """\n' + PEM + '"""\n'
        "lit = '''\nraw \\n text'''\n"
        'esc = "tab\\there \\u00e9"\n'
        'folded = """one \\\n    two"""\n',
    )
    entry = parsed.check("key", PEM, quote='"""', raw=False)
    span = parsed.doc.span(entry.start, entry.end)
    assert (span.line, span.end_line) == (3, 5)
    parsed.check("lit", "raw \\n text", quote="'''", raw=False)
    parsed.check("esc", "tab\there é", raw=True)
    parsed.check("folded", "one two", raw=True)


def test_invalid_toml_is_malformed(malformed):
    message = malformed("bad.toml", 'ok = "1"\npassword = "hunter2"\npassword = "hunter3"\n', "hunter")
    assert message.startswith("malformed TOML at line")
    message = malformed("bad2.toml", 'a = "x"\nb = hunter2\n', "hunter2")
    assert "line 2" in message
