"""Repeated date parameters are refused, not silently resolved to one of them."""


def test_repeated_from_is_400(saga):
    for path in ("/api/v1/garbage/areas/1/collections/", "/api/v1/garbage/areas/1/calendar.ics"):
        response = saga.client().get(f"{path}?from=2026-01-01&from=2026-02-01")
        assert response.status_code == 400, (path, response.content[:200])
        assert response.json()["error"]["fields"]["from"]
