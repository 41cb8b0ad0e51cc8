"""dimsolve's benchmarks (issue #5): ``python -m bench.run --quick`` or ``--full``; see docs/benchmarks.md."""
