from accounts.roles import Role
from miniapps.manifest import Category, MiniAppConfig


class AttendanceConfig(MiniAppConfig):
    """学校出欠連絡: guardians report absence, lateness and early leave; teachers read the day's class
    list; principals, school nurses and the board of education see counts and outbreak alerts."""

    name = "miniapps.attendance"
    label = "miniapps_attendance"
    verbose_name = "School attendance (学校出欠連絡)"
    default_auto_field = "django.db.models.BigAutoField"
    miniapp_id = "attendance"
    name_ja = "学校出欠連絡"
    name_en = "School attendance"
    description_ja = "お子さまの欠席・遅刻・早退を、朝の電話のかわりにアプリから学校へ連絡できます。"
    description_en = "Tell your child's school about an absence, lateness or early leave from the app "\
                     "instead of phoning in the morning."
    category = Category.CHILDCARE_EDUCATION
    icon = "school"
    api_mount = "attendance/"
    staff_api_mount = "attendance/"
    console_mount = "attendance/"
    staff_roles = (Role.TEACHER,)
    # Useless to residents until the municipality's schools and rosters are imported: staff switch it on.
    default_enabled = False
    order = 30
