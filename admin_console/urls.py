"""URLs of a municipality's staff console, mounted at /console/ on its host."""
from django.urls import path
from django.views.i18n import set_language

from miniapps import console as miniapp_pages
from notifications import console as notification_pages
from shelters import console as shelter_pages

from .views import audit, auth, pages, staff
from .views.realms import CONSOLE

app_name = "console"

urlpatterns = [
    path("", pages.home, name="home"),
    path("login/", auth.login_view, {"realm": CONSOLE}, name="login"),
    path("login/verify/", auth.login_verify_view, {"realm": CONSOLE}, name="login_verify"),
    path("logout/", auth.logout_view, {"realm": CONSOLE}, name="logout"),
    path("language/", set_language, name="set_language"),
    path("account/", pages.account, name="account"),
    path("dashboard/", pages.dashboard, name="dashboard"),
    path("districts/", pages.districts, name="districts"),
    path("districts/<int:district_id>/edit/", pages.district_edit, name="district_edit"),
    path("staff/", staff.staff_list, name="staff_list"),
    path("staff/invite/", staff.staff_invite, name="staff_invite"),
    path("staff/<int:staff_id>/", staff.staff_detail, name="staff_detail"),
    path("staff/<int:staff_id>/deactivate/", staff.staff_deactivate, name="staff_deactivate"),
    path("staff/<int:staff_id>/reactivate/", staff.staff_reactivate, name="staff_reactivate"),
    path("staff/<int:staff_id>/resend-invite/", staff.staff_resend_invite, name="staff_resend_invite"),
    path("staff/<int:staff_id>/reset-2fa/", staff.staff_reset_2fa, name="staff_reset_2fa"),
    path("set-password/<str:uidb64>/<str:token>/", staff.set_password, name="set_password"),
    path("audit/", audit.audit_log, name="audit"),
    # Disaster operations (shelters app)
    path("shelters/", shelter_pages.overview, name="shelters"),
    path("shelters/disasters/", shelter_pages.disaster_control, name="disaster_control"),
    path("shelters/disasters/<int:disaster_id>/report/", shelter_pages.report, name="disaster_report"),
    path("shelters/<int:shelter_id>/reception/", shelter_pages.reception, name="shelter_reception"),
    # Push notifications (notifications app)
    path("notifications/", notification_pages.notification_list, name="notifications"),
    path("notifications/new/", notification_pages.notification_compose, name="notification_compose"),
    path("notifications/audience-size/", notification_pages.notification_audience_size,
         name="notification_audience_size"),
    path("notifications/<int:notification_id>/", notification_pages.notification_detail, name="notification_detail"),
    path("notifications/<int:notification_id>/cancel/", notification_pages.notification_cancel,
         name="notification_cancel"),
    # The municipality's mini-app catalog (mini-app framework)
    path("miniapps/", miniapp_pages.catalog, name="miniapps"),
    path("miniapps/<slug:miniapp_id>/enabled/", miniapp_pages.catalog_toggle, name="miniapp_toggle"),
    path("miniapps/<slug:miniapp_id>/move/", miniapp_pages.catalog_move, name="miniapp_move"),
]
