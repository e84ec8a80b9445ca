from __future__ import annotations

from migrator.discover.readers.php import PhpReader


def test_nested_arrays_give_key_paths(read):
    parsed = read(
        "database.php",
        "<?php\n"
        "// конфигурация é\n"
        "return [\n"
        "    'default' => env('DB_CONNECTION', 'mysql'),\n"
        "    'connections' => [\n"
        "        'mysql' => [\n"
        "            'host' => '127.0.0.1', 'пароль' => 'секрет',\n"
        "            'password' => env('DB_PASSWORD', 'fallbäck'),\n"
        "            'options' => array('ssl' => \"yes\\n\", 'list' => ['a', 'b']),\n"
        "            'dsn' => $_ENV['DSN'],\n"
        "        ],\n"
        "    ],\n"
        "];\n",
    )
    assert isinstance(parsed.reader, PhpReader)
    parsed.check("connections.mysql.host", "127.0.0.1", key="host")
    parsed.check("connections.mysql.пароль", "секрет")
    parsed.check("connections.mysql.password", "fallbäck", key="DB_PASSWORD")
    parsed.check("default", "mysql", key="DB_CONNECTION")
    parsed.check("connections.mysql.options.ssl", "yes\n", quote='"', raw=True)
    parsed.check("connections.mysql.options.list[0]", "a", key="list")
    parsed.check("connections.mysql.options.list[1]", "b")
    assert not any(e.value == "DSN" for e in parsed.entries)
    assert not any(e.value in ("DB_PASSWORD", "DB_CONNECTION") for e in parsed.entries)


def test_define_variables_and_index_assignments(read):
    parsed = read(
        "wp-config.php",
        "<?php\n"
        "/* é */\n"
        "define('DB_PASSWORD', 'wp-é-secret');\n"
        "define( \"AUTH_KEY\", 'put your unique phrase here' );\n"
        "$db_password = 'plain-é';\n"
        "$cfg['db']['password'] = \"nested\";\n"
        "$this->token = 'tok';\n"
        "const API_KEY = 'const-key';\n"
        "echo 'not a value';\n"
        "$table_prefix = 'wp_'; # comment\n",
    )
    parsed.check("DB_PASSWORD", "wp-é-secret", key="DB_PASSWORD")
    parsed.check("AUTH_KEY", "put your unique phrase here")
    parsed.check("db_password", "plain-é")
    parsed.check("cfg.db.password", "nested", key="password", quote='"')
    parsed.check("this.token", "tok", key="token")
    parsed.check("API_KEY", "const-key")
    parsed.check("table_prefix", "wp_")
    assert not any(e.value == "not a value" for e in parsed.entries)


def test_html_outside_php_and_escapes(read):
    parsed = read(
        "config.inc",
        "<html>don't read this é</html>\n<?php $pw = 'it\\'s-é'; ?>\n<p>'unbalanced</p>\n"
        "<?php $key = <<<EOT\nheredoc-é\nEOT;\n",
    )
    parsed.check("pw", "it's-é", raw=True)
    parsed.check("key", "heredoc-é")


def test_unterminated_string_is_malformed(malformed):
    message = malformed("bad.php", "<?php\n$a = 1;\n$password = 'hunter2;\n", "hunter2")
    assert "line 3" in message
    message = malformed("bad2.php", "<?php\n$key = <<<EOT\nhunter2\n", "hunter2")
    assert "line 2" in message and "heredoc" in message
