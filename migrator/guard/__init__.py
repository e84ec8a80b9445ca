"""Phase 1, stop the bleeding: hooks that keep new secrets out of repository history.

``precommit`` scans what the index adds, ``prereceive`` what a push adds, ``install`` writes the
hooks; both hooks share the messages of ``messages`` and the scan of ``migrator.git``.
"""
