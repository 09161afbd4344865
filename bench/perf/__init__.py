"""Benchmark scripts (`python -m bench.perf.<name>`): measurements with their hardware, not tests."""
