from __future__ import annotations

from migrator.discover.readers.env import EnvReader

PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1c7+9z\nq2XfFh0=\n-----END RSA PRIVATE KEY-----"


def test_plain_export_and_quoted_values(read):
    parsed = read(
        ".env",
        "# пароль для базы: комментарий\n"
        "APP_NAME=café\n"
        "export DB_PASSWORD=s3cr3t-é\n"
        "API_KEY='sk_live_abc123'\n"
        'TOKEN="tok_ü_42"\n'
        "SPACED = value-with-spaces-around\n",
    )
    assert isinstance(parsed.reader, EnvReader)
    parsed.check("APP_NAME", "café", quote="")
    parsed.check("DB_PASSWORD", "s3cr3t-é", key="DB_PASSWORD", raw=False)
    parsed.check("API_KEY", "sk_live_abc123", quote="'")
    parsed.check("TOKEN", "tok_ü_42", quote='"')
    parsed.check("SPACED", "value-with-spaces-around")


def test_inline_comment_only_after_unquoted_values(read):
    parsed = read(
        ".env.production",
        "NAME=é # пароль\nHASHY=abc#def\nQUOTED=\"a # not a comment\" # comment\nEMPTY=\nBLANK= # nothing\n",
    )
    parsed.check("NAME", "é")
    parsed.check("HASHY", "abc#def")
    parsed.check("QUOTED", "a # not a comment", quote='"')
    assert "EMPTY" not in parsed.paths
    assert "BLANK" not in parsed.paths


def test_multiline_double_quoted_pem(read):
    content = 'FIRST=é\nPRIVATE_KEY="' + PEM + '"\nAFTER=ok\n'
    parsed = read("prod.env", content)
    entry = parsed.check("PRIVATE_KEY", PEM, raw=False)
    span = parsed.doc.span(entry.start, entry.end)
    assert (span.line, span.end_line) == (2, 5)
    parsed.check("AFTER", "ok")
    # the lines inside the key are not read as assignments of their own
    assert parsed.paths == ["FIRST", "PRIVATE_KEY", "AFTER"]


def test_escapes_in_double_quotes_are_decoded(read):
    parsed = read(".env", 'ü=1\nMSG="line1\\nline2 \\"q\\""\n')
    entry = parsed.check("MSG", 'line1\nline2 "q"', raw=True)
    assert parsed.doc.text[entry.start : entry.end] == 'line1\\nline2 \\"q\\"'


def test_crlf_line_endings(read):
    parsed = read(".env.local", "A=é\r\nSECRET=abc\r\n")
    parsed.check("SECRET", "abc")
    parsed.check("A", "é")


def test_unterminated_quote_is_malformed(malformed):
    message = malformed(".env", "OK=1\nPASSWORD=\"hunter2-never-closed\nOTHER=2\n", "hunter2")
    assert "line 2" in message
