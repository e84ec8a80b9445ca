from __future__ import annotations

from migrator.discover.readers.shell import ShellReader


def test_assignments_in_every_form(read):
    parsed = read(
        "deploy.sh",
        "#!/bin/bash\n"
        "# пароль ниже é\n"
        "export DB_PASSWORD=s3cret-é\n"
        'API_KEY="sk_live_ü1"\n'
        "readonly TOKEN='tok#not-comment'\n"
        "declare -x REGION=eu-west-1\n"
        "local NAME=Zoë; OTHER=2\n"
        'SUB=$(vault kv get -field=pw "secret/db")\n'
        "REF=${HOME}/x\n"
        "EMPTY=\n"
        "if [ \"$A\" == \"b\" ]; then X=1; fi\n",
    )
    assert isinstance(parsed.reader, ShellReader)
    parsed.check("DB_PASSWORD", "s3cret-é", key="DB_PASSWORD", quote="")
    parsed.check("API_KEY", "sk_live_ü1", quote='"')
    parsed.check("TOKEN", "tok#not-comment", quote="'")
    parsed.check("REGION", "eu-west-1")
    parsed.check("NAME", "Zoë")
    parsed.check("OTHER", "2")
    parsed.check("SUB", '$(vault kv get -field=pw "secret/db")')
    parsed.check("REF", "${HOME}/x")
    parsed.check("X", "1")
    assert "EMPTY" not in parsed.paths
    assert "A" not in parsed.paths


def test_comments_are_skipped(read):
    parsed = read(".bashrc", "# export SECRET=commented\nalias ll='ls -l' # LATER=x\nPS1=é\n")
    assert "SECRET" not in parsed.paths
    assert "LATER" not in parsed.paths
    parsed.check("PS1", "é")


def test_command_flags(read):
    parsed = read(
        "backup.bash",
        "# é\n"
        "mysqldump --user=root --password=hunt-é-er2 db\n"
        'psql --password "quoted pw" \\\n  --host db.example\n'
        "curl --token 'abc' --verbose -X GET\n",
    )
    passwords = [parsed.verify(e) for e in parsed.all("password")]
    assert [(e.value, e.quote) for e in passwords] == [("hunt-é-er2", ""), ("quoted pw", '"')]
    parsed.check("user", "root")
    parsed.check("host", "db.example")
    parsed.check("token", "abc", quote="'")
    assert "verbose" not in parsed.paths


def test_multiline_double_quoted_value_and_escapes(read):
    parsed = read(
        "certs.zsh",
        'é=1\nCERT="-----BEGIN CERT-----\nabc\n-----END CERT-----"\nMSG="say \\"hi\\" \\$HOME"\nB=a\\ b\n',
    )
    entry = parsed.check("CERT", "-----BEGIN CERT-----\nabc\n-----END CERT-----", quote='"')
    assert parsed.doc.span(entry.start, entry.end).end_line == 4
    parsed.check("MSG", 'say "hi" $HOME', raw=True)
    parsed.check("B", "a b", raw=True)
