"""The "mini-app subscribers" audience for notifications: `{"miniapp": "<id>"}` selects the residents
whose home screen shows that mini-app — in their own layout, or in the municipality's default
layout when they never arranged theirs."""
from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from accounts.models import User
from superapp.api.errors import ApiError

from .models import HomeLayout
from .selectors import catalog_known_ids, home_default_layout


def miniapp_subscribers(value):
    if not isinstance(value, str) or not value or value not in catalog_known_ids({value}):
        raise ApiError("validation_error", fields={"audience.miniapp": [
            "このミニアプリはカタログにありません。 / This mini-app is not in the catalog."]})
    default_favourites, _configured = home_default_layout()
    own_layout = HomeLayout.objects.filter(user=OuterRef("pk"))
    chose_it = Exists(own_layout.filter(favourites__contains=[value]))
    selected = Q(chose_it)
    if value in default_favourites:
        selected |= ~Exists(own_layout)
    return User.objects.filter(kind=User.Kind.RESIDENT, is_active=True).filter(selected).values("pk")
