"""Catalog generations: the home screen's catalog is cached in each web process and stays valid
while two tokens are unchanged, this municipality's (CatalogState) and the shared catalog's
(SharedCatalogState). Services change the token in the same transaction as the catalog, so a
reader sees the new token exactly when it sees the new rows, in every process at once; and a
rolled-back change takes its token with it. Tokens are random, never counters: an old token can
never come back with different rows behind it."""
from __future__ import annotations

import uuid

from .catalog.models import SharedCatalogState
from .models import CatalogState


def catalog_changed(*, shared: bool = False) -> None:
    """Call inside the transaction of any service that changes this municipality's catalog
    entries (or, shared=True, an external mini-app in the shared catalog)."""
    model = SharedCatalogState if shared else CatalogState
    if not model.objects.filter(pk=1).update(generation=uuid.uuid4()):
        model.objects.get_or_create(pk=1, defaults={"generation": uuid.uuid4()})  # made by a migration normally


def generation_sql() -> tuple[str, str]:
    """Scalar subqueries reading both tokens, to add to a query the caller runs anyway."""
    return (f"(SELECT generation FROM {CatalogState._meta.db_table} WHERE id = 1)",
            f"(SELECT generation FROM {SharedCatalogState._meta.db_table} WHERE id = 1)")
