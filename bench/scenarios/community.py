"""地域共創 under load: a district feed page and a map bbox query over 100,000 posts in Saga's 32
school districts, beside the framework floors measured in the same run (a constant JSON view in plain
Django, and the 32-row DRF district list of the real app). Also checks that the feed costs the same
number of queries whatever the page size (the list is constant in posts, images and events)."""
from __future__ import annotations

import contextlib
import json
import random
import subprocess
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from bench import lib
from bench.scenarios.floors import FLOOR_APP, PROJECT_APP, _ensure_saga

NAME = "community"
DESCRIPTION = ("requests/s and p50/p99 of the community district feed and map bbox query over "
               "BENCH_COMMUNITY_POSTS posts (default 100,000) in 32 districts, beside the framework floors")

TITLE_PREFIX = "bench:"
SAGA_BOUNDS = (33.15, 33.50, 130.15, 130.45)  # min_lat, max_lat, min_lng, max_lng


def _district_centres(count: int, rng: random.Random) -> list[tuple[float, float]]:
    min_lat, max_lat, min_lng, max_lng = SAGA_BOUNDS
    return [(rng.uniform(min_lat + 0.05, max_lat - 0.05), rng.uniform(min_lng + 0.05, max_lng - 0.05))
            for _ in range(count)]


def _ensure_posts(ctx: lib.Context, total: int) -> dict:
    """Tops Saga's community up to `total` bench posts spread over every district (a third on the map
    near their district's centre, a quarter with a photo, a tenth events); idempotent across runs."""
    from accounts.models import ApiToken, District, User
    from accounts.services import api_token_issue, resident_create
    from miniapps.community.models import Category, Event, Post, PostImage

    rng = random.Random(9)
    districts = list(District.objects.order_by("sort_order", "id"))
    if not districts:
        raise lib.BenchError("Saga has no districts")
    centres = _district_centres(len(districts), rng)
    authors = {}
    for district in districts:
        author = User.objects.filter(username__startswith="resident-", nickname=f"bench-{district.pk}").first()
        if author is None:
            author = resident_create(nickname=f"bench-{district.pk}", district=district).token.user
        authors[district.pk] = author
    reader = authors[districts[0].pk]
    ApiToken.objects.filter(user=reader, label="bench").delete()
    token = api_token_issue(user=reader, kind=ApiToken.Kind.RESIDENT, ttl=timedelta(hours=2), label="bench").raw

    existing = Post.objects.filter(title__startswith=TITLE_PREFIX).count()
    missing = max(0, total - existing)
    categories = Category.values
    now = timezone.now()
    batch = 5000
    created = 0
    while created < missing:
        size = min(batch, missing - created)
        posts = []
        for offset in range(size):
            index = existing + created + offset
            district = districts[index % len(districts)]
            lat = lng = None
            if index % 3 == 0:
                centre = centres[index % len(districts)]
                lat = round(centre[0] + rng.uniform(-0.03, 0.03), 6)
                lng = round(centre[1] + rng.uniform(-0.03, 0.03), 6)
            posts.append(Post(district=district, author=authors[district.pk], category=categories[index % len(categories)],
                              title=f"{TITLE_PREFIX} 投稿 {index}", body="地域のお知らせです。" * 5,
                              tags=["bench", f"t{index % 20}"], latitude=lat, longitude=lng,
                              created_at=now - timedelta(seconds=index * 300)))
        Post.objects.bulk_create(posts, batch_size=batch)
        images = [PostImage(uploader_id=post.author_id, post=post, position=0, image=f"community/bench/{post.pk}.jpg",
                            thumbnail=f"community/bench/{post.pk}-t.jpg", content_type="image/jpeg", width=1600,
                            height=1200, size_bytes=250_000) for post in posts if post.pk % 4 == 0]
        PostImage.objects.bulk_create(images, batch_size=batch)
        events = [Event(post=post, starts_at=now + timedelta(days=30), place="公民館", capacity=30,
                        rsvp_deadline=now + timedelta(days=29)) for post in posts if post.pk % 10 == 0]
        Event.objects.bulk_create(events, batch_size=batch)
        created += size
        ctx.log(f"community: {existing + created:,} / {total:,} bench posts")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE community_post; ANALYZE community_postimage; ANALYZE community_event")
    centre = centres[0]
    bbox = f"{centre[1] - 0.05:.4f},{centre[0] - 0.05:.4f},{centre[1] + 0.05:.4f},{centre[0] + 0.05:.4f}"
    return {"district_id": districts[0].pk, "districts": len(districts), "token": token, "bbox": bbox,
            "posts": Post.objects.count(), "created_now": missing}


def _feed_query_counts(host: str, token: str, district_id: int) -> dict[int, int]:
    """Queries one feed request costs at two page sizes, in-process (must be equal)."""
    from django.test import Client

    client = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {token}")
    client.get("/api/v1/me/")  # the token's last-used stamp, outside the measurement
    counts = {}
    for page_size in (5, 50):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/api/v1/community/districts/{district_id}/posts/?page_size={page_size}")
        if response.status_code != 200 or len(response.json()["results"]) != page_size:
            raise lib.BenchError(f"feed answered {response.status_code}: {response.content[:200]!r}")
        counts[page_size] = len(captured.captured_queries)
        connection.set_schema_to_public()
    if len(set(counts.values())) != 1:
        raise lib.BenchError(f"the feed's query count depends on the page size: {counts}")
    return counts


def _wrk(target: lib.Target, headers: list[str], *, seconds: int, threads: int, connections: int) -> lib.WrkResult:
    """lib's wrk run with extra request headers (the community API needs a bearer token)."""
    argv = [lib.wrk_path(), "--latency", "-t", str(threads), "-c", str(max(connections, threads)),
            "-d", f"{seconds}s", "--timeout", "10s", "-H", f"Host: {target.host}"]
    for header in headers:
        argv += ["-H", header]
    argv += ["-s", str(lib.WRK_SCRIPT), f"http://{lib.LOOPBACK}:{target.port}{target.path}"]
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if completed.returncode != 0 or line is None:
        raise lib.BenchError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()[-500:]}")
    data = json.loads(line[len("WRK_JSON "):])
    duration_s = data["duration_us"] / 1e6
    requests = data["requests"]
    return lib.WrkResult(
        requests_per_s=requests / duration_s if duration_s else 0.0,
        p50_ms=data["p50_us"] / 1000, p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000, mean_ms=data["mean_us"] / 1000, requests=requests, duration_s=duration_s,
        bytes_per_response=data["bytes"] / requests if requests else 0.0, errors=data["errors"],
        threads=threads, connections=connections)


def run(ctx: lib.Context) -> dict:
    host, district_count = _ensure_saga()
    total = ctx.env_int("BENCH_COMMUNITY_POSTS", 100_000)
    from tenants.models import Domain

    schema = Domain.objects.select_related("tenant").get(domain=host).tenant.schema_name
    with schema_context(schema):
        data = _ensure_posts(ctx, total)
    connection.set_schema_to_public()
    query_counts = _feed_query_counts(host, data["token"], data["district_id"])
    auth = [f"Authorization: Bearer {data['token']}"]
    feed_path = f"/api/v1/community/districts/{data['district_id']}/posts/"
    map_path = f"/api/v1/community/map/?bbox={data['bbox']}"
    cases = [
        ("plain", "(a) constant JSON, plain Django (floor)", FLOOR_APP, "/floor/", []),
        ("drf_list", f"(b) DRF GET /api/v1/districts/ ({district_count} rows, anonymous)", PROJECT_APP,
         "/api/v1/districts/", []),
        ("feed", "(c) community feed, first page of 20 (newest first, cursor)", PROJECT_APP, feed_path, auth),
        ("map", "(d) community map, bbox 0.1°×0.1° around a district (GeoJSON)", PROJECT_APP, map_path, auth),
    ]
    with contextlib.ExitStack() as stack:
        servers = {}
        for name, label, app, path, headers in cases:
            if app not in servers:
                env = ({"DJANGO_SETTINGS_MODULE": "bench.floor.settings", "BENCH_FLOOR_MIDDLEWARE": "none"}
                       if app == FLOOR_APP else {"DJANGO_SETTINGS_MODULE": "superapp.settings"})
                ready = "/floor/" if app == FLOOR_APP else "/api/v1/districts/"
                servers[app] = stack.enter_context(ctx.gunicorn(app, env=env, ready_path=ready, host=host))
                ctx.log(f"gunicorn {app} on port {servers[app].port} ({ctx.workers} sync workers)")
        targets = {name: (lib.Target(servers[app].port, path, host), headers) for name, _l, app, path, headers in cases}
        for name, (target, headers) in targets.items():  # warm-up, and a check that each answers 200
            _wrk(target, headers, seconds=ctx.warmup_seconds, threads=ctx.wrk_threads, connections=ctx.wrk_connections)
        measured: dict[str, list[lib.WrkResult]] = {name: [] for name in targets}
        names = list(targets)
        for round_index in range(ctx.rounds):
            for name in names[round_index % len(names):] + names[:round_index % len(names)]:
                target, headers = targets[name]
                result = _wrk(target, headers, seconds=ctx.seconds, threads=ctx.wrk_threads,
                              connections=ctx.wrk_connections)
                measured[name].append(result)
                ctx.log(f"round {round_index + 1}/{ctx.rounds} {name}: {result.requests_per_s:,.0f} req/s, "
                        f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms")

    rows = []
    for name, label, app, path, _headers in cases:
        figures = lib.combine(measured[name])
        if any(figures["errors"].values()):
            raise lib.BenchError(f"{label}: wrk saw errors {figures['errors']}")
        rows.append({"name": name, "label": label, "path": path, **figures})
    return {
        "parameters": {
            "host": host, "posts": data["posts"], "districts": data["districts"],
            "posts_created_this_run": data["created_now"], "map_bbox": data["bbox"],
            "feed_queries_per_request": query_counts,
            "gunicorn": f"{ctx.workers} sync workers, 1 thread each",
            "wrk": f"{ctx.wrk_threads} threads, {ctx.wrk_connections} connections",
            "seconds": ctx.seconds, "rounds": ctx.rounds,
            "CONN_MAX_AGE": settings.DATABASES["default"].get("CONN_MAX_AGE"),
        },
        "tables": [{
            "title": f"Community feed and map over {data['posts']:,} posts in {data['districts']} districts",
            "baseline": "plain",
            "columns": [
                {"key": "rps", "label": "requests/s", "better": "higher", "decimals": 0},
                {"key": "p50_ms", "label": "p50 ms", "better": "lower", "decimals": 2},
                {"key": "p99_ms", "label": "p99 ms", "better": "lower", "decimals": 2},
                {"key": "rps_spread_pct", "label": "req/s spread %", "decimals": 0, "ratio": False},
            ],
            "rows": rows,
        }],
        "notes": [
            "(a) is the framework floor (no middleware, no database); (b) is the real app's cheapest "
            "list: tenant routing, one SET search_path and one SELECT, 32 rows, no token.",
            f"(c) and (d) carry a resident's bearer token (one token lookup). The feed page costs "
            f"{query_counts[5]} queries at page size 5 and {query_counts[50]} at 50 (checked equal before loading): "
            "search_path, token, the page of posts with author, event, my RSVP and my thank-you joined, "
            "and one query for all the page's photos.",
            "The map returns the newest 500 located posts of the caller's district inside the box; "
            "the partial index on (district, latitude, longitude) of visible located posts serves it.",
            f"Each figure is the median of {ctx.rounds} interleaved rounds of {ctx.seconds} s; wrk shares "
            "the machine's CPUs with gunicorn, so read the ratios more than the absolute rates.",
        ],
    }
