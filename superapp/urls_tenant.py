"""URLs served on a municipality's host (e.g. saga.localhost)."""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from miniapps.registry import registry as miniapp_registry
from shelters.views import confirm_emergency_contact
from superapp.views import healthz

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("citizen_id.api.urls")),
    path("", include("miniapps.api.urls")),
    # Each built-in mini-app's API, mounted where its manifest says (MiniAppConfig.api_mount).
    *miniapp_registry.api_urlpatterns(),
    path("", include("notifications.api.urls")),
    path("", include("shelters.api.urls")),
    path("", include("analytics.api.urls")),
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
    path("console/", include(miniapp_registry.console_urlpatterns())),
    path("console/analytics/", include("analytics.console.urls")),
    path("contacts/confirm/<str:token>/", confirm_emergency_contact, name="emergency-contact-confirm"),
]

handler400 = "superapp.api.errors.handler400"
handler403 = "superapp.api.errors.handler403"
handler404 = "superapp.api.errors.handler404"
handler500 = "superapp.api.errors.handler500"
