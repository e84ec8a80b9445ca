"""Values whose shape says they are not a credential: paths, plain URLs, variable names,
identifiers, e-mail addresses, host names, versions, sizes and durations.

Only keyword candidates go through it: provider tokens and private keys have their own shape.
"""

from __future__ import annotations

import re

from migrator.discover.detectors.entropy import looks_random, wordlike
from migrator.discover.detectors.keyword import classify_key
from migrator.discover.document import Document
from migrator.discover.filters.base import Filter
from migrator.discover.models import Candidate

_PATH = re.compile(
    r"^(?:~?/|\./|\.\./|[A-Za-z]:[\\/]|\\\\|%[A-Z_]+%[\\/]|\$HOME/|file:|@[~./])"  # paths; @file references
    r"|^[\w\-.]+/[\w\-./]*\.(?:pem|key|crt|cer|der|p12|pfx|jks|keystore|json|txt|ya?ml|conf|cfg|ini|env|gpg|asc"
    r"|pub|token|secret|pass|pwd)$"
    r"|^[\w\-.]+\.(?:pem|key|crt|cer|der|p12|pfx|jks|keystore|gpg|asc|pub|kdbx|token|secret|conf|cfg|ini|ya?ml|json"
    r"|xml|toml|properties|txt|log|sh|py|env)$"
)
_URL = re.compile(r"^[a-z][a-z0-9+.\-]*://[^\s:@/]+(?::\d+)?(?:[/?#][^\s@]*)?$", re.IGNORECASE)
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_EMAIL = re.compile(r"^[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+$")
_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+(?:com|net|org|io|local|internal|lan|svc|cluster|"
                   r"dev|app|cloud|corp|example|test|localhost|[a-z]{2})(?::\d+)?$", re.IGNORECASE)
_DOTTED_IDENTIFIER = re.compile(r"^[A-Za-z_][\w\-]*(?:\.[A-Za-z_][\w\-]*){2,}$")
_VERSION = re.compile(r"^(?:[\^~<>=]{1,2}\s*)?v?\d+(?:\.(?:\d+|x|\*)){1,3}(?:[-+][\w.\-]*)?$")
_QUANTITY = re.compile(r"^\d+(?:\.\d+)?\s*(?:ms|s|sec|m|min|h|d|w|y|kb|mb|gb|tb|kib|mib|gib|k|%|px|em)$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+Z?|-[a-z]+)?$")  # 2020-04-01, 2020-04-01-preview
_IDENTIFIER_WORDS = re.compile(r"^[a-z]+(?:[_\-][a-z]+)+$|^[a-z]+(?:[A-Z][a-z]+)+$|^[A-Z][a-z]+(?:[A-Z][a-z]+)+$")
_CALL = re.compile(r"^[\w.]+\(.*\)?$|^\w+::\w+|^[\w.]+\[[\w'\"]+\]|^(?:self|this|cls|super)\.\w")
_FILE_PATH = re.compile(r"^[\w\-.]+(?:/[\w\-.]+)+\.[A-Za-z0-9]{1,5}$")  # bucket/dir/image.raw
_QUOTED_STRING = re.compile(r'"([^"\\]{8,})\\?"')
_DOCUMENT = re.compile(r"^\s*(?:\{.*\}|\[.*\])\s*$", re.DOTALL)  # a JSON object or list as a value
_SLASHED = re.compile(r"^[a-z0-9_.\-]+(?:/[a-z0-9_.\-]+){2,}/?$")  # states/route53/state1: a key or path
_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")  # conf.access_token, Name.Builtin
_SELECTOR = re.compile(r"^\$?\.[\w\-\"\\.]*\[[\w\-\"\\.\[\]*]*$|^\$\.[\w.\-\[\]*]+$")  # jq / JSONPath: .user[0].role
_REGEX = re.compile(r"\(\?[:=!<]|\[\^|\[[a-zA-Z0-9]-[a-zA-Z0-9]|\\[dwsbDWS]|\{\d+,\d*\}|\.\*|\.\+|\][+*?]|\$$")
# Letters with separators and at most two digits in a row (tier3_alloc_rate, ipv4PrefixLength);
# a single character class, so no input can make the match backtrack.
_WORDISH = re.compile(r"[#@:]?[A-Za-z][A-Za-z0-9\-_. :/]*")
_DIGIT_RUN = re.compile(r"[0-9]{3}")
_HUMPS = re.compile(r"[-_. :/]+|(?<=[a-z0-9])(?=[A-Z])")
_HEX_NUMBER = re.compile(r"^0x[0-9a-fA-F]{1,16}$")
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_TYPE_NAMES = frozenset({"str", "string", "int", "integer", "bool", "boolean", "bytes", "float", "double", "number",
                         "object", "dict", "list", "array", "any", "none", "optional", "secretstr", "char", "text",
                         "uuid", "long", "short", "varchar", "password", "secret", "credentials"})


def shape_reason(value: str) -> str | None:
    """Why ``value`` is not a credential by its shape, or None."""
    stripped = value.strip()
    if _PATH.search(stripped):
        return "path"
    if _URL.match(stripped):
        return "url"
    if _SLASHED.match(stripped) or _FILE_PATH.match(stripped):
        return "path"
    if _DOCUMENT.match(stripped) and not any(looks_random(s) for s in _QUOTED_STRING.findall(stripped)):
        # A JSON document with nothing generated in it ({"type": "service_account"}); one that
        # holds a token is a credential bundle and stays a finding.
        return "document"
    if _ENV_NAME.match(stripped) and sum(c.isdigit() for c in stripped) <= 2:
        return "variable-name"
    if _EMAIL.match(stripped):
        return "email"
    if _HOST.match(stripped) and not looks_random(stripped.split(".")[0]):
        return "host"
    if _VERSION.match(stripped) or _QUANTITY.match(stripped) or _DATE.match(stripped):
        return "version-or-quantity"
    if _DOTTED_IDENTIFIER.match(stripped) and not looks_random(stripped):
        return "identifier"
    if stripped.lower().split("[", 1)[0] in _TYPE_NAMES:
        return "type-name"  # password: str, token: Optional[str]
    if _SELECTOR.match(stripped):
        return "selector"
    if _CALL.match(stripped) or (_ATTRIBUTE.match(stripped) and wordlike(stripped)):
        return "code"
    if _COLOR.match(stripped):
        return "color"
    if _HEX_NUMBER.match(stripped):
        return "number"
    if len(_REGEX.findall(stripped)) >= 2 or (stripped.startswith(("^", "(")) and _REGEX.search(stripped)):
        return "regex"
    if _IDENTIFIER_WORDS.match(stripped) and classify_key(stripped) is not None:
        return "names-a-secret"  # from_secret: dockerhub_password
    return None


class ValueShape(Filter):
    name = "value-shape"

    def drops(self, candidate: Candidate, doc: Document) -> bool:
        if candidate.detector != "keyword":
            return False
        if shape_reason(candidate.value) is not None:
            return True
        value = candidate.value.strip()
        if _WORDISH.fullmatch(value) is None or _DIGIT_RUN.search(value) or not wordlike(value):
            return False
        # In source code a bare word ("keyword", "#pop", "with") is an identifier or an enum; in
        # any file, words joined into an identifier ("docker_username", "ec2:Attribute") name
        # something rather than protect it, and so does a single word under a token, key or
        # secret name ("input_token": "Marker"). A single word stays a candidate only as a
        # password, where people do type words.
        if candidate.in_code or len(_HUMPS.split(value)) >= 2:
            return True
        return candidate.kind != "password"
