from django.urls import path

from . import views

urlpatterns = [
    path("residents/", views.ResidentCreateApi.as_view(), name="resident-create"),
    path("me/", views.MeApi.as_view(), name="me"),
    path("districts/", views.DistrictListApi.as_view(), name="district-list"),
    path("staff/districts/", views.StaffDistrictCreateApi.as_view(), name="staff-district-create"),
    path("auth/token/", views.StaffTokenApi.as_view(), name="auth-token"),
    path("auth/logout/", views.LogoutApi.as_view(), name="auth-logout"),
]
