"""URLs of the platform console, mounted at /platform/ on the bare platform host."""
from django.urls import path
from django.views.i18n import set_language

from ..views import auth
from ..views.realms import PLATFORM
from . import views

app_name = "platform"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth.login_view, {"realm": PLATFORM}, name="login"),
    path("login/verify/", auth.login_verify_view, {"realm": PLATFORM}, name="login_verify"),
    path("logout/", auth.logout_view, {"realm": PLATFORM}, name="logout"),
    path("language/", set_language, name="set_language"),
    path("account/", views.account, name="account"),
    path("onboard/", views.onboard, name="onboard"),
    path("municipalities/<str:code>/suspend/", views.suspend, name="suspend"),
    path("municipalities/<str:code>/resume/", views.resume, name="resume"),
]
