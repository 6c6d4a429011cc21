"""SQL the public answers, the portal and the exports share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

# A result with its plan's and task's numbers and names and the 检查机关's name and region,
# joined as read (the planner's and the register's streams are consumed apart). ``{rows}``
# is the results table, or a subquery that has already filtered, ordered and limited it:
# joined after the LIMIT, a look-up that matches thousands of rows expands only the page's
# plans' batches (joined before, a two-character name search sorted them all: 1.4 s p50).
RESULTS_OF = """SELECT r.record_id, r.draw_id, r.plan_id, r.department, r.subject_identifier,
       r.subject_name, r.inspected_on, r.outcome, r.findings, r.corrections, r.disclosed_at,
       r.pending_kind, r.non_cooperation_case, r.decided_on, r.published_on,
       r.publication_due, r.publication_due_provisional, r.late, r.editions,
       p.number AS plan_number, p.title AS plan_name, b.task_number, b.task_name,
       coalesce(b.directed_type, r.inspection_type) AS inspection_type,
       nullif(d.name, '') AS inspecting_authority, nullif(d.region_code, '') AS region_code
  FROM {rows} r
  LEFT JOIN disclosure.plans p ON p.plan_id = r.plan_id
  LEFT JOIN LATERAL (
       SELECT x->>'task_number' AS task_number, x->>'name' AS task_name,
              CASE WHEN (x->>'directed')::boolean THEN '定向抽查' ELSE '不定向抽查' END
                  AS directed_type
         FROM jsonb_array_elements(p.batches) x WHERE x->>'batch_id' = r.batch_id LIMIT 1
  ) b ON true
  LEFT JOIN disclosure.departments_view d ON d.code = r.department"""


def results_select(rows: str = "disclosure.results") -> str:
    """:data:`RESULTS_OF` over ``rows``."""
    return RESULTS_OF.replace("{rows}", rows)


# The item list as it stood at the end of a day in Beijing: each item's last version by
# then, if it was published then.
ITEMS_ON_SQL = """
SELECT item_id, code, department, name, category, ratio, methods, legal_basis,
       at AS published_at
  FROM (SELECT DISTINCT ON (item_id) * FROM disclosure.item_versions
         WHERE at < $7 ORDER BY item_id, version DESC) v
 WHERE published AND ($1::text IS NULL OR department = $1)
   AND ($4::text IS NULL OR (department, code, item_id) > ($4, $5, $6::uuid))
 ORDER BY department, code, item_id LIMIT $2 OFFSET $3"""
ITEMS_SQL = """
SELECT item_id, code, department, name, category, ratio, methods, legal_basis, published_at
  FROM disclosure.items WHERE published AND ($1::text IS NULL OR department = $1)
   AND ($4::text IS NULL OR (department, code, item_id) > ($4, $5, $6::uuid))
 ORDER BY department, code, item_id LIMIT $2 OFFSET $3"""


async def fetch_items(
    db: asyncpg.Pool,
    *,
    department: str | None = None,
    until: datetime | None = None,
    limit: int,
    offset: int = 0,
    after: list[Any] | None = None,
) -> list[asyncpg.Record]:
    """Published items by department, code and id: as they stand, or as they stood just
    before ``until``; ``after`` the (department, code, item_id) a page ends with."""
    args = [department, limit, offset, *(after or [None, None, None])]
    if until is None:
        return await db.fetch(ITEMS_SQL, *args)
    return await db.fetch(ITEMS_ON_SQL, *args, until)
