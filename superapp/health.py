"""Reachability checks for /healthz: database, Redis, and whether any Celery worker is alive.

Workers write a heartbeat to Redis every CELERY_HEARTBEAT_SECONDS (see superapp.celery), so the
probe answers from one Redis read instead of a broadcast ping that would wait for a timeout.
"""
from __future__ import annotations

import time
from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection



def _heartbeat_key() -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:celery:heartbeats"


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)


def worker_heartbeat(hostname: str) -> None:
    client = _redis()
    now = time.time()
    pipe = client.pipeline()
    pipe.zadd(_heartbeat_key(), {hostname: now})
    pipe.zremrangebyscore(_heartbeat_key(), 0, now - 24 * 3600)
    pipe.execute()


def worker_gone(hostname: str) -> None:
    _redis().zrem(_heartbeat_key(), hostname)


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "down", reported by name
        return type(exc).__name__


def check_redis() -> str | None:
    try:
        _redis().ping()
        return None
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__


def check_celery() -> str | None:
    try:
        fresh_since = time.time() - settings.CELERY_HEALTH_STALE_SECONDS
        alive = _redis().zcount(_heartbeat_key(), fresh_since, "+inf")
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__
    return None if alive else "no_worker_heartbeat"


def health_report() -> tuple[bool, dict[str, dict[str, str]]]:
    checks = {"database": check_database(), "redis": check_redis(), "celery": check_celery()}
    report = {name: ({"status": "ok"} if error is None else {"status": "down", "reason": error})
              for name, error in checks.items()}
    return all(error is None for error in checks.values()), report
