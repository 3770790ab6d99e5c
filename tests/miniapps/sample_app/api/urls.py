from django.http import JsonResponse
from django.urls import path


def ping(request):
    return JsonResponse({"pong": True})


urlpatterns = [path("ping/", ping, name="sample-ping")]
