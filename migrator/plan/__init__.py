"""Phase 2's plan: findings grouped into secrets, each with a vault location, a backend and the
reference every occurrence becomes. A plan holds no plaintext and is deterministic."""
