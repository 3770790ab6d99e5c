"""Console pages of the garbage calendar, mounted at /console/garbage/ (GarbageConfig.console_mount)."""
from django.urls import path

from . import views

app_name = "garbage"

urlpatterns = [
    path("", views.index, name="index"),
    path("categories/", views.categories, name="categories"),
    path("categories/<int:category_id>/", views.category_edit, name="category-edit"),
    path("changes/", views.changes, name="changes"),
    path("changes/<int:change_id>/delete/", views.change_delete, name="change-delete"),
    path("pickup/", views.pickup, name="pickup"),
    path("pickup/days/<int:day_id>/capacity/", views.pickup_capacity, name="pickup-capacity"),
    path("pickup/item-types/<int:item_type_id>/", views.item_type_edit, name="item-type-edit"),
    path("bookings/", views.bookings, name="bookings"),
    path("bookings/<int:booking_id>/cancel/", views.booking_cancel, name="booking-cancel"),
    path("dictionary.csv", views.dictionary_csv, name="dictionary-csv"),
]
