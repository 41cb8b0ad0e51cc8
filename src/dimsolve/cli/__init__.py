"""The ``dimsolve`` command line."""
