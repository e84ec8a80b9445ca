from __future__ import annotations

from migrator.discover.readers.xml import XmlReader


def test_element_text_and_attributes(read):
    parsed = read(
        "settings.xml",
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!-- конфигурация é -->\n"
        "<settings>\n"
        "  <servers>\n"
        "    <server>\n"
        "      <id>central</id>\n"
        "      <username>пользователь</username><password>s3cr&amp;t-é</password>\n"
        "    </server>\n"
        "  </servers>\n"
        '  <datasource url="jdbc:x" password="attr-é-pw"/>\n'
        "  <empty></empty>\n"
        "</settings>\n",
    )
    assert isinstance(parsed.reader, XmlReader)
    parsed.check("settings.servers.server.id", "central", key="id")
    parsed.check("settings.servers.server.username", "пользователь")
    entry = parsed.check("settings.servers.server.password", "s3cr&t-é", key="password", raw=True)
    assert parsed.doc.text[entry.start : entry.end] == "s3cr&amp;t-é"
    parsed.check("settings.datasource.password", "attr-é-pw", key="password", quote='"')
    parsed.check("settings.datasource.url", "jdbc:x")
    assert "settings.empty" not in parsed.paths
    assert "settings.servers" not in parsed.paths  # only leaves carry text


def test_dotnet_add_key_value_and_connection_strings(read):
    parsed = read(
        "web.config",
        "<?xml version=\"1.0\"?>\n<configuration>\n  <appSettings>\n"
        '    <add key="DbPassword" value="s3cret-ü"/>\n'
        "    <add key='ApiKey' value='k&#233;y'/>\n"
        "  </appSettings>\n  <connectionStrings>\n"
        '    <add name="Main" connectionString="Server=x;Password=pä;" providerName="System.Data.SqlClient" />\n'
        "  </connectionStrings>\n</configuration>\n",
    )
    parsed.check("configuration.appSettings.DbPassword", "s3cret-ü", key="DbPassword")
    parsed.check("configuration.appSettings.ApiKey", "kéy", key="ApiKey", quote="'", raw=True)
    parsed.check("configuration.connectionStrings.Main", "Server=x;Password=pä;", key="Main")
    parsed.check("configuration.connectionStrings.Main.providerName", "System.Data.SqlClient")
    assert not any(p.endswith(".key") or p.endswith(".name") for p in parsed.paths)


def test_name_value_idioms_and_cdata(read):
    parsed = read(
        "core-site.xml",
        "<configuration xmlns:x=\"urn:x\">\n"
        "  <property>\n    <name>fs.s3a.secret.key</name>\n    <value>é-hadoop-secret</value>\n  </property>\n"
        '  <property name="hibernate.connection.password">hib-pw</property>\n'
        "  <x:token><![CDATA[ a<b&c ]]></x:token>\n"
        '  <setting name="ServicePassword" serializeAs="String">\n    <value>dotnet-é</value>\n  </setting>\n'
        "</configuration>\n",
    )
    parsed.check("configuration.setting.ServicePassword", "dotnet-é", key="ServicePassword")
    parsed.check("configuration.property.fs.s3a.secret.key", "é-hadoop-secret", key="fs.s3a.secret.key")
    parsed.check("configuration.hibernate.connection.password", "hib-pw", key="hibernate.connection.password")
    parsed.check("configuration.token", "a<b&c", raw=False)
    assert not any("xmlns" in p for p in parsed.paths)


def test_multiline_text(read):
    parsed = read("key.xml", "<k>\n  <pem>-----BEGIN KEY-----\nabc\n-----END KEY-----</pem>\n</k>\n")
    entry = parsed.check("k.pem", "-----BEGIN KEY-----\nabc\n-----END KEY-----")
    assert parsed.doc.span(entry.start, entry.end).end_line == 4


def test_malformed_xml(malformed):
    message = malformed("pom.xml", "<project>\n  <password>hunter2</passwd>\n</project>\n", "hunter2")
    assert "line 2" in message
    assert "mismatched tag" in message


def test_config_file_that_is_not_xml_is_read_line_by_line(read):
    parsed = read("app.config", "# é\ndb-uri = \"postgres://db\"\njwt-secret = \"imvzcrnmdczjyrjl\"\n")
    parsed.check("jwt-secret", "imvzcrnmdczjyrjl", quote='"')
    parsed.check("db-uri", "postgres://db")
