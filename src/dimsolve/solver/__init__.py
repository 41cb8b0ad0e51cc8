"""z3-backed decision procedure and fix synthesis. Never imports torch."""
