"""Placeholders: template variables and the words people write where a secret will go later."""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter

from migrator.discover.detectors.keyword import split_key
from migrator.discover.document import Document
from migrator.discover.filters.base import Filter
from migrator.discover.models import Candidate

# Template and substitution syntax of the tools config files pass through.
_TEMPLATE = re.compile(
    r"""\$\{[^}]*\}?|\$\([^)]*\)?|\$\{\{|%\([\w.\-]+\)[sdr]|\{\{.*?\}\}|\{%.*?%\}|\{\{|\}\}
    |^\$[A-Za-z_][A-Za-z0-9_]*$|^%[A-Za-z_][A-Za-z0-9_]*%$|\#\{[^}]*\}|^@[\w.\-]+@$|^__[\w.\-]+__$
    |^<[^<>]{1,80}>$|<%=?.*?%>|^\[\[.*\]\]$|^\{[A-Za-z_][\w.\-]*\}$|^:[a-z_]+$
    |^\#\#[\w.\-]+\#\#$|^@@[\w.\-]+@@$|^%%[\w.\-]+%%$""",
    re.VERBOSE,
)
# Words that stand for a value to be filled in (matched on the whole value, case-insensitive,
# after stripping punctuation).
_WORDS = {
    "changeme", "changeit", "change_me", "change-me", "changethis", "changeme123", "replaceme", "replace_me",
    "replace-me", "replace", "fillme", "fill_me", "fixme", "todo", "tbd", "tbc", "xxx", "placeholder",
    "example", "sample", "dummy", "fake", "mock", "test", "testing", "tests", "foo", "bar", "baz", "foobar",
    "qux", "secret", "secrets", "password", "passwort", "passwd", "pass", "pwd", "token", "apikey", "api_key",
    "key", "mykey", "mysecret", "mypassword", "mytoken", "yourpassword", "yoursecret", "yourtoken",
    "default", "none", "null", "nil", "empty", "blank", "undefined", "unset", "notset", "not_set",
    "redacted", "hidden", "masked", "removed", "omitted", "secret_key", "secretkey", "access_key",
    "accesskey", "client_secret", "clientsecret", "auth_token", "authtoken", "access_token", "accesstoken",
    "root", "admin", "administrator", "guest", "user", "username", "login", "demo", "postgres", "mysql",
    "oracle", "sa", "qwerty", "letmein", "welcome", "abc123", "abcdef", "abcd", "1234", "12345", "123456",
    "1234567", "12345678", "123456789", "1234567890", "password1", "password123", "pass123", "admin123",
    "root123", "test123", "secret123", "string", "str", "value", "val", "text", "insert", "enter",
    "private", "public", "sensitive", "confidential", "invalid", "wrong", "bad", "incorrect", "correct",
    "valid", "true", "false", "any", "anything", "something", "whatever", "random", "generated", "auto",
    "env", "environment", "required", "optional", "unknown", "na", "n/a", "nope", "off", "on", "disabled",
    "bearer", "basic", "your", "my", "here", "the", "token_here", "key_here", "secret_here", "password_here",
}
_PREFIXES = ("your", "my", "enter", "insert", "put", "add", "set", "replace", "fill", "paste", "some", "the",
             "a", "an", "example", "sample", "dummy", "fake", "test", "default", "generate", "random", "new",
             "change", "secret", "super", "xxx", "todo")
_SUFFIXES = ("here", "goes_here", "placeholder", "example", "sample", "dummy", "fake", "changeme", "xxx",
             "todo", "tbd", "value")
# Words that mark a made-up value wherever they appear in an all-lower-case value
# ("grafanatest", "spring-boot-demo", "testsecret").
_MADE_UP = re.compile(r"test|demo|example|sample|dummy|fake|changeme|mock|placeholder|secret|passw|foobar")
_TRAILING_DIGITS = re.compile(r"[\W_]*\d{1,4}$")
_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
_MASK = re.compile(r"^(.)\1{3,}$|\*{3,}|x{4,}|X{4,}|#{4,}|\.{3,}|…|•{3,}|_{4,}|-{6,}|0{8,}")
_SEPARATORS = re.compile(r"[\s_\-.]+")


def _decoded_base64(value: str) -> str | None:
    """Kubernetes Secret data and HTTP Basic credentials are base64: judge what they encode."""
    if len(value) > 64 or len(value) % 4 or not _BASE64.match(value):
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded if decoded.isprintable() else None


# Punctuation around a word in prose or markup: "s3cret,", "changeme``".
_TRIM = "!.?*#-_,;:`'\"()[]"
# Leetspeak spellings of placeholder words: s3cret, P@ssw0rd, ch4ngeme.
_LEET = str.maketrans("430@$5170!", "aeoassitoi")


def is_placeholder(value: str, key: str = "") -> bool:
    stripped = value.strip().strip("\"'`")
    if not stripped.isalpha() and stripped.lower().translate(_LEET).strip(_TRIM) in _WORDS:
        return True
    decoded = _decoded_base64(stripped)
    if decoded is not None and decoded != stripped and _is_placeholder(decoded.split(":")[-1], key):
        return True
    return _is_placeholder(stripped, key)


def _is_placeholder(stripped: str, key: str) -> bool:
    if not stripped:
        return True
    if _TEMPLATE.search(stripped):
        return True
    if _MASK.search(stripped):
        return True
    if len(stripped) >= 8 and Counter(stripped).most_common(1)[0][1] >= 0.6 * len(stripped):
        return True  # mostly one character: "AAAA%2FAAA%3DAAAAAAAA", "aaaaaaab"
    low = stripped.lower()
    if low in _WORDS or low.strip(_TRIM) in _WORDS:
        return True
    if _TRAILING_DIGITS.sub("", low) in _WORDS:  # pass1, key1, test1234
        return True
    if _is_compound(low) or _is_sequence(low):  # rootpass, adminsecret, 12345abcde
        return True
    if low.startswith(("your", "enter", "insert")) and len(low) <= 40:
        return True  # YOURAPIKEY, yourStrong(!)Password
    if low.startswith("my") and low.replace("_", "").replace("-", "").isalpha():
        return True  # mypass
    if low == stripped and len(stripped) <= 24 and _MADE_UP.search(low):
        return True
    words = [w for w in _SEPARATORS.split(low) if w]
    if not words:
        return True
    joined = "_".join(words)
    if joined in _WORDS or "".join(words) in _WORDS:
        return True
    # "your_api_key", "api_key_here", "some-secret-value", but not random tokens with dashes
    framed = words[0] in _PREFIXES or words[-1] in _SUFFIXES or joined.endswith("_goes_here")
    if len(words) >= 2 and framed and all(w.isalpha() for w in words):
        return True
    if key:
        key_words = split_key(key)
        value_words = split_key(stripped)
        if value_words and set(value_words) <= set(key_words) | _WORDS:
            return True  # PASSWORD=password, STRIPE_SECRET_KEY=stripe_secret_key, accessKey: access
        if len(key) >= 6 and key.lower() in low:
            return True  # "CreateAccessKey": "iam:CreateAccessKey" names an action, not a key
    return False


def _is_compound(low: str) -> bool:
    """The value is two or three placeholder words run together: rootpass, adminadmin."""
    if not low.isalpha() or len(low) > 24:
        return False
    reachable = {0: 0}  # end offset -> fewest words to get there
    for start in range(len(low)):
        if start not in reachable or reachable[start] >= 3:
            continue
        for end in range(start + 2, len(low) + 1):
            if low[start:end] in _WORDS and reachable.get(end, 9) > reachable[start] + 1:
                reachable[end] = reachable[start] + 1
    return reachable.get(len(low), 9) <= 3


def _is_sequence(low: str) -> bool:
    """Runs of consecutive characters: 123456, abcdef, 12345abcde, qwerty."""
    runs = re.findall(r"\d+|[a-z]+", low)
    if not runs or sum(map(len, runs)) < len(low) - 2 or len(low) < 6:
        return False
    return all(
        len(run) >= 3 and (run in "01234567890" or run in "abcdefghijklmnopqrstuvwxyz" or run in "qwertyuiop")
        for run in runs
    )


class Placeholder(Filter):
    name = "placeholder"

    def drops(self, candidate: Candidate, doc: Document) -> bool:
        return is_placeholder(candidate.value, candidate.key)
