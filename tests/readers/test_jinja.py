from __future__ import annotations

from migrator.discover.readers.jinja import JinjaReader, inner_path, mask


def test_mask_keeps_offsets_and_newlines():
    text = "a: 1\n{% if x %}\nb: é\n{# multi\nline é #}\nc: 3 {%- endif -%}\n"
    masked = mask(text)
    assert len(masked) == len(text)
    assert [i for i, c in enumerate(masked) if c == "\n"] == [i for i, c in enumerate(text) if c == "\n"]
    assert "{%" not in masked and "{#" not in masked
    assert masked.splitlines()[2] == "b: é"


def test_unclosed_tags_are_left_alone():
    text = "a: 1 {# open\nb: {% x %} c\nd: {% y\n"
    masked = mask(text)
    assert masked == "a: 1 {# open\nb: " + " " * len("{% x %}") + " c\nd: {% y\n"


def test_inner_path():
    assert inner_path("roles/x/templates/app.yml.j2") == "roles/x/templates/app.yml"
    assert inner_path(".env.TPL") == ".env"
    assert inner_path("nginx.conf.template") == "nginx.conf"
    assert inner_path("dir/.j2") is None


def test_yaml_template_delegates_to_yaml_reader(read):
    parsed = read(
        "app.yml.j2",
        "# конфиг é\n"
        "{% if prod %}\n"
        "database:\n"
        "  пароль: \"секрет-{{ suffix }}\"\n"
        "  password: {{ vault_db_password }}\n"
        "{% else %}\n"
        "  user: admin  {# who #}\n"
        "{% endif %}\n"
        "key: |\n  -----BEGIN KEY-----\n  abc\n  -----END KEY-----\n",
    )
    assert isinstance(parsed.reader, JinjaReader)
    parsed.check("database.пароль", "секрет-{{ suffix }}", quote='"')
    parsed.check("database.user", "admin")
    parsed.check("key", "-----BEGIN KEY-----\nabc\n-----END KEY-----\n", quote="|")
    assert not any(e.value == "{{ vault_db_password }}" for e in parsed.entries)  # unquoted: a flow mapping


def test_env_template_and_tag_inside_value(read):
    parsed = read(
        ".env.j2",
        "# é\nDB_PASSWORD={{ db_password }}\nAPI_KEY=abc{% if x %}def{% endif %}\nNAME=Zoë\n",
    )
    parsed.check("DB_PASSWORD", "{{ db_password }}")
    entry = parsed["API_KEY"]
    assert parsed.doc.text[entry.start : entry.end] == entry.value
    assert entry.value.startswith("abc{% if x %}")
    parsed.check("NAME", "Zoë")


def test_malformed_inner_format_falls_back_to_line_reader(read):
    parsed = read(
        "config.json.j2",
        '{\n  "é": 1,\n  "password": "{{ pw }}",\n  {% for k in keys %}"{{ k }}": "v",{% endfor %}\n'
        '  "token": "t0k3n"\n',
    )
    # the JSON is cut short (no closing brace): the line reader reads it instead
    parsed.check("password", "{{ pw }}")
    parsed.check("token", "t0k3n")


def test_unknown_inner_format_uses_line_reader(read):
    parsed = read("motd.tpl", "Привет {{ user }}\npassword = s3cret-é\n{% raw %}x{% endraw %}\n")
    parsed.check("password", "s3cret-é")


def test_conf_template_uses_ini_reader(read):
    parsed = read("nginx.conf.template", "# é\nserver {\n  auth_token ${TOKEN};\n}\n")
    parsed.check("server.auth_token", "${TOKEN}")
