"""URLs served on the bare platform host (e.g. localhost): directory, health, platform console."""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from superapp.views import healthz
from tenants.api.views import MunicipalityDirectoryApi

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/municipalities/", MunicipalityDirectoryApi.as_view(), name="municipality-directory"),
    path("api/schema/", SpectacularAPIView.as_view(urlconf="superapp.urls_public", authentication_classes=[],
                                                   permission_classes=[]), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
         name="api-docs"),
    path("platform/", include("admin_console.platform.urls")),
]

handler400 = "superapp.api.errors.handler400"
handler403 = "superapp.api.errors.handler403"
handler404 = "superapp.api.errors.handler404"
handler500 = "superapp.api.errors.handler500"
