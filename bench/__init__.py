"""Benchmarks of the pipeline: `nox -s bench` (see bench/run.py)."""
