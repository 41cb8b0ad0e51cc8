"""Bundled example models for ``dimsolve demo``."""
