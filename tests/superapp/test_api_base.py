

def test_max_length_counts_what_the_client_sent_before_trimming(saga):
    """The schema's maxLength is about the raw string: a nickname padded with Unicode spaces past the
    limit is a 400, not silently trimmed to fit."""
    client = saga.client("resident")
    too_long = client.patch("/api/v1/me/", {"nickname": "\u0085" + "a" * 50}, format="json")
    assert too_long.status_code == 400 and "nickname" in too_long.json()["error"]["fields"]
    fits = client.patch("/api/v1/me/", {"nickname": " " + "a" * 48 + " "}, format="json")
    assert fits.status_code == 200 and fits.json()["nickname"] == "a" * 48
