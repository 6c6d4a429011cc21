"""RegistryApplication — the only way into the registry's write side."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from psycopg import sql
from psycopg.rows import tuple_row

from libs.common.eventstore import EventStoreApp
from services.registry.domain.conflicts import Conflict
from services.registry.domain.departments import Department, UnknownDepartment
from services.registry.domain.errors import InvalidRecord, NotFound, StaleVersion
from services.registry.domain.ids import (
    conflict_id,
    department_id,
    item_id,
    subject_id,
    tag_id,
)
from services.registry.domain.inspectors import Expert, Inspector
from services.registry.domain.items import InspectionItem, version_as_of
from services.registry.domain.subjects import Subject
from services.registry.domain.tags import Tag
from services.registry.domain.writing import (
    Caller,
    WriteForbidden,
    departments_change_problem,
    registration_problem,
    require_department_writer,
    require_subject_writer,
)

JSON_COLUMNS = ("departments", "tags")  # jsonb in the read model
_ENVELOPE = {"originator_id", "originator_version", "timestamp", "meta", "originator_topic"}
A = TypeVar("A")


class RegistryApplication(EventStoreApp):
    """Commands and queries of the item list, both directories, tags and conflicts."""

    service = "registry"

    def get_typed(self, aggregate_id: UUID, kind: type[A]) -> A:
        """The aggregate of this id if it is a ``kind``; :class:`NotFound` otherwise (an id
        of another type of record is as unknown as no record: an item's id is no
        inspector)."""
        aggregate: Any
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            aggregate = None
        if not isinstance(aggregate, kind):
            raise NotFound(f"no {kind.__name__.lower()} with id {aggregate_id}")
        return aggregate

    def _get_at(self, aggregate_id: UUID, expected_version: int | None, kind: type[A]) -> A:
        aggregate: Any = self.get_typed(aggregate_id, kind)
        if expected_version is not None and aggregate.version != expected_version:
            raise StaleVersion(
                f"the record is at version {aggregate.version}, not {expected_version}"
            )
        return aggregate

    # -- department register 部门名录 -------------------------------------------------------

    def register_department(self, **fields: Any) -> Department:
        """Add a department (or an internal unit, naming its ``parent``) to the register."""
        department = Department.register(**fields)
        if department.parent:
            self.require_departments("parent", [department.parent])
        self.save(department)
        return department

    def change_department(self, code: str, expected_version: int, **fields: Any) -> Department:
        """Record the changed fields (``active=False`` deactivates); 409 if stale."""
        department: Department = self._get_at(department_id(code), expected_version, Department)
        if fields.get("parent"):
            self.require_departments("parent", [fields["parent"]])
            self._refuse_cycle(code, fields["parent"])
        department.change(**fields)
        self.save(department)
        return department

    def get_department(self, code: str) -> Department:
        """A department as it stands, from its events."""
        return self.get_typed(department_id(code), Department)

    def departments_active(self, codes: Iterable[str]) -> dict[str, bool]:
        """For each code: whether it names an active department (False when unknown).
        Read from the event store in one query, so a department registered a moment ago
        counts at once, whatever the read model's lag."""
        wanted = {department_id(c): c for c in set(codes)}
        found = self.load_many(list(wanted)) if wanted else {}
        return {code: key in found and found[key].active for key, code in wanted.items()}

    def require_departments(self, field: str, codes: Iterable[str]) -> None:
        """Refuse a write whose ``field`` names a department not in the register (or
        deactivated)."""
        codes = list(codes)
        if not codes:
            return
        active = self.departments_active(codes)
        bad = [c for c, ok in active.items() if not ok]
        if bad:
            known = self.versions([department_id(c) for c in bad])
            inactive = [c for c in bad if department_id(c) in known]
            raise UnknownDepartment(field, bad, inactive)

    def require_unit(self, field: str, fields: dict[str, Any]) -> None:
        """A unit (所: 日常监管单位, an inspector's 执法机构) is a code of the department
        register, where units sit under their department (``parent``): refuse one that is
        not there or deactivated. Empty means none recorded."""
        unit = fields.get(field)
        if unit:
            self.require_departments(field, [unit])

    def _refuse_cycle(self, code: str, parent: str) -> None:
        """A unit cannot sit under itself through its parent's parents."""
        seen = {code}
        current: str = parent
        while current:
            if current in seen:
                raise InvalidRecord(f"{parent} is {code} or one of its units: no cycles")
            seen.add(current)
            current = self.get_department(current).parent

    # -- item list 抽查事项清单 --------------------------------------------------------------

    def register_item(self, **fields: Any) -> InspectionItem:
        """Add an item to a department's list (not yet usable by plans)."""
        self.require_departments("department", [fields["department"]])
        item = InspectionItem.register(**fields)
        self.save(item)
        return item

    def change_item(self, code: str, expected_version: int, **fields: Any) -> InspectionItem:
        """Record the changed fields; 409 if the item changed since ``expected_version``."""
        item: InspectionItem = self._get_at(item_id(code), expected_version, InspectionItem)
        item.change(**fields)
        self.save(item)
        return item

    def publish_item(self, code: str) -> InspectionItem:
        """Publish an item so that plans may use it."""
        item = self.get_typed(item_id(code), InspectionItem)
        item.publish()
        self.save(item)
        return item

    def withdraw_item(self, code: str, reason: str) -> InspectionItem:
        """Withdraw a published item."""
        item = self.get_typed(item_id(code), InspectionItem)
        item.withdraw(reason)
        self.save(item)
        return item

    def get_item(self, code: str, as_of: datetime | None = None) -> InspectionItem:
        """The item as it stands now, or as it stood at ``as_of``."""
        aggregate_id = item_id(code)
        if as_of is None:
            return self.get_typed(aggregate_id, InspectionItem)
        stamps = [
            (e.originator_version, vars(e)["timestamp"]) for e in self.events.get(aggregate_id)
        ]
        version = version_as_of(stamps, as_of)
        if version is None:
            raise AggregateNotFoundError(f"item {code} did not exist at {as_of.isoformat()}")
        return self.repository.get(aggregate_id, version=version)

    # -- tag dictionary 标签字库 ------------------------------------------------------------

    def define_tag(self, **fields: Any) -> Tag:
        """Add a tag to the dictionary."""
        self.require_departments("department", [fields["department"]])
        tag = Tag.define(**fields)
        self.save(tag)
        return tag

    def _require_tags(self, codes: Iterable[str]) -> None:
        unknown = sorted(c for c in set(codes) if tag_id(c) not in self.repository)
        if unknown:
            raise InvalidRecord(f"tags not in the tag dictionary: {unknown}")

    # -- subject directory 检查对象名录库 ---------------------------------------------------

    def register_subject(self, *, by: Caller, **fields: Any) -> Subject:
        """Add a subject to the directory (its identifier must be new); a department
        registers only subjects it supervises."""
        problem = registration_problem(by, fields.get("departments", ()))
        if problem:
            raise WriteForbidden(problem)
        self.require_departments("departments", fields.get("departments", ()))
        self.require_unit("supervising_unit", fields)
        self._require_tags(fields.get("tags", ()))
        subject = Subject.register(**fields)
        self.save(subject)
        return subject

    def get_subject(self, identifier: str) -> Subject:
        """A subject as it stands."""
        return self.get_typed(subject_id(identifier), Subject)

    def change_subject(
        self, identifier: str, expected_version: int, *, by: Caller, **fields: Any
    ) -> Subject:
        """Record the changed fields of a subject (by a department supervising it, or the
        office; a department takes the subject away from no other department)."""
        subject = self._get_at(subject_id(identifier), expected_version, Subject)
        require_subject_writer(by, subject, "changing it")
        if "departments" in fields:
            problem = departments_change_problem(by, subject.departments, fields["departments"])
            if problem:
                raise WriteForbidden(problem)
        self.require_departments("departments", fields.get("departments", ()))
        self.require_unit("supervising_unit", fields)
        self._require_tags(fields.get("tags", ()))
        subject.change(**fields)
        self.save(subject)
        return subject

    def change_subject_status(
        self, identifier: str, status: str, reason: str, *, by: Caller
    ) -> Subject:
        """Registration status (存续, 注销, 吊销, 迁出, 撤销) as its own event."""
        subject = self.get_typed(subject_id(identifier), Subject)
        require_subject_writer(by, subject, "its registration status (登记状态)")
        subject.change_status(status, reason)
        self.save(subject)
        return subject

    def classify_subject(
        self, identifier: str, risk_class: str, reason: str, effective_on: date, *, by: Caller
    ) -> Subject:
        """A new credit-risk class, kept in the subject's history."""
        subject = self.get_typed(subject_id(identifier), Subject)
        require_subject_writer(by, subject, "its credit-risk class (信用风险分类)")
        subject.classify(risk_class, reason, effective_on)
        self.save(subject)
        return subject

    def set_subject_listing(
        self,
        identifier: str,
        list_name: str,
        listed: bool,
        reason: str,
        decided_on: date,
        *,
        by: Caller,
    ) -> Subject:
        """Put a subject on, or take it off, 经营异常名录 / 严重违法失信名单."""
        subject = self.get_typed(subject_id(identifier), Subject)
        require_subject_writer(by, subject, "listing it (经营异常名录 / 严重违法失信名单)")
        subject.set_listing(list_name, listed, reason, decided_on)
        self.save(subject)
        return subject

    # -- inspectors and experts 执法检查人员/专家名录库 -----------------------------------

    def register_inspector(self, **fields: Any) -> Inspector:
        """Add an inspector to the directory."""
        self.require_departments("department", [fields["department"]])
        self.require_unit("unit", fields)
        inspector = Inspector.register(**fields)
        self.save(inspector)
        return inspector

    def get_inspector(self, aggregate_id: UUID) -> Inspector:
        """An inspector as it stands."""
        return self.get_typed(aggregate_id, Inspector)

    def change_inspector_status(
        self, aggregate_id: UUID, status: str, reason: str, *, by: Caller
    ) -> Inspector:
        """在岗 / 暂停 / 调离, by the inspector's department or the office."""
        inspector = self.get_typed(aggregate_id, Inspector)
        require_department_writer(by, inspector.department, "change the status of an inspector")
        inspector.change_status(status, reason)
        self.save(inspector)
        return inspector

    def register_expert(self, **fields: Any) -> Expert:
        """Add an expert to the pool."""
        expert = Expert.register(**fields)
        self.save(expert)
        return expert

    # -- conflicts of interest 回避关系 ----------------------------------------------------

    def declare_conflict(
        self,
        *,
        inspector: UUID,
        subject_identifier: str,
        reason: str,
        detail: str,
        declared_on: date,
        by: Caller,
    ) -> Conflict:
        """Record that an inspector must not inspect a subject (by the inspector's
        department or the office)."""
        found = self.get_typed(inspector, Inspector)
        require_department_writer(by, found.department, "declare conflicts of an inspector")
        subject = self.get_typed(subject_id(subject_identifier), Subject)
        conflict = Conflict.declare(
            inspector_id=str(inspector),
            subject_id=str(subject.id),
            reason=reason,
            detail=detail,
            declared_on=declared_on,
        )
        self.save(conflict)
        return conflict

    def lift_conflict(
        self, inspector: UUID, subject_identifier: str, reason: str, *, by: Caller
    ) -> Conflict:
        """End a conflict-of-interest record (by the inspector's department or the office)."""
        found = self.get_typed(inspector, Inspector)
        require_department_writer(by, found.department, "lift conflicts of an inspector")
        conflict = self.get_typed(conflict_id(inspector, subject_id(subject_identifier)), Conflict)
        conflict.lift(reason, date.today())
        self.save(conflict)
        return conflict

    # -- bulk import support -----------------------------------------------------------

    def subject_states(
        self, ids: list[UUID], columns: tuple[str, ...]
    ) -> dict[UUID, tuple[int, tuple[Any, ...] | None]]:
        """For each of these subjects that exists: the version of its last event, and its
        read-model ``columns`` (JSON ones as text) if the read model has it at that version
        (else None, also when there is no read model: a bare event store). One query."""
        with self.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            cur.execute("SELECT to_regclass('registry.subjects_view')")
            row = cur.fetchone()
            has_view = row is not None and row[0] is not None
        if not has_view:
            return {key: (version, None) for key, version in self.versions(ids).items()}
        with self.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            wanted = sql.SQL(", ").join(
                sql.SQL("v.{}::text").format(sql.Identifier(c))
                if c in JSON_COLUMNS
                else sql.SQL("v.{}").format(sql.Identifier(c))
                for c in columns
            )
            cur.execute(
                sql.SQL(
                    "SELECT i.id, e.version, v.version, {} FROM unnest(%s::uuid[]) AS i(id) "
                    "JOIN LATERAL (SELECT max(originator_version) AS version FROM {} "
                    "WHERE originator_id = i.id) e ON e.version IS NOT NULL "
                    "LEFT JOIN registry.subjects_view v ON v.id = i.id"
                ).format(wanted, self.events_sql),
                (ids,),
            )
            return {r[0]: (r[1], r[3:] if r[2] == r[1] else None) for r in cur.fetchall()}

    # -- history ---------------------------------------------------------------------------

    def history(self, aggregate_id: UUID) -> list[dict[str, Any]]:
        """Every stored event of one aggregate, oldest first, with who and when."""
        return [
            {
                "version": e.originator_version,
                "type": type(e).__qualname__.rpartition(".")[2],
                "timestamp": vars(e)["timestamp"],
                "meta": getattr(e, "meta", {}),
                "data": {k: v for k, v in vars(e).items() if k not in _ENVELOPE},
            }
            for e in self.events.get(aggregate_id)
        ]
