"""Small-cell suppression: person-derived counts between 1 and threshold-1 are never shown.

The threshold is the municipality's `privacy_threshold` setting (default 10). Exports apply it in
SQL (`suppressed_sql`, `gated_sql`), so the database never hands a small cell to the writer;
dashboards use `suppress`. Zeros stay visible (nobody is revealed by them), as in the console's
`suppress_small_counts`. The threshold can only come from the municipality's settings: no export
option lowers it.
"""
from __future__ import annotations

DEFAULT_THRESHOLD = 10


def privacy_threshold(municipality=None) -> int:
    """The current municipality's threshold. A malformed setting (not a positive integer) falls back
    to the default rather than switching suppression off."""
    if municipality is None:
        from tenants.selectors import current_municipality

        municipality = current_municipality()
    value = municipality.setting("privacy_threshold") if municipality is not None else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        try:
            value = int(str(value))
        except (TypeError, ValueError):
            return DEFAULT_THRESHOLD
        if value < 1:
            return DEFAULT_THRESHOLD
    return value


def suppress(value: int | None, threshold: int) -> int | None:
    """A count of people as it may be shown: None when 0 < value < threshold."""
    if value is None:
        return None
    return None if 0 < value < threshold else value


def is_small(value: int | None, threshold: int) -> bool:
    return value is not None and 0 < value < threshold


# SQL builders. `k` is the name of the query parameter holding the threshold, e.g. "k" → %(k)s.
def suppressed_sql(expr: str, k: str = "k") -> str:
    """The count `expr` itself, or NULL when it is a small count of people."""
    return f"(CASE WHEN ({expr}) > 0 AND ({expr}) < %({k})s THEN NULL ELSE ({expr}) END)"


def gated_sql(expr: str, gate: str, k: str = "k") -> str:
    """The count `expr` (e.g. opens), or NULL when it is small itself or when the number of people
    behind the row (`gate`) is small: 50 opens by 3 residents say something about those 3."""
    return (f"(CASE WHEN (({gate}) > 0 AND ({gate}) < %({k})s) OR (({expr}) > 0 AND ({expr}) < %({k})s) "
            f"THEN NULL ELSE ({expr}) END)")


def any_small_sql(*exprs: str, k: str = "k") -> str:
    """TRUE when any of the person counts `exprs` is suppressed in this row."""
    return "(" + " OR ".join(f"(({expr}) > 0 AND ({expr}) < %({k})s)" for expr in exprs) + ")"
