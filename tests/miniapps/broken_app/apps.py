from miniapps.manifest import MiniAppConfig


class BrokenConfig(MiniAppConfig):
    name = "tests.miniapps.broken_app"
    label = "broken_miniapp"
    miniapp_id = "broken"
    name_ja = "壊れたミニアプリ"
    name_en = "Broken"
    description_ja = "説明"
    description_en = "Description"
    category = "food"
    icon = "bug"
