"""Benchmark scripts (run by hand or by `bench perf`; never timed inside the test suite)."""
