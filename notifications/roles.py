"""Which staff may send what. Municipality admins always pass (accounts.selectors.user_has_role).

* disaster (防災・災害情報): disaster staff (防災担当).
* community, events (地域・イベント): community moderators (地域モデレーター).
* garbage, city news (ごみ・市からのお知らせ): municipality admins only, until the city names a role.
* school (学校からの連絡): nobody through the staff API; the attendance app sends it as the system
  (`services.notification_send_system`) when a school acts.
* Audience sizes: anyone who may send something. Notification details and delivery stats: senders
  and analysts (データ分析担当), who report on reach.
"""
from __future__ import annotations

from accounts.roles import Role

from .models import Topic

TOPIC_SENDER_ROLES: dict[str, tuple[str, ...]] = {
    Topic.DISASTER: (Role.DISASTER_STAFF,),
    Topic.COMMUNITY: (Role.COMMUNITY_MODERATOR,),
    Topic.EVENTS: (Role.COMMUNITY_MODERATOR,),
    Topic.GARBAGE: (Role.MUNICIPALITY_ADMIN,),
    Topic.CITY_NEWS: (Role.MUNICIPALITY_ADMIN,),
}
# The topics the staff composer offers (the keys above, in Topic order).
STAFF_TOPICS: tuple[str, ...] = tuple(t for t in Topic.values if t in TOPIC_SENDER_ROLES)
SENDER_ROLES: tuple[str, ...] = tuple(sorted({role for roles in TOPIC_SENDER_ROLES.values() for role in roles}))
STATS_ROLES: tuple[str, ...] = SENDER_ROLES + (Role.ANALYST,)


def may_send(user, topic: str) -> bool:
    """Whether `user` may send (and cancel) notifications of `topic`."""
    from accounts.selectors import user_has_role

    roles = TOPIC_SENDER_ROLES.get(topic)
    return roles is not None and user_has_role(user, *roles)


def sendable_topics(user) -> list[str]:
    """The topics `user` may send, in the order of `Topic`."""
    return [topic for topic in Topic.values if may_send(user, topic)]
