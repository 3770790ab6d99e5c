from django.urls import path

from . import views

urlpatterns = [
    path("miniapps/", views.HomeScreenApi.as_view(), name="miniapps-home"),
    path("miniapps/keys/", views.JwksApi.as_view(), name="miniapps-keys"),
    path("miniapps/<slug:miniapp_id>/launch/", views.LaunchApi.as_view(), name="miniapps-launch"),
    path("miniapps/<slug:miniapp_id>/consent/", views.ConsentApi.as_view(), name="miniapps-consent"),
    path("me/home/", views.HomeLayoutApi.as_view(), name="miniapps-home-layout"),
    path("usage/", views.UsageApi.as_view(), name="miniapps-usage"),
    path("staff/miniapps/", views.StaffCatalogApi.as_view(), name="staff-miniapps"),
    path("staff/miniapps/order/", views.StaffCatalogOrderApi.as_view(), name="staff-miniapps-order"),
    path("staff/miniapps/<slug:miniapp_id>/", views.StaffCatalogItemApi.as_view(), name="staff-miniapps-item"),
    path("staff/home-layout/", views.StaffDefaultLayoutApi.as_view(), name="staff-home-layout"),
    path("staff/shared-catalog/", views.StaffSharedCatalogApi.as_view(), name="staff-shared-catalog"),
    path("staff/external-miniapps/", views.StaffExternalMiniAppListApi.as_view(), name="staff-external-miniapps"),
    path("staff/external-miniapps/<slug:miniapp_id>/", views.StaffExternalMiniAppDetailApi.as_view(),
         name="staff-external-miniapp"),
    path("staff/external-miniapps/<slug:miniapp_id>/status/", views.StaffExternalMiniAppStatusApi.as_view(),
         name="staff-external-miniapp-status"),
    path("staff/usage/ranking/", views.StaffUsageRankingApi.as_view(), name="staff-usage-ranking"),
]
