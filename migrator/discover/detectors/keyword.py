"""Keyword assignments: a key that names a credential (``db_password``, ``clientSecret``,
``API_TOKEN``) holding a literal value. The key says what it is; the value must look the part.

Keys are split into words (snake, kebab, dot and camel case) so that ``passwordFile`` is a
path, ``tokenUrl`` an endpoint and ``secretName`` a reference, not secrets: the last word says
what a key holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from migrator.discover.detectors.base import EntryDetector, Hit
from migrator.discover.detectors.entropy import looks_random, shannon_entropy
from migrator.discover.document import Document
from migrator.discover.models import Confidence, Entry

_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])|[a-z0-9]+")

# Words (whole words after splitting) that name a credential, strongest first.
_PASSWORD_WORDS = {"password", "passwd", "passwort", "pwd", "pass", "passphrase", "pw", "passcode",
                   "pword", "pswd", "mdp", "contrasena", "senha", "parola", "wachtwoord", "haslo"}
_SECRET_WORDS = {"secret", "secrets"}
_TOKEN_WORDS = {"token", "tokens", "apitoken", "accesstoken", "authtoken", "bearer"}
# Tokens that carry no authority: pagination cursors, idempotency and change tokens
# (NextToken, ClientRequestToken, ChangeToken, LifecycleActionToken, input_token).
_BOOKKEEPING_TOKENS = {"next", "continuation", "pagination", "page", "paging", "cursor", "change", "request",
                       "idempotency", "sync", "lifecycle", "action", "resume", "input", "output", "marker",
                       "cancel", "cancellation", "continue", "start", "end", "last", "previous", "prev"}
_CREDENTIAL_WORDS = {"credential", "credentials", "creds", "cred"}
_KEY_QUALIFIERS = {"api", "access", "secret", "private", "signing", "sign", "encryption", "encrypt", "crypt",
                   "master", "app", "application", "auth", "client", "consumer", "license", "licence",
                   "account", "storage", "service", "sas", "shared", "hmac", "session", "subscription",
                   "jwt", "aes", "cipher", "decryption", "webhook", "dev", "developer", "admin", "root",
                   "server", "integration", "partner", "merchant", "instance", "ingest", "write", "read"}
_FUSED_KEYS = {"apikey", "apikeys", "pkey", "privkey", "accesskey", "secretkey", "privatekey", "authkey", "appkey",
               "clientkey", "masterkey", "signingkey", "encryptionkey", "licensekey", "accountkey"}
_AUTH_WORDS = {"auth", "authorization", "authkey", "authstring"}
# Concatenations written without separators (``dbpassword``, ``apikey``, ``clientsecret``).
_FUSED = re.compile(
    r"(?P<password>passw(?:or)?d|passphrase)|(?P<secret>secret)|(?P<token>token)"
    r"|(?P<api_key>(?:api|access|secret|private|signing|master|app|auth|client|consumer|license|account|"
    r"storage|encryption|hmac|sas)key)"
)
# A key whose last word is one of these describes the credential (where it is, how long it
# lives, what it is called), it does not hold it.
_DESCRIPTIVE = {
    "file", "files", "path", "paths", "dir", "directory", "folder", "name", "names", "id", "ids", "length",
    "len", "min", "max", "minimum", "maximum", "size", "count", "policy", "policies", "expiry", "expires",
    "expiration", "expire", "expired", "ttl", "timeout", "lifetime", "age", "url", "urls", "uri", "endpoint",
    "host", "hostname", "port", "type", "types", "field", "fields", "header", "headers", "env", "var", "vars",
    "variable", "enabled", "enable", "disable", "disabled", "required", "require", "label", "text", "message",
    "msg", "prompt", "placeholder", "hint", "regex", "regexp", "pattern", "mode", "tooltip", "title",
    "description", "desc", "format", "version", "ref", "reference", "algorithm", "algo", "alg", "rotation",
    "store", "provider", "method", "methods", "strategy", "location", "param", "parameter", "prefix",
    "suffix", "command", "cmd", "script", "source", "hash", "hashed", "digest", "help", "error", "errors",
    "invalid", "namespace", "key_id", "keyid", "arn", "kind", "class", "handler", "callback", "validator",
    "validation", "policy_arn", "scope", "scopes", "flow", "grant", "audience", "issuer", "template",
    "generator", "size_bytes", "bits", "rounds", "iterations", "cost", "complexity", "strength", "attempts",
    "retries", "ratelimit", "lockout", "history", "reuse", "changed", "updated", "created", "at", "date", "time",
    "timestamp", "seconds", "minutes", "hours", "days", "interval", "period", "duration", "delay", "status",
    "state", "success", "failure", "fail", "failed", "result", "response", "request", "input", "output",
    "button", "link", "page", "view", "form", "screen", "dialog", "modal", "icon", "css", "class_name",
    "selector", "query", "column", "table", "schema", "index", "lookup", "manager", "service_name", "user",
    "username", "login", "owner", "group", "role", "email", "mail", "sender", "recipient", "pair", "keypair",
    "vault", "secretsmanager", "ssm", "kms", "cache", "storage_class", "usage", "use", "used", "mount",
    "volume", "config", "configuration", "settings", "options", "opts", "flag", "flags", "list", "set",
    "sets", "map", "dict", "object", "obj", "spec", "specs", "module", "plugin", "plugins", "lib", "library",
    "package", "import", "export", "exporter", "reader", "writer", "parser", "encoder", "decoder",
    "serializer", "filter", "filters", "hook", "hooks", "event", "events", "topic", "queue", "channel",
    "stream", "bucket", "region", "zone", "cluster", "node", "pool", "level", "priority", "weight", "order",
    "position", "offset", "limit", "threshold", "quota", "rate", "ratio", "percent", "percentage", "sha",
    "md5", "checksum", "fingerprint", "thumbprint", "integrity", "signature", "salt", "nonce", "iv",
    "length_min", "update", "reset", "forgot", "generate", "generated", "strength_meter", "visible",
    "visibility", "show", "hide", "toggle", "confirm_label", "placeholder_text", "tab", "menu", "section",
    "category", "categories", "tag", "tags", "annotation", "annotations", "color", "colour", "style",
    "width", "height", "sample", "example", "examples", "demo", "doc", "docs", "documentation", "comment",
    "note", "notes", "todo", "pub", "public", "publishable", "cert", "certificate", "crt", "pem", "der",
    "keystore", "truststore", "jks", "p12", "pfx", "alias", "formatter", "lexer", "factory", "builder",
    "renderer", "variants", "management", "mgmt", "mechanism", "mechanisms", "exchange", "wrap", "wrapping",
    "pat", "re", "rx", "regexes", "chars", "characters", "charset", "alphabet", "sha2", "sha224", "sha384",
    "patterns", "counter", "kind_name", "styles",
}
# Words anywhere in a key that mean it is not a secret at all.
_NEVER = {"nopasswd", "public", "publishable", "pubkey", "publickey", "publickeytoken", "author", "authority",
          "authorize", "authorized", "authorizer", "authorizers", "authenticate", "authenticated",
          "authentication", "authenticator", "tokenizer", "tokenize", "tokenization", "keyboard",
          "keyword", "keywords", "keycloak", "keyframe", "keyframes", "keymap", "keychain", "monkey",
          "turkey", "hockey", "jockey", "whiskey", "donkey", "passenger", "passengers", "compass", "bypass",
          "passive", "passthrough", "surpass", "encompass", "trespass", "pwdlastset",
          "secretary", "secretion", "hotkey", "hotkeys", "primarykey", "foreignkey", "sortkey",
          "partitionkey", "shortcut", "underpass", "overpass", "passport", "passage"}


# A key whose first word is one of these labels or points at a credential: LABEL_PASSWORD,
# TITLE_FORGOT_PASSWORD and from_secret are user-interface strings and references.
_LEADING = {"label", "lbl", "title", "tooltip", "placeholder", "mandatory", "invalid", "error", "errors", "msg",
            "message", "hint", "help", "forgot", "show", "hide", "toggle", "btn", "button",
            "caption", "heading", "desc", "description", "prompt", "notify", "notification", "warning", "info",
            "success", "missing", "wrong", "incorrect", "from", "ref", "use", "uses", "get", "is", "has", "enable",
            "disable", "no", "require", "validate", "verify", "check", "generate", "rotate", "reset", "set",
            "update", "delete", "remove", "create", "list", "describe", "fetch", "load", "read", "write", "save",
            "store", "on", "when", "if", "num", "number", "min", "max", "default_length", "tab", "link", "page"}


@lru_cache(maxsize=65536)
def split_key(key: str) -> tuple[str, ...]:
    """``dbPasswordFile`` -> ('db', 'password', 'file'); ``API_TOKEN`` -> ('api', 'token')."""
    words: list[str] = []
    for part in re.split(r"[^A-Za-z0-9]+", key):
        if not part:
            continue
        if part.isupper() or part.islower() or part.isdigit():
            words.append(part.lower())
        else:
            words.extend(w.lower() for w in _CAMEL.findall(part))
    return tuple(words)


@lru_cache(maxsize=65536)
def classify_key(key: str) -> str | None:
    """What kind of credential a key names ('password', 'secret', 'token', 'api_key',
    'credential', 'auth', 'key'), or None when it names none or only describes one."""
    if key.count(" ") >= 2 or "::" in key:
        return None  # a sentence used as a key (translation catalogues), or a type name (AWS::KMS::Key)
    words = split_key(key)
    if not words or len(words) > 12:
        return None
    if any(word in _NEVER for word in words):
        return None
    if len(words) >= 2 and words[0] in _LEADING:
        return None
    last = words[-1]
    if last in _DESCRIPTIVE or (len(words) >= 2 and f"{words[-2]}_{last}" in _DESCRIPTIVE):
        return None
    kinds: list[str] = []
    for i, word in enumerate(words):
        if word in _PASSWORD_WORDS:
            kinds.append("password")
        elif word in _SECRET_WORDS:
            kinds.append("secret")
        elif word in _TOKEN_WORDS:
            if i == 0 or words[i - 1] not in _BOOKKEEPING_TOKENS:
                kinds.append("token")
        elif word in _CREDENTIAL_WORDS:
            kinds.append("credential")
        elif (word in ("key", "keys") and i > 0 and words[i - 1] in _KEY_QUALIFIERS) or word in _FUSED_KEYS:
            kinds.append("api_key")
        elif word in _AUTH_WORDS:
            kinds.append("auth")
        elif word in ("key", "keys"):
            kinds.append("key")
        else:
            fused = _FUSED.search(word)
            if fused and fused.lastgroup:
                kinds.append(fused.lastgroup)
    if not kinds:
        return None
    if kinds == ["key"] and len(words) >= 2 and last == "key" and key.isupper():
        kinds = ["api_key"]  # SERVICE_KEY=... in an environment is a service's key
    for kind in ("password", "secret", "token", "api_key", "credential", "auth", "key"):
        if kind in kinds:
            return kind
    return None


_STRONG = {"password", "secret", "token", "api_key", "credential"}
_LITERALS = {"true", "false", "yes", "no", "on", "off", "null", "none", "nil", "undefined", "~", "enabled",
             "disabled", "required", "optional"}


def judge_value(kind: str, value: str) -> Confidence | None:
    """Whether a value under a key of ``kind`` is shaped like a credential, and how sure."""
    value = value.strip()
    length = len(value)
    if length < 4 or length > 1024:
        return None
    if "\n" in value:
        return None  # scripts and documents in block scalars; keys in PEM form have their detector
    low = value.lower()
    if low in _LITERALS:
        return None
    if value.isdigit():  # PINs and numeric passwords exist; numeric ids under "key" are not secrets
        if (kind == "password" and length >= 6) or (kind in _STRONG and length >= 8):
            return Confidence.LOW
        return None
    random = looks_random(value)
    if kind == "password":
        return Confidence.HIGH if random else Confidence.MEDIUM
    if kind in _STRONG:
        if " " in value:
            return None
        if random:
            return Confidence.HIGH
        return Confidence.MEDIUM if length >= 8 else Confidence.LOW
    # 'auth' and a bare 'key' name many things (header names, cache keys, map keys): only a
    # generated-looking value with letters and digits qualifies.
    if " " in value or length < 12 or not random or shannon_entropy(value) < 3.0:
        return None
    digits = sum(c.isdigit() for c in value)
    if digits < 2 or not any(c.isalpha() for c in value) or ":" in value:
        return None  # "ec2:Attribute", "etcd_endpoints": names, not keys
    return Confidence.MEDIUM


_NAME_KEYS = {"name", "key", "parametername", "parameter_name", "header", "variable", "env", "id"}
_VALUE_KEYS = {"value", "val", "defaultvalue", "default_value", "parametervalue", "parameter_value", "secretvalue"}


# Lower-case fragments of every credential word: text without one cannot hold a keyword finding.
KEYWORD_HINT = re.compile(r"pass|pwd|secret|token|key|auth|cred")


def wanted_entry(key: str, value: str) -> bool:
    """Whether an entry can matter to keyword detection (for a reader's fast path): its key
    names a credential or is half of a name/value pair, or its value holds assignments of its
    own that mention one (``"body": "{\\"token\\": ...}"``)."""
    if _key_wanted(key):
        return True
    return ("=" in value or ":" in value) and KEYWORD_HINT.search(value.lower()) is not None


@lru_cache(maxsize=65536)
def _key_wanted(key: str) -> bool:
    low = key.lower()
    return classify_key(key) is not None or low in _NAME_KEYS or low in _VALUE_KEYS


def name_value_pairs(entries: list[Entry]) -> list[Entry]:
    """Entries re-keyed by their sibling name: ``- name: DB_PASSWORD`` / ``value: s3cret`` in a
    Kubernetes env list, ``{"name": "API_TOKEN", "value": "..."}`` in an ECS task definition or
    a Postman header list. The value entry is returned again under the name it carries."""
    names: dict[str, str] = {}
    for entry in entries:
        if entry.key.lower() in _NAME_KEYS:
            parent = entry.key_path.rpartition(".")[0]
            if parent:
                names[parent] = entry.value
    if not names:
        return []
    rekeyed = []
    for entry in entries:
        if entry.key.lower() in _VALUE_KEYS:
            name = names.get(entry.key_path.rpartition(".")[0])
            if name and len(name) <= 80:
                rekeyed.append(Entry(entry.key_path, name, entry.value, entry.start, entry.end, entry.quote, entry.raw))
    return rekeyed


class KeywordDetector(EntryDetector):
    name = "keyword"

    def scan(self, entries: list[Entry], doc: Document) -> Iterator[Hit]:
        # Keys repeat (thousands of "id" and "name" in an API fixture): classify each once.
        wanted = {key for key in {entry.key for entry in entries} if classify_key(key) is not None}
        if not wanted:
            return
        for entry in entries:
            if entry.key in wanted:
                hit = self.judge(entry, doc)
                if hit is not None:
                    yield hit

    def judge(self, entry: Entry, doc: Document) -> Hit | None:
        kind = classify_key(entry.key)
        if kind is None:
            return None
        confidence = judge_value(kind, entry.value)
        if confidence is None:
            return None
        return Hit(f"keyword-{kind.replace('_', '-')}", kind, entry.start, entry.end, confidence,
                   value=entry.value, key=entry.key, key_path=entry.key_path)
