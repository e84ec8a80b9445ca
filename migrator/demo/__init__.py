"""``vaultshift demo``: the three phases on a small fleet, against real components started for the
run (:mod:`migrator.demo.components`: OpenBao, PostgreSQL; :mod:`migrator.demo.run`: the phases)."""
