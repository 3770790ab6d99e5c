"""The garbage calendar's resident API, mounted at /api/v1/garbage/ by the mini-app registry
(GarbageConfig.api_mount)."""
from django.urls import path

from . import views

urlpatterns = [
    path("categories/", views.CategoryListApi.as_view(), name="garbage-categories"),
    path("areas/", views.AreaListApi.as_view(), name="garbage-areas"),
    path("areas/<int:area_id>/", views.AreaDetailApi.as_view(), name="garbage-area"),
    path("areas/<int:area_id>/collections/", views.AreaCollectionsApi.as_view(), name="garbage-collections"),
    path("areas/<int:area_id>/next/", views.AreaNextApi.as_view(), name="garbage-next"),
    path("areas/<int:area_id>/calendar.ics", views.AreaCalendarIcsApi.as_view(), name="garbage-ics"),
    path("items/", views.ItemListApi.as_view(), name="garbage-items"),
    path("reminder/", views.ReminderApi.as_view(), name="garbage-reminder"),
    path("pickup/item-types/", views.PickupItemTypeListApi.as_view(), name="garbage-pickup-item-types"),
    path("pickup/days/", views.PickupDayListApi.as_view(), name="garbage-pickup-days"),
    path("bookings/", views.BookingListApi.as_view(), name="garbage-bookings"),
    path("bookings/<int:booking_id>/", views.BookingDetailApi.as_view(), name="garbage-booking"),
    path("bookings/<int:booking_id>/cancel/", views.BookingCancelApi.as_view(), name="garbage-booking-cancel"),
]
