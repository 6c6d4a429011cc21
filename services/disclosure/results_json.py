"""The public results page written as JSON by PostgreSQL (抽查结果公示, the API's answer).

Why: a page of 20 results cost the service more in Python than in the database: decoding
each row's columns and JSON, the allow-listed dict of :func:`national_result`, then
pydantic's validation and serialisation of the same values. On the bench machine the name
search served ~540 pages a second that way; the same search returning its page as one text
PostgreSQL had written served ~1,900 on bare uvicorn. So the API asks PostgreSQL for the
page's JSON and passes the bytes on.

The wording stays in Python: each text (outcome, pending kind, non-cooperation case,
follow-up step) is written into the SQL from the domain's dicts when this module loads,
and ``tests/integration/test_results_json.py`` requires the JSON to equal what
:func:`services.disclosure.results_query.find_results` and the ``ResultPage`` model give for
every category, follow-up step, correction and lateness. The portal and the exports keep
the Python rows.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.disclosure.domain.national import (
    FOLLOW_UP_TEXT,
    FOLLOWED_OUTCOMES,
    NON_COOPERATION_TEXT,
    PENDING_KIND_TEXT,
)
from services.disclosure.domain.public import OUTCOME_TEXT


def _literal(text: str) -> str:
    """A constant of ours as an SQL string literal (standard_conforming_strings is on)."""
    return "'" + text.replace("'", "''") + "'"


def _worded(expr: str, texts: Mapping[str, str]) -> str:
    """``texts[expr]``, or ``expr`` itself for a code without wording (as ``dict.get``)."""
    whens = " ".join(f"WHEN {_literal(code)} THEN {_literal(text)}" for code, text in texts.items())
    return f"(CASE {expr} {whens} ELSE {expr} END)"


_FOLLOWED = ", ".join(_literal(code) for code in sorted(FOLLOWED_OUTCOMES))
# A follow-up's steps are disclosed beside a result of a category that opens one only.
_STEPS = f"""(CASE WHEN r.outcome IN ({_FOLLOWED}) THEN coalesce((
    SELECT json_agg(json_build_object('step', f.step,
               'step_text', {_worded("f.step", FOLLOW_UP_TEXT)},
               'on', f."on"::text, 'receiving_department', nullif(f.receiving_department, ''))
           ORDER BY f.version)
      FROM disclosure.follow_ups f WHERE f.task_id = r.record_id), '[]') ELSE '[]' END)"""
# 备注's follow-up part: the last step that is an outcome (not the order, not the re-check).
_OUTCOME_STEP = f"""(CASE WHEN r.outcome IN ({_FOLLOWED}) THEN (
    SELECT '后续处置：' || {_worded("f.step", FOLLOW_UP_TEXT)}
           || coalesce('（' || nullif(f.receiving_department, '') || '）', '')
           || '（' || f."on"::text || '）'
      FROM disclosure.follow_ups f
     WHERE f.task_id = r.record_id AND f.step NOT IN ('ordered', 'reinspected')
     ORDER BY f.version DESC LIMIT 1) END)"""
_NON_COOPERATION = _worded("nullif(r.non_cooperation_case, '')", NON_COOPERATION_TEXT)
# As services.disclosure.domain.national.remark: the parts that apply, joined by "；".
_REMARK = f"""concat_ws('；',
    {_worded("nullif(r.pending_kind, '')", PENDING_KIND_TEXT)},
    '不配合情形：' || {_NON_COOPERATION},
    {_OUTCOME_STEP},
    CASE WHEN r.corrections <> 0 THEN '已更正' || r.corrections || '次' END,
    CASE WHEN r.late THEN '逾期公示' END)"""


def _elements(column: str) -> str:
    """The elements of a JSON array column (none when a row holds anything else: the
    projections write arrays, and a page must not fail on one row)."""
    return (
        f"jsonb_array_elements(CASE jsonb_typeof({column}) WHEN 'array' THEN {column} "
        "ELSE '[]' END)"
    )


_FINDINGS = f"""coalesce((
    SELECT json_agg(json_build_object('item_code', e.f->'item_code',
               'outcome', coalesce(e.f->>'outcome', ''),
               'outcome_text', {_worded("coalesce(e.f->>'outcome', '')", OUTCOME_TEXT)})
           ORDER BY e.n)
      FROM {_elements("r.findings")} WITH ORDINALITY e(f, n)), '[]')"""
_EDITIONS = f"""coalesce((
    SELECT json_agg(json_build_object('edition', e.x->'edition',
               'published_on', e.x->'published_on', 'outcome', e.x->'outcome',
               'outcome_text', e.x->'outcome_text') ORDER BY e.n)
      FROM {_elements("r.editions")} WITH ORDINALITY e(x, n)), '[]')"""
# pydantic's form of an aware datetime in UTC: seconds, microseconds only when not zero, Z.
_DISCLOSED_AT = """(to_char(r.disclosed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN extract(microseconds FROM r.disclosed_at)::int % 1000000 <> 0
            THEN to_char(r.disclosed_at AT TIME ZONE 'UTC', '.US') ELSE '' END || 'Z')"""

# One result, its keys in PublicResult's order (the allow-list: NATIONAL_RESULT_FIELDS and
# the three lists).
RESULT_JSON = f"""json_build_object(
    'record_id', r.record_id, 'draw_id', r.draw_id, 'plan_id', r.plan_id,
    'plan_number', r.plan_number, 'plan_name', r.plan_name,
    'task_number', r.task_number, 'task_name', r.task_name,
    'inspection_type', r.inspection_type,
    'inspecting_authority', coalesce(r.inspecting_authority, r.department),
    'department', r.department, 'region_code', r.region_code,
    'subject_identifier', r.subject_identifier, 'subject_name', r.subject_name,
    'inspected_on', r.inspected_on, 'outcome', r.outcome,
    'outcome_text', {_worded("r.outcome", OUTCOME_TEXT)}, 'remark', {_REMARK},
    'pending_kind', r.pending_kind, 'non_cooperation_case', r.non_cooperation_case,
    'non_cooperation_text', {_NON_COOPERATION},
    'decided_on', r.decided_on, 'published_on', r.published_on,
    'publication_due', r.publication_due,
    'publication_due_provisional', r.publication_due_provisional, 'late', r.late,
    'corrections', r.corrections, 'disclosed_at', {_DISCLOSED_AT},
    'findings', {_FINDINGS}, 'follow_up', {_STEPS}, 'editions', {_EDITIONS})"""


def page_json(rows: str) -> str:
    """SQL of one row: how many results ``rows`` (a query of the joined results, as
    :func:`services.disclosure.public_sql.results_select` gives) holds, the last one's
    ``record_id`` and the results as a JSON array, in ``record_id`` order."""
    # The text of a uuid sorts as the uuid in the C collation (a locale's may not).
    return f"""SELECT count(*) AS shown, max(r.record_id::text COLLATE "C") AS last,
       coalesce(string_agg(({RESULT_JSON})::text, ',' ORDER BY r.record_id), '') AS items
  FROM ({rows}) r"""
