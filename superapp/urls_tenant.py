"""URLs served on a municipality's host (e.g. saga.localhost)."""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from superapp.views import healthz

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("citizen_id.api.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
         name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
         name="api-redoc"),
    path("console/", include("admin_console.urls")),
]

handler400 = "superapp.api.errors.handler400"
handler403 = "superapp.api.errors.handler403"
handler404 = "superapp.api.errors.handler404"
handler500 = "superapp.api.errors.handler500"
