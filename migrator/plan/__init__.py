"""Phase 2's plan: findings grouped into secrets, each with a vault location, a backend and the
reference every occurrence becomes. A plan holds no plaintext and is deterministic.

    models.py     the contract: Plan, PlannedSecret, SecretRef, Occurrence, ReferenceStyle
    planner.py    scan the sources, group by fingerprint, name, route, style => Plan
    naming.py     the ``naming`` scheme and safe path segments
    routing.py    the ``routes`` (first match wins) and the match keys shared with ``styles``
    styles.py     which reference style each occurrence gets
    inventory.py  an Ansible inventory's hosts and groups
    digest.py     keyed file digests (apply refuses a changed file)
    planfile.py   plan.json: stable JSON, written atomically, read back
    summary.py    the reviewable table

Used as a library (this package imports only the models; import the planner explicitly)::

    from migrator.config import load_config
    from migrator.discover import Scanner
    from migrator.fingerprint import Fingerprinter, load_key
    from migrator.plan.digest import FileDigester
    from migrator.plan.planner import Planner, Source

    key = load_key()
    fingerprinter = Fingerprinter(key)
    planner = Planner(Scanner(fingerprinter), FileDigester(key), load_config(), fingerprinter.key_id)
    plan = planner.plan([Source("./repo")]).plan
"""

from migrator.plan.models import Occurrence, Plan, PlannedSecret, ReferenceStyle, SecretRef

__all__ = ["Occurrence", "Plan", "PlannedSecret", "ReferenceStyle", "SecretRef"]
