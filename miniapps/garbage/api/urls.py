"""The garbage calendar's API, mounted at /api/v1/garbage/ by the mini-app registry. Its endpoints
come with the garbage-calendar issue."""

urlpatterns: list = []
