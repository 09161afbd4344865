"""Benchmarks of the harness itself (never timed tests): `bench perf` (timing.py, steps.py,
throughput.py, breakdown.py, report.py) and the scripts `python -m bench.perf.data`,
`.robustness` and `.executors`."""
