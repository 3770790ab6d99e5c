from accounts.roles import Role
from miniapps.manifest import Category, MiniAppConfig


class AnnouncementsConfig(MiniAppConfig):
    """お知らせ: staff announcements for everyone, a district or an interest, optionally as a popup."""

    name = "miniapps.announcements"
    label = "miniapps_announcements"
    verbose_name = "Announcements (お知らせ)"
    miniapp_id = "announcements"
    name_ja = "お知らせ"
    name_en = "Announcements"
    description_ja = "市からのお知らせ。お住まいの校区や関心に合わせて届きます。"
    description_en = "News from the city, for everyone or for your district and interests."
    category = Category.CITY_HALL
    icon = "campaign"
    api_mount = "announcements/"
    staff_api_mount = "announcements/"
    console_mount = "announcements/"
    staff_roles = (Role.MUNICIPALITY_ADMIN, Role.DISASTER_STAFF)
    default_enabled = True
    order = 10
