"""The disaster HQ report as CSV (UTF-8 with BOM for Excel), columns in Japanese."""
from __future__ import annotations

import csv
import io

COLUMNS = [
    ("shelter_name", "避難所"), ("status", "開設状況"), ("opened_at", "開設日時"), ("closed_at", "閉鎖日時"),
    ("capacity", "想定収容人数"), ("evacuees", "避難者数"), ("households", "避難世帯数"), ("level", "空き状況"),
    ("men", "男性"), ("women", "女性"), ("sex_other", "その他・不明"), ("infants", "乳幼児数"),
    ("special_care_any", "要配慮者数"), ("care_elderly", "高齢者"), ("care_disability", "障がい者"),
    ("care_pregnancy", "妊産婦"), ("care_medical_care", "医療的ケア"), ("pets", "ペット"),
    ("last_update", "避難所状況確認日時"),
]


def report_csv(report: dict) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([label for _, label in COLUMNS])
    for row in report["shelters"]:
        writer.writerow([row.get(key, "") if row.get(key) is not None else "" for key, _ in COLUMNS])
    totals = report["totals"]
    writer.writerow(["合計" if key == "shelter_name" else totals.get(key, "") for key, _ in COLUMNS])
    return buffer.getvalue()
