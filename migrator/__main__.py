"""``python -m migrator``: the ``vaultshift`` command (what installed git hooks call)."""

import sys

from migrator.cli import main

sys.exit(main())
