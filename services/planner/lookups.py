"""Look-ups of the planner's read models that its commands rely on, and its clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.rows import tuple_row

from libs.common.eventstore import EventStoreApp
from services.planner.domain.errors import InvalidPlan
from services.planner.domain.modes import CODE, PlanMode, mode_id
from services.planner.domain.plan import Plan

# Plans are published on Chinese calendar days, whatever the server's clock zone.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def today_in_china() -> date:
    """The current date in China (UTC+8)."""
    return datetime.now(CHINA).date()


class PlannerLookups(EventStoreApp):
    """The base of the planner's commands: its clock and its read models."""

    def today(self) -> date:
        """Today in China: the date steps are recorded and deadlines are checked on."""
        return today_in_china()

    def _rows(self, query: str, table: str, *args: Any) -> list[tuple[Any, ...]]:
        with self.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(
                sql.SQL(query).format(sql.Identifier(self.schema, table)),
                args,
            )
            return cur.fetchall()

    def get_plan(self, plan_id: UUID) -> Plan:
        """The plan as it stands, from its events (InvalidPlan if the id is no plan's)."""
        found: object = self.repository.get(plan_id)
        if not isinstance(found, Plan):
            raise InvalidPlan(f"{plan_id} is not a plan")
        return found

    def find_mode(self, code: str) -> PlanMode | None:
        """The mode (联查模式) with this code, if defined."""
        if not CODE.fullmatch(code) or mode_id(code) not in self.repository:
            return None
        found: object = self.repository.get(mode_id(code))
        return found if isinstance(found, PlanMode) else None

    def departments_active(self, codes: Sequence[str]) -> dict[str, bool]:
        """Whether each of these departments is active, as the planner's copy of the
        registry's department register says (built from the registry stream, which carries a
        department before any item of it); codes it does not hold are left out."""
        rows = self._rows(
            "SELECT code, active FROM {} WHERE code = ANY(%s)", "departments_view", list(codes)
        )
        return {code: active for code, active in rows}

    def department_region(self, code: str) -> str:
        """The region (GB/T 2260) of a department of the register ("000000" if unknown)."""
        rows = self._rows("SELECT region_code FROM {} WHERE code = %s", "departments_view", code)
        return str(rows[0][0]) if rows and rows[0][0] else "000000"

    def drawn_batches(self, plan_id: UUID) -> set[str]:
        """Batches of the plan a draw has been announced for (the draw stream says)."""
        rows = self._rows("SELECT batch_id FROM {} WHERE plan_id = %s", "drawn_batches", plan_id)
        return {str(r[0]) for r in rows}

    def item_kinds(self, codes: Sequence[str]) -> dict[str, list[str]]:
        """The subject kinds (主体类型) each item applies to, from the planner's item list."""
        rows = self._rows(
            "SELECT code, subject_kinds FROM {} WHERE code = ANY(%s)", "items_view", list(codes)
        )
        return {code: list(kinds) for code, kinds in rows}

    def catalogue(self, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
        """What the planner knows of these items (published, methods, ratio …)."""
        columns = ("code", "department", "name", "category", "ratio", "methods", "published")
        rows = self._rows(
            f"SELECT {', '.join(columns)} FROM {{}} WHERE code = ANY(%s)",
            "items_view",
            list(codes),
        )
        return {r[0]: dict(zip(columns, r, strict=True)) for r in rows}
