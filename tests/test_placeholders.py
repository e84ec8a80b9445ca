"""Every way a value can be a placeholder, and random values that must not look like one."""

from __future__ import annotations

import base64

import pytest

from migrator.discover.filters.placeholders import is_placeholder


@pytest.mark.parametrize(("value", "key"), [
    ("${DB_PASSWORD}", ""), ("$(cat /run/secret)", ""), ("%(password)s", ""), ("{{ vault_db_password }}", ""),
    ("{% raw %}x{% endraw %}", ""), ("<your-password>", ""), ("##DATABASE_PASSWORD##", ""), ("$DB_PASS", ""),
    ("%APPDATA_PASSWORD%", ""), ("@db.password@", ""), ("__TOKEN__", ""),            # template syntax
    ("********", ""), ("xxxxxxxx", ""), ("...", ""),                                    # masks
    ("changeme", ""), ("CHANGEME!", ""), ("password", ""),                              # placeholder words
    ("pass1", ""), ("test1234", ""),                                                    # word + digits
    ("rootpass", ""), ("adminadmin", ""),                                               # compounds
    ("12345abcde", ""), ("qwertyuiop", ""),                                             # keyboard sequences
    ("YOURAPIKEY", ""), ("yourStrong(!)Password", ""), ("mypass", ""),                  # your/my
    ("grafanatest", ""), ("spring-demo", ""),                                           # made-up markers
    ("your_api_key_here", ""), ("api-key-goes-here", ""),                               # framed words
    ("P@ssw0rd", ""), ("s3cret", ""), ("ch4ngeme", ""),                                 # leetspeak
    (base64.b64encode(b"mypass").decode(), ""), (base64.b64encode(b"admin:changeme").decode(), ""),  # base64
    ("stripe_secret_key", "STRIPE_SECRET_KEY"), ("access", "accessKey"),                # echoes of the key
    ("iam:CreateAccessKey", "CreateAccessKey"),
])
def test_placeholders_are_recognised(value, key):
    assert is_placeholder(value, key)


@pytest.mark.parametrize("value", ["Zq8TnB2vLx9Kw3Rp", "hunter2", "ufnlbbavawsdeecn", "Lablab#123x9",
                                   base64.b64encode(b"deploy:Zq8TnB2vLx9Kw3").decode()])
def test_real_looking_values_are_not_placeholders(value):
    assert not is_placeholder(value, "db_password")
