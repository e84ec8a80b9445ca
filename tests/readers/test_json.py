from __future__ import annotations

from migrator.discover.readers.json import JsonReader


def test_nested_objects_and_arrays(read):
    parsed = read(
        "config.json",
        '{\n  "описание": "é",\n  "db": {"пароль": "секрет", "port": 5432, "password": "p@ss"},\n'
        '  "hosts": ["a", {"token": "t0k"}, ["x", "y"]],\n  "flag": true, "none": null\n}\n',
    )
    assert isinstance(parsed.reader, JsonReader)
    parsed.check("описание", "é", quote='"')
    parsed.check("db.пароль", "секрет", key="пароль")
    parsed.check("db.password", "p@ss")
    parsed.check("hosts[0]", "a", key="hosts")
    parsed.check("hosts[1].token", "t0k", key="token")
    parsed.check("hosts[2][1]", "y")
    assert not any(p.endswith("port") or p in ("flag", "none") for p in parsed.paths)


def test_escapes_and_unicode_escapes(read):
    parsed = read("esc.json", '{"é": 1, "pw": "a\\"b\\\\c\\n\\u00e9\\u20ac", "plain": "x"}')
    entry = parsed.check("pw", 'a"b\\c\né€', raw=True)
    assert parsed.doc.text[entry.start : entry.end] == 'a\\"b\\\\c\\n\\u00e9\\u20ac'
    parsed.check("plain", "x", raw=False)


def test_comments_in_jsonc(read):
    parsed = read(
        "settings.jsonc",
        '{\n  // "commented": "out",\n  /* block é\n     "x": "y" */\n  "token": "real", // trailing\n'
        '  "url": "http://example.com/*not-a-comment*/"\n}\n',
    )
    parsed.check("token", "real")
    parsed.check("url", "http://example.com/*not-a-comment*/")
    assert "commented" not in parsed.paths and "x" not in parsed.paths


def test_top_level_array_and_tfvars_json(read):
    parsed = read("prod.tfvars.json", '[{"db_password": "tf-é"}, "loose"]\n')
    parsed.check("[0].db_password", "tf-é")
    parsed.check("[1]", "loose")


def test_malformed_json(malformed):
    message = malformed("bad.json", '{"a": {"password": "hunter2"]]\n', "hunter2")
    assert "line 1" in message
    message = malformed("cut.json", '{"a": {\n"password": "hunter2"\n', "hunter2")
    assert message.startswith("malformed JSON")
    message = malformed("comment.jsonc", '{"password": "hunter2" /* never closed\n' + "/*x" * 2000, "hunter2")
    assert message.startswith("malformed JSON")
