from __future__ import annotations

from migrator.discover.readers.line import LineReader, entries_in_range, strip_key, unescape


def test_line_reader_reads_unknown_files(read):
    parsed = read(
        "README.notes",
        "Заметки é\n"
        "password = hunter-é-2\n"
        "token: abc123\n"
        '"api_key": "quoted-é"\n'
        "secret => 'arrow'\n"
        "url: https://example.com/x\n"
        "db_pass := walrus\n",
    )
    assert isinstance(parsed.reader, LineReader)
    parsed.check("password", "hunter-é-2", key="password", quote="")
    parsed.check("token", "abc123")
    parsed.check("api_key", "quoted-é", quote='"')
    parsed.check("secret", "arrow", quote="'")
    parsed.check("url", "https://example.com/x")
    parsed.check("db_pass", "walrus")


def test_double_quoted_values_are_unescaped(read):
    parsed = read("notes.txt", 'é\nmsg = "a\\tb\\"c"\n')
    entry = parsed.check("msg", 'a\tb"c', raw=True)
    assert parsed.doc.text[entry.start : entry.end] == 'a\\tb\\"c'


def test_entries_in_range_and_prefix(read):
    parsed = read("x.txt", "a = 1\nb = 2\nc = 3\n")
    doc = parsed.doc
    begin = doc.line_starts[1]
    entries = list(entries_in_range(doc, begin, len(doc.text), prefix="section"))
    assert [(e.key_path, e.key, e.value) for e in entries] == [("section.b", "b", "2"), ("section.c", "c", "3")]


def test_helpers():
    assert unescape("plain") == "plain"
    assert unescape("a\\nb\\\\c\\q") == "a\nb\\c\\q"
    assert strip_key('"key"') == "key"
    assert strip_key("'k'") == "k"
    assert strip_key('"unbalanced') == '"unbalanced'
