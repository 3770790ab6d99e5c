"""The garbage calendar's manifest (MiniAppConfig): id, names, home-screen category and URL mounts."""
from accounts.roles import Role
from miniapps.manifest import Category, MiniAppConfig


class GarbageConfig(MiniAppConfig):
    name = "miniapps.garbage"
    label = "miniapps_garbage"
    verbose_name = "Garbage calendar (ごみカレンダー)"
    default_auto_field = "django.db.models.BigAutoField"
    miniapp_id = "garbage"
    name_ja = "ごみカレンダー"
    name_en = "Garbage calendar"
    description_ja = "お住まいの地区のごみ収集日と分別方法、前日のお知らせ、粗大ごみ収集の予約。"
    description_en = "Collection days and sorting rules for your area, reminders, and oversized-garbage pickup booking."
    category = Category.LIFE
    icon = "delete"
    api_mount = "garbage/"  # api/urls.py at /api/v1/garbage/
    console_mount = "garbage/"  # console/urls.py at /console/garbage/
    staff_roles = (Role.MUNICIPALITY_ADMIN,)  # until the city names a sanitation role (see console section)
    default_enabled = True
    order = 20
