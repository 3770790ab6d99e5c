"""Bench-only: the project's own URL conf plus bare DRF endpoints, so the mini-app endpoints and
their floor are measured on the same server (same workers, middleware, authentication)."""
