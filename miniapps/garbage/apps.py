from accounts.roles import Role
from miniapps.manifest import Category, MiniAppConfig


class GarbageConfig(MiniAppConfig):
    """ごみカレンダー. This is the manifest only: areas, collection rules (5374 data), the sorting
    dictionary and reminders arrive with the garbage-calendar issue, under the same id and mount."""

    name = "miniapps.garbage"
    label = "miniapps_garbage"
    verbose_name = "Garbage calendar (ごみカレンダー)"
    miniapp_id = "garbage"
    name_ja = "ごみカレンダー"
    name_en = "Garbage calendar"
    description_ja = "お住まいの地区のごみ収集日と分別方法。"
    description_en = "Collection days and sorting rules for your area."
    category = Category.LIFE
    icon = "delete"
    api_mount = "garbage/"
    staff_roles = (Role.MUNICIPALITY_ADMIN,)
    default_enabled = True
    order = 20
