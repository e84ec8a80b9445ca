"""The discovery pipeline: sources -> reader -> detectors -> filters -> findings.

``Scanner.scan_document`` is the whole pipeline for one file's text; ``Scanner.scan`` walks
sources and collects a ScanResult. Nothing here prints: reports are the report package's job.
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migrator.discover.baseline import EMPTY, Baseline
from migrator.discover.detectors import EntryDetector, Hit, TextDetector, entry_detectors, text_detectors
from migrator.discover.detectors.keyword import KEYWORD_HINT, name_value_pairs, wanted_entry
from migrator.discover.document import Document
from migrator.discover.filters import Filter, default_filters
from migrator.discover.filters.uuids import CREDENTIAL_KINDS
from migrator.discover.loader import load
from migrator.discover.models import Candidate, Confidence, Entry, Finding, ScanError, ScanResult, ScanStats
from migrator.discover.readers import Reader, ReaderError, reader_for
from migrator.discover.readers.line import entries_in_range, keyword_lines
from migrator.discover.walker import SourceFile, WalkOptions, walk
from migrator.fingerprint import Fingerprinter, hint

ProgressCallback = Callable[[int, int, str], None]
# Called with each reported finding and its value, for in-process matching that needs the value
# itself (importing another tool's baseline by its hashes). It must neither keep nor show the value.
ValueObserver = Callable[[Finding, str], None]


@dataclass
class ScanOptions:
    walk: WalkOptions = field(default_factory=WalkOptions)
    min_confidence: Confidence = Confidence.LOW
    baseline: Baseline = EMPTY  # findings it accepts are dropped (counted under "baseline")
    include_uuids: bool = True  # report bare UUIDs (low confidence) unless they name a non-secret thing
    value_observer: ValueObserver | None = None


@dataclass
class DocumentScan:
    """What scanning one document produced."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    candidates: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    data: bytes = b""  # the bytes the findings' spans refer to


class Scanner:
    def __init__(
        self,
        fingerprint: Fingerprinter,
        options: ScanOptions | None = None,
        text: Sequence[TextDetector] | None = None,
        entry: Sequence[EntryDetector] | None = None,
        filters: Sequence[Filter] | None = None,
    ) -> None:
        self.fingerprint = fingerprint
        self.options = options or ScanOptions()
        self.text_detectors = list(text if text is not None else text_detectors(self.options.include_uuids))
        self.entry_detectors = list(entry if entry is not None else entry_detectors())
        self.filters = list(filters if filters is not None else default_filters())

    # -- one document -----------------------------------------------------------------------
    def scan_document(self, doc: Document, *, entries: list[Entry] | None = None,
                      within: Sequence[tuple[int, int]] | None = None) -> DocumentScan:
        """The findings in ``doc``. ``entries``: every entry its reader yields, when the caller
        has read the whole document already (it is not read again). ``within``: only findings
        that overlap these character ranges are wanted; entries elsewhere are not judged."""
        result = DocumentScan(data=doc.data)
        hits: list[tuple[Hit, str]] = []
        for text_detector in self.text_detectors:
            hits.extend((hit, text_detector.name) for hit in text_detector.scan(doc))
        if within is not None:
            hits = [(hit, name) for hit, name in hits if _overlaps(hit.start, hit.end, within)]
        reader = reader_for(doc)
        if entries is not None:
            entries, reader_name, fast = list(entries), reader.name, False
        else:
            # With no text hit to place under a key path, a reader may read only the entries the
            # keyword detectors can use (the JSON and YAML scan paths).
            entries, reader_name, fast = _read_all(doc, reader, result.errors, wanted=None if hits else wanted_entry)
        entries.sort(key=lambda e: e.start)
        swept = _sweep(doc, entries, uncovered_lines=not (fast and reader.wanted_covers_text))
        if reader.code:
            swept = [entry for entry in swept if entry.quote]  # unquoted: a variable or an expression
        entries.extend(swept)
        if within is not None:
            entries = [entry for entry in entries if _overlaps(entry.start, entry.end, within)]
        entries.sort(key=lambda e: e.start)

        judged = entries + name_value_pairs(entries)
        for detector in self.entry_detectors:
            hits.extend((hit, detector.name) for hit in detector.scan(judged, doc))

        for candidate in _candidates(doc, _dedupe(hits), entries, reader.code):
            result.candidates += 1
            if candidate.confidence < self.options.min_confidence:
                result.dropped["min-confidence"] = result.dropped.get("min-confidence", 0) + 1
                continue
            reason = self._filtered(candidate, doc)
            if reason:
                result.dropped[reason] = result.dropped.get(reason, 0) + 1
                continue
            fingerprint = self.fingerprint(candidate.value)
            if self.options.baseline.accepts(fingerprint, doc.path, candidate.key_path):
                result.dropped["baseline"] = result.dropped.get("baseline", 0) + 1
                continue
            finding = Finding(
                path=doc.path,
                span=candidate.span,
                key_path=candidate.key_path,
                kind=candidate.kind,
                rule=candidate.rule,
                confidence=candidate.confidence,
                fingerprint=fingerprint,
                hint=hint(candidate.value),
                reader=reader_name,
            )
            result.findings.append(finding)
            if self.options.value_observer is not None:
                self.options.value_observer(finding, candidate.value)
        return result

    def _filtered(self, candidate: Candidate, doc: Document) -> str | None:
        for filt in self.filters:
            if filt.drops(candidate, doc):
                return filt.name
        return None

    # -- many files ---------------------------------------------------------------------------
    def scan(self, roots: Sequence[str | Path], progress: ProgressCallback | None = None) -> ScanResult:
        started = time.perf_counter()
        result = ScanResult()
        stats = result.stats
        sources: list[SourceFile] = []
        for item in walk(roots, self.options.walk):
            if isinstance(item, ScanError):
                result.errors.append(item)
                stats.files_skipped += 1
                stats.skipped_reasons["error"] = stats.skipped_reasons.get("error", 0) + 1
            else:
                sources.append(item)
        total = len(sources)
        for number, source in enumerate(sources, 1):
            if progress is not None:
                progress(number, total, source.display)
            self._scan_source(source, result)
        result.findings.sort(key=lambda f: (f.path, f.span.start, f.rule))
        stats.findings = len(result.findings)
        stats.seconds = time.perf_counter() - started
        return result

    def _scan_source(self, source: SourceFile, result: ScanResult) -> None:
        scanned = self.scan_file(source, result.stats, result.errors)
        if scanned is not None:
            result.findings.extend(scanned.findings)

    def scan_file(self, source: SourceFile, stats: ScanStats, errors: list[ScanError]) -> DocumentScan | None:
        """Load and scan one walked file, counting it in ``stats`` and adding its notes and errors
        to ``errors``; None when it was skipped (binary, unreadable)."""
        doc, problems = load(source, self.options.walk.max_file_size)
        errors.extend(problems)
        if doc is None:
            _skip(stats, "error" if problems else "binary")
            return None
        return self.scan_loaded(doc, stats, errors)

    def scan_loaded(self, doc: Document, stats: ScanStats, errors: list[ScanError],
                    shown: str | None = None) -> DocumentScan | None:
        """Scan a document already read (from disk or from git), counting it in ``stats``; a
        detector or reader bug becomes an error naming the file (``shown``, else its path),
        never its content, and None."""
        try:
            scanned = self.scan_document(doc)
        except Exception as exc:  # a detector or filter bug: report the file, never its content
            errors.append(ScanError(shown or doc.path, f"internal error while scanning ({type(exc).__name__}); "
                                                       "file not scanned, please report it"))
            _skip(stats, "error")
            return None
        stats.files_scanned += 1
        stats.bytes_scanned += len(doc.data)
        stats.candidates += scanned.candidates
        for reason, count in scanned.dropped.items():
            stats.dropped_by_filter[reason] = stats.dropped_by_filter.get(reason, 0) + count
        errors.extend(ScanError(shown, e.reason, e.fatal) if shown else e for e in scanned.errors)
        return scanned


def _skip(stats: ScanStats, reason: str) -> None:
    stats.files_skipped += 1
    stats.skipped_reasons[reason] = stats.skipped_reasons.get(reason, 0) + 1

def _overlaps(start: int, end: int, ranges: Sequence[tuple[int, int]]) -> bool:
    return any(start < stop and begin < end for begin, stop in ranges)


def _read_all(doc: Document, reader: Reader, errors: list[ScanError],
              wanted: Callable[[str, str], bool] | None = None) -> tuple[list[Entry], str, bool]:
    """The reader's entries (with ``wanted``, its scan path's when it has one), the name of what
    read them (``yaml``, or ``yaml+line`` when a parse error left the rest to the line reader,
    with a note), and whether the scan path was taken."""
    entries: list[Entry] = []
    try:
        if wanted is not None:
            fast = reader.read_wanted(doc, wanted)
            if fast is not None:
                return fast, reader.name, True
        for entry in reader.read(doc):
            entries.append(entry)
        return entries, reader.name, False
    except ReaderError as exc:
        reason = f"{exc}; scanned line by line"
    except RecursionError:
        reason = "nested too deeply to parse; scanned line by line"
    except Exception as exc:  # a reader bug must not stop the scan; its message may quote the file
        reason = f"{reader.name} reader failed ({type(exc).__name__}); scanned line by line"
    errors.append(ScanError(doc.path, reason, fatal=False))
    return _merge_line_entries(doc, entries), f"{reader.name}+line", False


def _merge_line_entries(doc: Document, parsed: list[Entry]) -> list[Entry]:
    """After a parse error: the entries parsed so far, then the line reader for the rest."""
    resume = parsed[-1].end if parsed else 0
    return parsed + list(entries_in_range(doc, resume, len(doc.text)))


def _sweep(doc: Document, entries: list[Entry], uncovered_lines: bool = True) -> list[Entry]:
    """Line-reader entries where a keyword occurs outside what the structured reader modelled:
    inside values that hold assignments of their own (``- DB_PASSWORD=x`` in a list, JSON inside
    a string), and (with ``uncovered_lines``) on lines where no entry starts (comments, scripts
    inside block values).

    ``entries`` must be sorted by start offset.
    """
    swept: list[Entry] = []
    for entry in entries:
        value = entry.value
        if ("=" in value or ":" in value) and KEYWORD_HINT.search(value.lower()):
            swept.extend(entries_in_range(doc, entry.start, entry.end, entry.key_path))
    if not uncovered_lines:
        return swept
    entry_starts = [e.start for e in entries]
    for begin, end in keyword_lines(doc):
        index = bisect_left(entry_starts, begin)
        if index < len(entry_starts) and entry_starts[index] < end:
            continue  # a structured entry starts on this line: the reader has modelled it
        # An assignment inside a block value (a script under ``run: |``) keeps the block's path.
        prefix = entries[index - 1].key_path if index and entries[index - 1].end >= end else ""
        swept.extend(entries_in_range(doc, begin, end, prefix))
    return swept


def _dedupe(hits: list[tuple[Hit, str]]) -> list[tuple[Hit, str]]:
    """One hit per place: where hits overlap, the narrower, more specific one wins."""
    if len(hits) < 2:
        return hits
    ordered = sorted(hits, key=lambda h: (h[0].start, -(h[0].end - h[0].start)))
    kept: list[tuple[Hit, str]] = []
    for hit, name in ordered:
        replaced = False
        for i, (other, other_name) in enumerate(kept):
            if hit.start < other.end and other.start < hit.end:
                # Prefer a text detector's hit (provider format, URL password) over a keyword hit
                # on the same value, except a bare UUID's over a credential key's; between equals
                # keep the higher confidence.
                if "uuid" in (name, other_name) and "keyword" in (name, other_name):
                    keyword = hit if name == "keyword" else other
                    if (name == "keyword") == (keyword.kind in CREDENTIAL_KINDS):
                        kept[i] = (hit, name)
                    replaced = True
                    break
                text_over_keyword = other_name == "keyword" and name != "keyword"
                same_family = (name == "keyword") == (other_name == "keyword")
                if text_over_keyword or (same_family and hit.confidence > other.confidence):
                    kept[i] = (hit, name)
                replaced = True
                break
        if not replaced:
            kept.append((hit, name))
    return kept


def _containing_entry(entries: list[Entry], starts: list[int], start: int, end: int) -> Entry | None:
    """The innermost entry whose value holds ``[start, end)`` (entries sorted by start)."""
    index = bisect_right(starts, start) - 1
    for candidate in range(index, max(index - 3, -1), -1):  # a swept line may sit inside a block
        entry = entries[candidate]
        if entry.start <= start and end <= entry.end:
            return entry
    return None


def _candidates(doc: Document, hits: list[tuple[Hit, str]], entries: list[Entry],
                in_code: bool) -> Iterable[Candidate]:
    starts = [e.start for e in entries]
    text = doc.text
    for hit, detector in hits:
        key, key_path, value = hit.key, hit.key_path, hit.value
        if not key_path:
            entry = _containing_entry(entries, starts, hit.start, hit.end)
            if entry is not None:
                key, key_path = entry.key, entry.key_path
                if value is None and entry.raw and (entry.start, entry.end) == (hit.start, hit.end):
                    value = entry.value
        if value is None:
            value = text[hit.start:hit.end]
        yield Candidate(
            rule=hit.rule,
            kind=hit.kind,
            value=value,
            span=doc.span(hit.start, hit.end),
            key_path=key_path,
            key=key,
            confidence=hit.confidence,
            detector=detector,
            in_code=in_code,
        )
