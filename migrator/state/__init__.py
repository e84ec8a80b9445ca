"""What vaultshift remembers between runs: the journal of migrations (SQLite by default)."""
