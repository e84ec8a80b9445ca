"""Phase 2's apply and rollback: store each planned secret, read it back, rewrite every place
that held it, verify, and journal each step; and put files back as they were."""
