"""Benchmarks (not tests): `python -m bench.run [scenario ...]`; see bench/README.md."""
