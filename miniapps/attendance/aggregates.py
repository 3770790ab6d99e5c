"""Daily counts per class, recomputed from the reports in one SQL statement.

Every write that changes a class's reports calls `class_counts_refresh` in the same transaction,
after locking the class row, so concurrent reports for one class are counted one after another
and the counts never lose an update. Grades, schools and the board of education read sums of
these rows, which stay when the reports themselves are deleted by retention.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from django.db import connection

from .constants import ReportStatus, ReportType
from .models import AbsenceReport, DailyClassCount, Enrollment, SchoolClass

COUNT_FIELDS = ("enrolled", "absent", "late", "early_leave", "other", "infection_absent")


@dataclass(frozen=True)
class ClassDayCount:
    date: date
    enrolled: int
    absent: int
    late: int
    early_leave: int
    other: int
    infection_absent: int
    symptoms: dict[str, int]


_REFRESH_SQL = """
WITH days AS (
    SELECT d::date AS day FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS d
),
reps AS (
    SELECT days.day, r.student_id, r.type, r.symptoms
    FROM days
    JOIN {report} r
      ON r.school_class_id = %(class_id)s AND r.status <> %(withdrawn)s
     AND r.start_date <= days.day AND r.end_date >= days.day
),
by_type AS (
    SELECT day,
           count(DISTINCT student_id) FILTER (WHERE type = %(absent)s) AS absent,
           count(DISTINCT student_id) FILTER (WHERE type = %(late)s) AS late,
           count(DISTINCT student_id) FILTER (WHERE type = %(early_leave)s) AS early_leave,
           count(DISTINCT student_id) FILTER (WHERE type = %(other)s) AS other,
           count(DISTINCT student_id) FILTER (
               WHERE type = %(absent)s AND symptoms && %(infection)s::varchar[]) AS infection_absent
    FROM reps GROUP BY day
),
by_symptom AS (
    SELECT day, jsonb_object_agg(symptom, n) AS symptoms
    FROM (SELECT day, s.symptom, count(DISTINCT student_id) AS n
          FROM reps, unnest(reps.symptoms) AS s(symptom) GROUP BY day, s.symptom) AS x
    GROUP BY day
)
INSERT INTO {count} (date, school_id, school_class_id, grade, enrolled, absent, late, early_leave, other,
                     infection_absent, symptoms, updated_at)
SELECT days.day, %(school_id)s, %(class_id)s, %(grade)s,
       (SELECT count(*) FROM {enrollment} e WHERE e.school_class_id = %(class_id)s),
       coalesce(t.absent, 0), coalesce(t.late, 0), coalesce(t.early_leave, 0), coalesce(t.other, 0),
       coalesce(t.infection_absent, 0), coalesce(s.symptoms, '{{}}'::jsonb), now()
FROM days LEFT JOIN by_type t USING (day) LEFT JOIN by_symptom s USING (day)
ON CONFLICT (school_class_id, date) DO UPDATE SET
    enrolled = EXCLUDED.enrolled, absent = EXCLUDED.absent, late = EXCLUDED.late,
    early_leave = EXCLUDED.early_leave, other = EXCLUDED.other, infection_absent = EXCLUDED.infection_absent,
    symptoms = EXCLUDED.symptoms, updated_at = EXCLUDED.updated_at
RETURNING date, enrolled, absent, late, early_leave, other, infection_absent, symptoms
"""


def class_counts_refresh(*, school_class: SchoolClass, start: date, end: date,
                         infection_symptoms: list[str]) -> list[ClassDayCount]:
    """Recomputes the class's counts for every day from `start` to `end` (one statement) and returns
    them. Call with the class row locked (`select_for_update`) inside the writing transaction."""
    sql = _REFRESH_SQL.format(report=AbsenceReport._meta.db_table, count=DailyClassCount._meta.db_table,
                              enrollment=Enrollment._meta.db_table)
    params = {
        "start": start, "end": end, "class_id": school_class.pk, "school_id": school_class.school_id,
        "grade": school_class.grade, "withdrawn": ReportStatus.WITHDRAWN, "infection": list(infection_symptoms),
        "absent": ReportType.ABSENT, "late": ReportType.LATE, "early_leave": ReportType.EARLY_LEAVE,
        "other": ReportType.OTHER,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    counts = []
    for day, enrolled, absent, late, early_leave, other, infection_absent, symptoms in rows:
        if isinstance(symptoms, str):
            symptoms = json.loads(symptoms)
        counts.append(ClassDayCount(day, enrolled, absent, late, early_leave, other, infection_absent,
                                    dict(symptoms or {})))
    return sorted(counts, key=lambda count: count.date)


def sum_counts(rows) -> dict:
    """Adds up DailyClassCount-like rows (objects or dicts) into one total with merged symptoms."""
    total = {field: 0 for field in COUNT_FIELDS}
    symptoms: dict[str, int] = {}
    for row in rows:
        get = row.get if isinstance(row, dict) else (lambda name, _row=row: getattr(_row, name))
        for field in COUNT_FIELDS:
            total[field] += get(field) or 0
        for code, n in (get("symptoms") or {}).items():
            symptoms[code] = symptoms.get(code, 0) + n
    total["symptoms"] = dict(sorted(symptoms.items(), key=lambda item: (-item[1], item[0])))
    return total
