"""Benchmark scenarios: each module has NAME, DESCRIPTION and run(ctx) -> dict (see bench/lib.py)."""
