from __future__ import annotations

from migrator.discover.readers.python import PythonReader


def test_module_class_and_dict_assignments(read):
    parsed = read(
        "settings.py",
        "# -*- coding: utf-8 -*-\n"
        "# настройки é\n"
        "import os\n"
        "SECRET_KEY = 'django-insecure-é'\n"
        "NAME = \"Zoë\"; TOKEN: str = 'tok-€'\n"
        "DATABASES = {\n"
        "    'default': {'ENGINE': 'x', 'PASSWORD': 'пароль-db', 'PORT': 5432},\n"
        "    'replicas': ['r1', 'r2'],\n"
        "}\n"
        "class Config:\n"
        "    API_KEY = 'cfg-key'\n"
        "    class Nested:\n"
        "        PW = r'raw\\d'\n"
        "if os.environ.get('PROD'):\n"
        "    DEBUG_PASSWORD = 'in-if'\n"
        "def f(self):\n"
        "    local_password = 'in-function'\n"
        "    self.token = 'attr-é'\n"
        "    headers['authorization'] = 'Bearer abc'\n"
        "    assert body['secret'] == 'compared'\n"
        "    send({'api_key': 'dict-arg'})\n",
    )
    assert isinstance(parsed.reader, PythonReader)
    parsed.check("SECRET_KEY", "django-insecure-é", quote="'", raw=False)
    parsed.check("NAME", "Zoë", quote='"')
    parsed.check("TOKEN", "tok-€")
    parsed.check("DATABASES.default.PASSWORD", "пароль-db", key="PASSWORD")
    parsed.check("DATABASES.replicas[1]", "r2", key="replicas")
    parsed.check("Config.API_KEY", "cfg-key", key="API_KEY")
    parsed.check("Config.Nested.PW", "raw\\d", raw=False)
    parsed.check("DEBUG_PASSWORD", "in-if")
    parsed.check("local_password", "in-function")
    parsed.check("self.token", "attr-é", key="token")
    parsed.check("headers.authorization", "Bearer abc", key="authorization")
    parsed.check("body.secret", "compared", key="secret")
    parsed.check("api_key", "dict-arg")
    assert parsed.entries == sorted(parsed.entries, key=lambda e: e.start)


def test_keywords_defaults_and_environment_lookups(read):
    parsed = read(
        "db.py",
        "import os\n"
        "é = 1\n"
        "def connect(host='localhost', *, password='def-pä55'):\n"
        "    return driver.connect(user='admin', password='kw-é-secret')\n"
        "SECRET = os.environ.get('SECRET_KEY', 'env-default')\n"
        "x = os.getenv('API_TOKEN', default='getenv-default')\n"
        "engine = create_engine(url='postgres://u:p@h/db')\n",
    )
    parsed.check("host", "localhost")
    passwords = [parsed.verify(e) for e in parsed.all("password")]
    assert [e.value for e in passwords] == ["def-pä55", "kw-é-secret"]
    parsed.check("user", "admin")
    parsed.check("SECRET", "env-default", key="SECRET_KEY")
    parsed.check("x", "getenv-default", key="API_TOKEN")
    parsed.check("engine.url", "postgres://u:p@h/db", key="url")
    assert not any(e.value in ("SECRET_KEY", "API_TOKEN") for e in parsed.entries)


def test_escapes_concatenation_fstrings_and_bytes(read):
    parsed = read(
        "conf.py",
        "é = 'x'\n"
        "ESC = 'tab\\tnewline\\n'\n"
        "JOINED = ('part-one-é'\n          'part-two')\n"
        "F = f'{x}-secret'\n"
        "B = b'bytes'\n"
        'DOC = """multi\nline é"""\n',
    )
    parsed.check("ESC", "tab\tnewline\n", raw=True)
    entry = parsed.check("JOINED", "part-one-épart-two", raw=True, quote="")
    assert parsed.doc.text[entry.start : entry.end] == "'part-one-é'\n          'part-two'"
    entry = parsed.check("DOC", "multi\nline é", quote='"""', raw=False)
    span = parsed.doc.span(entry.start, entry.end)
    assert (span.line, span.end_line) == (7, 8)
    assert "F" not in parsed.paths
    assert "B" not in parsed.paths


def test_byte_order_mark(read):
    parsed = read("bom.py", "\ufeffPASSWORD = 'after-bom'\n")
    parsed.check("PASSWORD", "after-bom")


def test_syntax_error_is_malformed(malformed):
    message = malformed("bad.py", "A = 1\nPASSWORD = 'hunter2\n", "hunter2")
    assert message.startswith("malformed Python at line 2")
    message = malformed("bad2.py", "x = 1\nif x\n    y = '€hunter2'\n", "hunter2", "€")
    assert "line 2" in message
