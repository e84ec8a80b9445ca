from __future__ import annotations

from migrator.discover.readers.properties import PropertiesReader


def test_separators_and_comments(read):
    parsed = read(
        "application.properties",
        "# комментарий é\n"
        "! another comment = not a pair\n"
        "spring.datasource.url=jdbc:postgresql://db:5432/app\n"
        "spring.datasource.password = s3cret-é\n"
        "app.user:admin\n"
        "app.token   tok en value\n"
        "пароль=значение\n",
    )
    assert isinstance(parsed.reader, PropertiesReader)
    parsed.check("spring.datasource.url", "jdbc:postgresql://db:5432/app")
    parsed.check("spring.datasource.password", "s3cret-é", key="spring.datasource.password")
    parsed.check("app.user", "admin")
    parsed.check("app.token", "tok en value")
    parsed.check("пароль", "значение")
    assert not any(p.startswith("!") or p.startswith("#") for p in parsed.paths)


def test_unicode_escapes_and_continuations(read):
    parsed = read(
        "messages.properties",
        "é.before=1\n"
        "db.password=p\\u00e4ss\\u0021\n"
        "long.value=first \\\n    second \\\n    third\n"
        "path=C:\\\\temp\n"
        "next=ok\n",
    )
    entry = parsed.check("db.password", "päss!", raw=True)
    assert parsed.doc.text[entry.start : entry.end] == "p\\u00e4ss\\u0021"
    entry = parsed.check("long.value", "first second third", raw=True)
    span = parsed.doc.span(entry.start, entry.end)
    assert (span.line, span.end_line) == (3, 5)
    parsed.check("path", "C:\\temp", raw=True)
    parsed.check("next", "ok")
    assert "second" not in " ".join(parsed.paths)


def test_escaped_separator_in_key(read):
    parsed = read("x.properties", "a\\=b=c\nkey\\ with\\ spaces = v\n")
    parsed.check("a=b", "c")
    parsed.check("key with spaces", "v")


def test_bad_unicode_escape_is_malformed(malformed):
    message = malformed("bad.properties", "ok=1\npassword=hunter2\\uZZZZ\n", "hunter2")
    assert "line 2" in message
