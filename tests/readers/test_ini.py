from __future__ import annotations

from migrator.discover.readers.ini import IniReader


def test_sections_separators_and_comments(read):
    parsed = read(
        "app.ini",
        "; конфигурация\n"
        "[database]\n"
        "name = café\n"
        "password = p@ss=word\n"
        "user: admin\n"
        "# password = commented-out\n"
        "[client \"main\"]\n"
        "token = \"quoted é token\" ; inline\n"
        "key=value ; trailing comment\n",
    )
    assert isinstance(parsed.reader, IniReader)
    parsed.check("database.name", "café", key="name")
    parsed.check("database.password", "p@ss=word", key="password")
    parsed.check("database.user", "admin")
    parsed.check("client.main.token", "quoted é token", quote='"')
    parsed.check("client.main.key", "value")
    assert len(parsed.all("database.password")) == 1


def test_non_ascii_before_value_on_same_line(read):
    parsed = read("my.cnf", "\n".join(["[client]", "комментарий = x", "пароль = секрет é", ""]))
    parsed.check("client.пароль", "секрет é")


def test_indented_continuation_lines(read):
    parsed = read(
        "setup.cfg",
        "[options]\ninstall_requires =\n    requests\n    pyyaml\ndescription = first é\n  second\nnext = 1\n",
    )
    entry = parsed.check("options.install_requires", "requests\npyyaml", raw=True)
    assert parsed.doc.text[entry.start : entry.end] == "requests\n    pyyaml"
    entry = parsed.check("options.description", "first é\nsecond", raw=True)
    parsed.check("options.next", "1")
    assert "options.requests" not in parsed.paths


def test_redis_and_nginx_directives(read):
    parsed = read(
        "redis.conf",
        "# é redis\nbind 127.0.0.1\nrequirepass foobared-é\nmasterauth \"quoted secret\"\n",
    )
    parsed.check("requirepass", "foobared-é", key="requirepass")
    parsed.check("masterauth", "quoted secret", quote='"')
    parsed.check("bind", "127.0.0.1")

    parsed = read(
        "nginx.conf",
        "http {\n    server {\n        listen 80;\n        proxy_pass http://backend:8080;\n"
        "        auth_basic_password sécret;\n    }\n}\nworker_processes 4;\n",
    )
    parsed.check("http.server.listen", "80")
    parsed.check("http.server.proxy_pass", "http://backend:8080")
    parsed.check("http.server.auth_basic_password", "sécret")
    parsed.check("worker_processes", "4")


def test_hocon_and_logstash_blocks(read):
    parsed = read(
        "application.conf",
        '# é\ndb {\n  user = "app"\n  password: "hocön"\n}\noutput {\n  elasticsearch {\n'
        '    password => "logstash-pw"\n  }\n}\n',
    )
    parsed.check("db.user", "app", quote='"')
    parsed.check("db.password", "hocön", key="password")
    parsed.check("output.elasticsearch.password", "logstash-pw", quote='"')


def test_npmrc_keys_with_colons_and_gitconfig_indent(read):
    parsed = read(".npmrc", "//registry.npmjs.org/:_authToken=npm_abcdef\nregistry=https://r.example/\n")
    parsed.check("//registry.npmjs.org/:_authToken", "npm_abcdef")
    parsed.check("registry", "https://r.example/")

    parsed = read(".gitconfig", "[user]\n\tname = Zoë\n\temail = z@example.com\n[remote \"origin\"]\n\turl = x\n")
    parsed.check("user.name", "Zoë")
    parsed.check("user.email", "z@example.com")
    parsed.check("remote.origin.url", "x")


def test_php_ini_and_windows_line_endings(read):
    parsed = read("php.ini", "[PHP]\r\nengine = On\r\nmysqli.default_pw = \"pw-é\"\r\nsmtp = mail\r\n")
    parsed.check("PHP.mysqli.default_pw", "pw-é")
    parsed.check("PHP.smtp", "mail")


def test_unclosed_section_is_malformed(malformed):
    message = malformed("bad.ini", "[ok]\npassword = hunter2\n[broken\nx = 1\n", "hunter2")
    assert "line 3" in message
