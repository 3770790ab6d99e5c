from django.urls import path

from . import views

urlpatterns = [
    path("devices/", views.DeviceRegisterApi.as_view(), name="device-register"),
    path("devices/<int:device_id>/", views.DeviceDetailApi.as_view(), name="device-detail"),
    path("me/notification-settings/", views.NotificationSettingsApi.as_view(), name="notification-settings"),
    path("inbox/", views.InboxApi.as_view(), name="inbox"),
    path("inbox/<int:notification_id>/read/", views.InboxReadApi.as_view(), name="inbox-read"),
    path("inbox/<int:notification_id>/opened/", views.InboxOpenedApi.as_view(), name="inbox-opened"),
    path("staff/notifications/", views.StaffNotificationListApi.as_view(), name="staff-notifications"),
    path("staff/notifications/audience-size/", views.StaffAudienceSizeApi.as_view(), name="staff-audience-size"),
    path("staff/notifications/<int:notification_id>/", views.StaffNotificationDetailApi.as_view(),
         name="staff-notification-detail"),
    path("staff/notifications/<int:notification_id>/cancel/", views.StaffNotificationCancelApi.as_view(),
         name="staff-notification-cancel"),
]
