"""Benchmarks of the harness itself (not timed tests): `python -m bench.perf.<name>`."""
