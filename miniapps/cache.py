"""Generations of the mini-app catalog, so every web process can keep the home screen's catalog in
memory and still see a staff change on the very next request.

Two generation tokens live in Redis: one per municipality (its catalog entries) and one for the
shared catalog (external mini-apps, any publisher). A process's cached catalog is valid while both
tokens are unchanged: one MGET per home-screen request instead of a three-table query. Tokens are
random, not counters, so a flushed Redis can never bring back an old generation. If Redis is
unreachable, callers get None and read the database.
"""
from __future__ import annotations

import uuid

import structlog
from django.conf import settings
from django.db import connection, transaction
from django_redis import get_redis_connection
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

SHARED = "public"


def _key(schema: str) -> str:
    # Same shape as the cache's own tenant-prefixed keys (<schema>:<KEY_PREFIX>:...).
    return f"{schema}:{settings.CACHES['default']['KEY_PREFIX']}:miniapps:catalog-generation"


def generation() -> tuple[str, str] | None:
    """(this municipality's generation, the shared catalog's), made on first use."""
    keys = [_key(connection.schema_name), _key(SHARED)]
    try:
        client = get_redis_connection("default")
        values = client.mget(keys)
        if None in values:
            for key, value in zip(keys, values):
                if value is None:
                    client.set(key, uuid.uuid4().hex, nx=True)
            values = client.mget(keys)
    except RedisError as exc:
        log.warning("miniapps_catalog_generation_unavailable", error=type(exc).__name__)
        return None
    return (values[0].decode(), values[1].decode()) if None not in values else None


def _bump(schema: str) -> None:
    try:
        get_redis_connection("default").set(_key(schema), uuid.uuid4().hex)
    except RedisError as exc:
        log.warning("miniapps_catalog_generation_not_bumped", schema=schema, error=type(exc).__name__)


def catalog_changed(*, shared: bool = False) -> None:
    """Call from a service that changed this municipality's catalog (or, shared=True, an external
    mini-app). Bumped now, for the rest of this transaction, and again on commit: a request that
    read the old rows before the commit may have cached them under the first new generation."""
    schema = SHARED if shared else connection.schema_name
    _bump(schema)
    transaction.on_commit(lambda: _bump(schema))
