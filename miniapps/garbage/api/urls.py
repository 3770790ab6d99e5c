from django.urls import path

from . import views

urlpatterns = [
    path("garbage/categories/", views.CategoryListApi.as_view(), name="garbage-categories"),
    path("garbage/areas/", views.AreaListApi.as_view(), name="garbage-areas"),
    path("garbage/areas/<int:area_id>/", views.AreaDetailApi.as_view(), name="garbage-area"),
    path("garbage/areas/<int:area_id>/collections/", views.AreaCollectionsApi.as_view(), name="garbage-collections"),
    path("garbage/areas/<int:area_id>/next/", views.AreaNextApi.as_view(), name="garbage-next"),
    path("garbage/areas/<int:area_id>/calendar.ics", views.AreaCalendarIcsApi.as_view(), name="garbage-ics"),
    path("garbage/items/", views.ItemListApi.as_view(), name="garbage-items"),
    path("garbage/reminder/", views.ReminderApi.as_view(), name="garbage-reminder"),
    path("garbage/pickup/item-types/", views.PickupItemTypeListApi.as_view(), name="garbage-pickup-item-types"),
    path("garbage/pickup/days/", views.PickupDayListApi.as_view(), name="garbage-pickup-days"),
    path("garbage/bookings/", views.BookingListApi.as_view(), name="garbage-bookings"),
    path("garbage/bookings/<int:booking_id>/", views.BookingDetailApi.as_view(), name="garbage-booking"),
    path("garbage/bookings/<int:booking_id>/cancel/", views.BookingCancelApi.as_view(), name="garbage-booking-cancel"),
]
