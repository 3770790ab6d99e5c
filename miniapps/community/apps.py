from accounts.roles import Role
from miniapps.manifest import Category, MiniAppConfig


class CommunityConfig(MiniAppConfig):
    """地域共創: district boards, events with join/decline, the photo map and thank-you points."""

    name = "miniapps.community"
    label = "community"
    verbose_name = "地域共創 / Community"
    miniapp_id = "community"
    name_ja = "地域共創"
    name_en = "Community"
    description_ja = "校区の掲示板・イベントの参加登録・写真マップ・ありがとうポイントで、ご近所のつながりを。"
    description_en = "Your school district's board, events you can join, a photo map and thank-you points."
    category = Category.COMMUNITY
    icon = "groups"
    api_mount = "community/"
    staff_api_mount = "community/"
    console_mount = "community/"
    staff_roles = (Role.COMMUNITY_MODERATOR,)
    default_enabled = True
    order = 40

    def ready(self) -> None:
        from . import images

        images.register_decoders()
