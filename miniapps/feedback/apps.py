from accounts.roles import Role
from miniapps.manifest import Category, MiniAppConfig


class FeedbackConfig(MiniAppConfig):
    """ご意見投稿: residents send opinions, requests and bug reports; staff answer in the console."""

    name = "miniapps.feedback"
    label = "miniapps_feedback"
    verbose_name = "Feedback (ご意見投稿)"
    miniapp_id = "feedback"
    name_ja = "ご意見投稿"
    name_en = "Feedback"
    description_ja = "市やアプリへのご意見・ご要望を送れます。回答はアプリで確認できます。"
    description_en = "Send the city your opinions and requests, and read the answer in the app."
    category = Category.CITY_HALL
    icon = "feedback"
    api_mount = "feedback/"
    staff_api_mount = "feedback/"
    console_mount = "feedback/"
    staff_roles = (Role.MUNICIPALITY_ADMIN, Role.COMMUNITY_MODERATOR)
    default_enabled = True
    order = 90
