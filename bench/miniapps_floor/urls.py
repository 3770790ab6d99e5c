"""The tenant URL conf plus /bench/drf-floor/: a DRF APIView with the project's default
authentication (bearer token) and permission (IsAuthenticated) that touches nothing else."""
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from superapp.urls_tenant import handler400, handler403, handler404, handler500  # noqa: F401
from superapp.urls_tenant import urlpatterns as tenant_urlpatterns


class DrfFloor(APIView):
    def get(self, request):
        return Response({"status": "ok"})

    def post(self, request):
        # Parses the JSON body like the real endpoint, stores nothing.
        events = request.data.get("events", []) if isinstance(request.data, dict) else []
        return Response({"accepted": len(events)}, status=202)


urlpatterns = [path("bench/drf-floor/", DrfFloor.as_view(), name="bench-drf-floor"), *tenant_urlpatterns]
