"""Discovery: sources -> readers -> detectors -> filters => findings.

Use it as a library::

    from migrator.discover import Scanner, ScanOptions
    from migrator.fingerprint import Fingerprinter, load_key

    result = Scanner(Fingerprinter(load_key())).scan(["./repo"])
    for finding in result.findings:
        print(finding.path, finding.span.line, finding.kind, finding.hint)
"""

from migrator.discover.models import Confidence, Entry, Finding, ScanError, ScanResult, Span
from migrator.discover.scanner import Scanner, ScanOptions
from migrator.discover.walker import WalkOptions

__all__ = ["Confidence", "Entry", "Finding", "ScanError", "ScanOptions", "ScanResult", "Scanner", "Span",
           "WalkOptions"]
