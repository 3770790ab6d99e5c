"""Demo municipalities, their school districts (小学校区) and staff accounts for `make demo`."""
from __future__ import annotations

from pathlib import Path

from accounts.roles import Role

SHELTERS_DIR = Path(__file__).resolve().parents[2] / "shelters" / "demo"

SAGA_DISTRICTS = [
    ("勧興", "かんこう"), ("循誘", "じゅんゆう"), ("日新", "にっしん"), ("赤松", "あかまつ"),
    ("神野", "こうの"), ("西与賀", "にしよか"), ("嘉瀬", "かせ"), ("巨勢", "こせ"),
    ("兵庫", "ひょうご"), ("高木瀬", "たかきせ"), ("北川副", "きたかわそえ"), ("本庄", "ほんじょう"),
    ("鍋島", "なべしま"), ("金立", "きんりゅう"), ("久保泉", "くぼいずみ"), ("蓮池", "はすいけ"),
    ("若楠", "わかくす"), ("開成", "かいせい"), ("新栄", "しんえい"), ("諸富", "もろどみ"),
    ("春日", "かすが"), ("春日北", "かすがきた"), ("川上", "かわかみ"), ("松梅", "まつうめ"),
    ("富士", "ふじ"), ("北山", "ほくざん"), ("三瀬", "みつせ"), ("南川副", "みなみかわそえ"),
    ("西川副", "にしかわそえ"), ("東川副", "ひがしかわそえ"), ("東与賀", "ひがしよか"), ("久保田", "くぼた"),
]

KANZAKI_DISTRICTS = [
    ("神埼", "かんざき"), ("西郷", "さいごう"), ("仁比山", "にいやま"), ("城原", "じょうばる"),
    ("千代田西部", "ちよだせいぶ"), ("千代田中部", "ちよだちゅうぶ"), ("千代田東部", "ちよだとうぶ"), ("脊振", "せふり"),
]

DEMO_PASSWORD = "demo-pass-2026"

MUNICIPALITIES = [
    {
        "code": "412015", "name": "佐賀市", "name_kana": "さがし", "name_en": "Saga City", "prefecture": "佐賀県",
        "label": "saga", "districts": SAGA_DISTRICTS, "residents": 120,
        # Residents without a token on top (other phones), and the weeks of usage they generate.
        "population": 2400, "usage_days": 45,
        "shelters": SHELTERS_DIR / "saga_shelters.csv",
    },
    {
        "code": "412104", "name": "神埼市", "name_kana": "かんざきし", "name_en": "Kanzaki City", "prefecture": "佐賀県",
        "label": "kanzaki", "districts": KANZAKI_DISTRICTS, "residents": 40,
    },
]

# (username prefix, display name, roles); usernames become <prefix>@<label>.example
STAFF = [
    ("bousai", "防災 太郎", [Role.DISASTER_STAFF]),
    ("hinanjo", "避難所 花子", [Role.SHELTER_STAFF]),
    ("teacher", "教員 一郎", [Role.TEACHER]),
    ("moderator", "地域 次郎", [Role.COMMUNITY_MODERATOR]),
    ("analyst", "分析 三郎", [Role.ANALYST]),
]
