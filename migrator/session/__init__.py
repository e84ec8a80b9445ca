"""Sessions: one login and a shared read cache for all the lookups of one Ansible run.

:mod:`wire` and :mod:`client` are what the lookup plugin imports in each worker (standard library
only); :mod:`server` is the process that holds the backends (``python -m migrator.session``);
:mod:`options` turns the lookup's options into a backend of the engine, for the server and for a
lookup that reads in its own process (``session: false``).
"""
