"""Git as a source: what a commit, a push or the index adds, read through git's plumbing.

Everything here drives the real ``git`` executable (plumbing commands with NUL-separated output,
so any path survives) and hands blobs to the same scanner as the file walk.
"""
