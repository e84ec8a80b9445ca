"""Phase 3: rotation and dynamic credentials (classify.py: what each stored secret is)."""
