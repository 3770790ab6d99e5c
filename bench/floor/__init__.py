"""A bench-only Django app serving one constant JSON view: the framework's request-rate floor.

`BENCH_FLOOR_MIDDLEWARE` chooses what stands in front of the view (see settings.py)."""
