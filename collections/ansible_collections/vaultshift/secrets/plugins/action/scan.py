# Copyright: vaultshift developers
# Apache License 2.0 (see LICENSE)
"""The controller side of ``vaultshift.secrets.scan`` (documented in ``plugins/modules/scan.py``).

The module on the host lists the trees; this plugin applies the engine's walk decisions to that
listing (the walker's own ignore-file and exclude code, its reasons), has the module read the
files it keeps, and runs the engine's Scanner on their bytes with the scanner, baseline and
fingerprint key ``vaultshift scan`` builds from the same options (``migrator.cli.common``).
The walker's decisions are its own private helpers (``_ignored``, ``_compile``, its reasons),
imported rather than copied; tests/test_ansible_scan.py checks that a listing gives exactly what
the engine's walk and scan give on the same tree.

The module's raw results hold file contents: they are asked for with ``no_log``, never shown,
logged or returned, and dropped as soon as they are scanned. The task's result holds findings
(fingerprints and redacted hints), one-line errors and notes, and the scan's counts.
"""

from __future__ import annotations

import argparse
import base64
import errno
import os
import posixpath
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.vaultshift.secrets.plugins.modules.scan import ARGUMENT_SPEC

if TYPE_CHECKING:
    from migrator.discover.models import Finding, ScanError, ScanStats
    from migrator.discover.scanner import DocumentScan, Scanner
    from migrator.discover.walker import WalkOptions
    from migrator.plan.digest import FileDigester

MODULE = "vaultshift.secrets.scan"
# The file contents one module call returns at most (base64 in JSON: about 4/3 of it in memory).
BATCH_BYTES = 32 * 1024 * 1024
_ENGINE_MISSING = (
    "vaultshift.secrets.scan needs the vaultshift engine on the controller: install the Python "
    "package vaultshift into the Python that runs ansible-playbook"
)

Listing = Mapping[str, Any]  # one entry of the module's listing or of its reads


# -- the walk's decisions, on the host's listing ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Wanted:
    """A file to read: its host path and listed size."""

    path: str
    size: int


@dataclass(slots=True)
class Selection:
    wanted: list[Wanted] = field(default_factory=list)
    problems: list[ScanError] = field(default_factory=list)  # what the walk names instead of scanning


def _os_error(item: Listing) -> OSError:
    """The host's error as an OSError of this machine's errno (the module sends errno names)."""
    code = getattr(errno, str(item.get("errno") or ""), None)
    if isinstance(code, int):
        return OSError(code, os.strerror(code))  # PermissionError etc., as the walker would see
    return OSError(None, str(item.get("strerror") or "i/o error"))


def decide(display: str, item: Listing, selection: Selection) -> None:
    """What the walker does with one entry it does not ignore (``_classify`` and friends)."""
    from migrator.discover.models import ScanError
    from migrator.discover.walker import _OUTSIDE, _symlink_reason, not_regular_reason, os_error_reason

    kind = item.get("type")
    if item.get("errno") is not None:
        exc = _os_error(item)
        if kind == "link":  # broken, or a loop: a note, as in the walker
            selection.problems.append(ScanError(display, _symlink_reason(exc), fatal=False))
        else:
            selection.problems.append(ScanError(display, os_error_reason(exc)))
    elif kind == "file":
        selection.wanted.append(Wanted(display, int(item["size"])))
    elif kind == "special":
        selection.problems.append(ScanError(display, not_regular_reason(int(item["st_mode"])), fatal=False))
    elif kind == "link":
        if item.get("outside"):
            selection.problems.append(ScanError(display, _OUTSIDE, fatal=False))
        # A symlink to a directory inside its tree: the directory is walked under its own name.
    else:
        raise ValueError(f"unexpected entry type {kind!r} in the host's listing")


def _ignore_lines(data: bytes) -> list[str]:
    """An ignore file's lines, decoded as the walker decodes them."""
    from migrator.discover.walker import _BOM

    text = data.decode("utf-8", errors="surrogateescape")
    return text[1:].splitlines() if text.startswith(_BOM) else text.splitlines()


def _select_tree(top: str, entries: Sequence[Listing], options: WalkOptions, selection: Selection) -> None:
    """The walker's per-path decisions for the entries of one directory tree: ``.git`` is never
    walked, ``exclude`` patterns first, then the deepest ignore file with a matching pattern;
    nothing below an ignored directory is scanned."""
    from migrator.discover.walker import ALWAYS_SKIPPED, Rules, _compile, _ignored, _valid_lines

    exclude = _compile(tuple(options.exclude)) if options.exclude else None
    specs: dict[str, Any] = {}
    if options.use_ignore_files:
        found: dict[str, dict[str, str]] = {}
        for item in entries:
            directory, name = posixpath.split(str(item["path"]))
            if item.get("type") == "file" and "content" in item and name in options.ignore_file_names:
                found.setdefault(directory, {})[name] = item["content"]
        for directory, files in found.items():
            lines: list[str] = []
            for name in options.ignore_file_names:  # in the walker's order
                if name in files:
                    lines.extend(_ignore_lines(base64.b64decode(files[name])))
            spec = _compile(_valid_lines(tuple(lines))) if lines else None
            if spec is not None:
                specs[directory] = spec

    rules: dict[str, Rules] = {"": ((specs[""], ""),) if "" in specs else ()}
    ignored_dirs: dict[str, bool] = {"": False}

    def rules_of(directory: str) -> Rules:
        """The rules in force for a directory's entries: its ancestors' ignore files and its own."""
        chain = []
        while directory not in rules:
            chain.append(directory)
            directory = posixpath.dirname(directory)
        inherited = rules[directory]
        for name in reversed(chain):
            spec = specs.get(name)
            if spec is not None:
                inherited = (*inherited, (spec, name))
            rules[name] = inherited
        return inherited

    def dir_ignored(directory: str) -> bool:
        chain = []
        while directory not in ignored_dirs:
            chain.append(directory)
            directory = posixpath.dirname(directory)
        verdict = ignored_dirs[directory]
        for name in reversed(chain):
            verdict = verdict or _ignored(name, True, rules_of(posixpath.dirname(name)), exclude)
            ignored_dirs[name] = verdict
        return verdict

    for item in entries:
        rel = str(item["path"])
        if any(part in ALWAYS_SKIPPED for part in rel.split("/")):
            continue
        parent = posixpath.dirname(rel)
        if parent and dir_ignored(parent):
            continue  # nothing below an ignored directory can be re-included
        is_dir = item.get("type") == "dir" or (item.get("type") == "link" and bool(item.get("dir")))
        if _ignored(rel, is_dir, rules_of(parent), exclude):
            continue
        decide(posixpath.join(top, rel), item, selection)


def select(trees: Sequence[Listing], options: WalkOptions) -> Selection:
    """The files to read and the problems to report, from the module's listing of each path: the
    decisions ``migrator.discover.walker.walk`` makes on a local tree. A path named in the task
    is always scanned, whatever the ignore files say, as a file named to ``vaultshift scan``."""
    selection = Selection()
    for tree in trees:
        if tree.get("type") == "dir" and "entries" in tree:
            _select_tree(str(tree["path"]), tree["entries"], options, selection)
        else:
            decide(str(tree["path"]), tree, selection)
    return selection


def batches(wanted: Sequence[Wanted], max_file_size: int, sniff: int) -> Iterator[list[str]]:
    """Host paths in groups whose contents add up to about BATCH_BYTES (one file at least)."""
    batch: list[str] = []
    size = 0
    for item in wanted:
        cost = item.size if item.size <= max_file_size else sniff
        if batch and size + cost > BATCH_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(item.path)
        size += cost
    if batch:
        yield batch


# -- scanning the bytes -----------------------------------------------------------------------


def skip(stats: ScanStats, reason: str) -> None:
    stats.files_skipped += 1
    stats.skipped_reasons[reason] = stats.skipped_reasons.get(reason, 0) + 1


def scan_read(scanner: Scanner, item: Listing, stats: ScanStats, errors: list[ScanError]) -> DocumentScan | None:
    """Scan one file the module read, as the engine's loader and scanner would scan it on disk:
    binary files skipped, a text file over the cap named in ``errors``, invalid UTF-8 scanned as
    Latin-1 with a note. None when it was not scanned."""
    from migrator.discover.document import Document
    from migrator.discover.loader import is_binary
    from migrator.discover.models import ScanError
    from migrator.discover.walker import too_large_reason

    path = str(item["path"])
    if item.get("type") != "file":  # it changed since the listing: no longer a regular file, ...
        read = Selection()
        decide(path, item, read)
        for problem in read.problems:
            errors.append(problem)
            skip(stats, "error")
        return None
    data = base64.b64decode(item["data"])
    max_file_size = scanner.options.walk.max_file_size
    if item.get("over") or len(data) > max_file_size:
        if item.get("over") and is_binary(data):
            skip(stats, "binary")  # the cap is for text: a large binary file is not content left unscanned
        else:
            errors.append(ScanError(path, too_large_reason(max_file_size)))
            skip(stats, "error")
        return None
    if is_binary(data):
        skip(stats, "binary")
        return None
    doc, warning = Document.from_bytes(path, data)
    if warning:
        errors.append(ScanError(path, warning, fatal=False))
    return scanner.scan_loaded(doc, stats, errors)


def finding_dict(host: str, finding: Finding, file_digest: str) -> dict[str, object]:
    """A finding as ``vaultshift scan --format json`` has it, with its host and the keyed digest of
    the file its spans refer to (what ``vaultshift.secrets.plan`` needs): never a value."""
    return {"host": host, **finding.to_dict(), "file_digest": file_digest}


@dataclass(frozen=True, slots=True)
class Engine:
    scanner: Scanner
    digester: FileDigester  # under the same key as the scanner's fingerprints


def make_engine(args: Mapping[str, Any], baseline: str | None) -> Engine:
    """The scanner ``vaultshift scan`` builds from the same options (the CLI's own code: exclude
    validation, the fingerprint key from the key file, VAULTSHIFT_FINGERPRINT_KEY or the user's
    key, read once, and the baseline checked against that key), and the file digester
    ``vaultshift plan`` uses under the same key."""
    from migrator.cli.common import load_baseline, make_keyed
    from migrator.cli.common import make_scanner as cli_scanner

    options = argparse.Namespace(
        exclude=list(args["exclude"]),
        max_file_size=int(args["max_file_size"]),
        no_ignore_files=not args["ignore_files"],
        min_confidence=args["min_confidence"],
        uuids=args["uuids"],
        fingerprint_key_file=args["fingerprint_key_file"],
    )
    fingerprinter, digester = make_keyed(options)
    accepted = load_baseline(options, baseline) if baseline else None
    return Engine(cli_scanner(options, accepted, fingerprinter), digester)


# -- one host's scan ---------------------------------------------------------------------------


class ListingError(ValueError):
    """The module's answer is not what this plugin asked for (another version of the collection)."""


Call = Callable[[dict[str, Any]], Mapping[str, Any]]  # runs the module with these arguments


def fleet_scan(engine: Engine, host: str, paths: Sequence[str], root: str, call: Call) -> dict[str, Any]:
    """Scan ``paths`` on one host: ``call`` lists them, the walk's decisions pick the files, ``call``
    reads those in batches, and the scanner scans their bytes. Returns the task's result: the
    host, its root and the fingerprint key's id, findings (each with its file's keyed digest),
    one-line errors and notes (sorted by path), the scan's counts."""
    from migrator.discover.loader import BINARY_SNIFF
    from migrator.discover.models import ScanStats
    from migrator.discover.walker import ALWAYS_SKIPPED

    started = time.perf_counter()
    scanner = engine.scanner
    options = scanner.options.walk
    common = {"paths": list(paths), "root": root, "max_file_size": options.max_file_size}
    listing = call({
        **common,
        "_skip_names": sorted(ALWAYS_SKIPPED),
        "_inline_names": list(options.ignore_file_names) if options.use_ignore_files else [],
        "_inline_limit": _ignore_file_limit(),
    })
    try:
        selection = select(listing["trees"], options)
    except (KeyError, TypeError, ValueError) as exc:
        raise ListingError(f"the scan module returned an unexpected listing ({type(exc).__name__})") from None
    del listing

    stats = ScanStats()
    errors = list(selection.problems)
    for _error in errors:
        skip(stats, "error")  # as Scanner.scan counts what the walk could not hand over
    wanted: dict[str, Wanted] = {}  # a file under two of the paths is scanned once
    for item in selection.wanted:
        wanted.setdefault(item.path, item)
    findings: list[tuple[Finding, str]] = []
    for batch in batches(list(wanted.values()), options.max_file_size, BINARY_SNIFF):
        read = call({**common, "_read": batch, "_sniff": BINARY_SNIFF})
        try:
            for item in read["files"]:
                scanned = scan_read(scanner, item, stats, errors)
                if scanned is not None and scanned.findings:
                    digest = engine.digester(scanned.data)  # the very bytes the spans refer to
                    findings.extend((finding, digest) for finding in scanned.findings)
        except (KeyError, TypeError, ValueError) as exc:
            raise ListingError(f"the scan module returned unexpected contents ({type(exc).__name__})") from None
        del read  # the contents: never kept beyond their scan
    findings.sort(key=lambda found: (found[0].path, found[0].span.start, found[0].rule))
    errors.sort(key=lambda e: e.path)
    stats.findings = len(findings)
    stats.seconds = time.perf_counter() - started
    return {
        "changed": False,
        "host": host,
        "root": root,
        "key_id": scanner.fingerprint.key_id,
        "findings": [finding_dict(host, finding, digest) for finding, digest in findings],
        "errors": [str(error) for error in errors if error.fatal],
        "notes": [str(error) for error in errors if not error.fatal],
        "stats": stats.to_dict(),
    }


# -- the action -------------------------------------------------------------------------------


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _supports_check_mode = True  # the scan is read-only
    _supports_async = False

    def _update_module_args(self, module_name, module_args, task_vars, ignore_unknown_opts: bool = False):
        super()._update_module_args(module_name, module_args, task_vars, ignore_unknown_opts=ignore_unknown_opts)
        module_args["_ansible_no_log"] = True  # its result holds file contents, whatever the task says

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # no effect since Ansible 2.5
        task_vars = task_vars or {}
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        try:
            result.update(self._scan(args, task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _scan(self, args: dict[str, Any], task_vars: Mapping[str, Any]) -> dict[str, Any]:
        root = args["root"]
        if not root.startswith("/"):
            raise AnsibleActionFail(f"root {root!r}: give an absolute path on the host")
        if not args["paths"]:
            raise AnsibleActionFail("paths: give at least one file or directory to scan")
        relative = [path for path in args["paths"] if not str(path).startswith("/")]
        if relative:
            raise AnsibleActionFail(f"paths: give absolute paths as the host sees them, not {relative}")
        engine = self._engine(args)
        host = str(task_vars.get("inventory_hostname", ""))
        try:
            out = fleet_scan(engine, host, list(args["paths"]), root, lambda request: self._call(task_vars, request))
        except ListingError as exc:
            raise AnsibleActionFail(str(exc)) from None
        if out["errors"]:
            out["warnings"] = [f"{len(out['errors'])} path(s) left unscanned on {host}: see the result's errors"]
        return out

    def _engine(self, args: dict[str, Any]) -> Engine:
        baseline = None
        if args["baseline"]:
            try:
                baseline = self._find_needle("files", args["baseline"])
            except AnsibleError:
                raise AnsibleActionFail(f"baseline {args['baseline']}: no such file on the controller") from None
        try:
            from migrator.cli.common import UsageError
        except ImportError:
            raise AnsibleActionFail(_ENGINE_MISSING) from None
        try:
            return make_engine(args, baseline)
        except (UsageError, ValueError) as exc:  # one line: fingerprint key, baseline, exclude pattern
            raise AnsibleActionFail(str(exc)) from None

    def _call(self, task_vars: Mapping[str, Any], module_args: dict[str, Any]) -> dict[str, Any]:
        """Run the module on the host (with no_log); its failure as one line, never its output."""
        raw = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
        if raw.get("failed") or raw.get("_ansible_parsed") is False:
            message = str(raw.get("msg") or "no message").strip().splitlines()
            raise AnsibleActionFail(f"the scan module failed on the host: {(message or [''])[0][:300]}")
        return raw


def _ignore_file_limit() -> int:
    from migrator.discover.walker import _IGNORE_FILE_LIMIT

    return _IGNORE_FILE_LIMIT
