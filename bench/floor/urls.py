"""The constant JSON view: no database, no template, no serializer."""
from django.http import JsonResponse
from django.urls import path

PAYLOAD = {"status": "ok", "service": "superapp-bench-floor"}


def floor(request):
    return JsonResponse(PAYLOAD)


urlpatterns = [path("floor/", floor, name="bench-floor")]
