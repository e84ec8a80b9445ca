"""The JSON reader's scan path (C decoder + located members) must agree with its tokenizer."""

from __future__ import annotations

import json

from migrator.discover.detectors.keyword import wanted_entry
from migrator.discover.document import Document
from migrator.discover.readers.json import JsonReader


def doc_of(text: str) -> Document:
    return Document.from_text("fixture.json", text)


def test_fast_path_entries_are_the_tokenizers_entries_for_wanted_members(token):
    data = {
        "name": "shop",
        "database": {"host": "db01", "password": token(16), "options": {"sslmode": "require"}},
        "services": [{"name": "API_TOKEN", "value": token(24)}, {"id": 7, "client_secret": "é" + token(10)}],
        "body": f'{{"access_token": "{token(20)}"}}',
        "count": 3,
    }
    for text in (json.dumps(data), json.dumps(data, indent=2, ensure_ascii=False)):
        doc = doc_of(text)
        fast = JsonReader().read_wanted(doc, wanted_entry)
        assert fast is not None
        full = {(e.key_path, e.start, e.end, e.value) for e in JsonReader().read(doc)}
        located = {(e.key_path, e.start, e.end, e.value) for e in fast}
        assert located <= full
        assert {path for path, *_ in located} >= {"database.password", "services[0].value",
                                                   "services[1].client_secret", "body"}


def test_fast_path_declines_what_it_cannot_place_exactly(token):
    reader = JsonReader()
    duplicate = f'{{"db": {{"password": "{token(12)}", "password": "{token(12)}"}}}}'
    assert reader.read_wanted(doc_of(duplicate), wanted_entry) is None
    commented = '{\n  // local override\n  "password": "' + token(12) + '"\n}'
    assert reader.read_wanted(doc_of(commented), wanted_entry) is None
    listed = json.dumps({"tokens": [token(16), token(16)]})
    assert reader.read_wanted(doc_of(listed), wanted_entry) is None
    escaped_key = '{"pass\\u0077ord": "' + token(12) + '"}'
    assert reader.read_wanted(doc_of(escaped_key), wanted_entry) is None


def test_scan_results_are_the_same_whichever_path_reads_the_file(scan, token):
    secret = token(20)
    pretty = json.dumps({"db": {"password": secret}}, indent=2)
    with_comment = "// settings\n" + pretty  # not strict JSON: the tokenizer reads it
    a = scan({"a.json": pretty}).findings
    b = scan({"a.json": with_comment}).findings
    assert [(f.key_path, f.fingerprint, f.rule) for f in a] == [(f.key_path, f.fingerprint, f.rule) for f in b]
    assert [f.span.line for f in b] == [f.span.line + 1 for f in a]
