"""The department register 部门名录: codes, levels, regions, changes and deactivation."""

from __future__ import annotations

import pytest

from services.planner.domain.errors import UnknownDepartment as PlanUnknownDepartment
from services.planner.domain.plan import check_registered
from services.registry.domain.departments import Department, UnknownDepartment
from services.registry.domain.errors import InvalidRecord
from services.registry.domain.ids import department_id
from tests.builders import department_payload


def test_a_department_is_registered_under_a_deterministic_id_and_active() -> None:
    department = Department.register(**department_payload("420000-SAMR", level="province"))
    assert department.id == department_id("420000-SAMR")
    assert department.active and department.parent == ""


@pytest.mark.parametrize("code", ["", "samr", "SAMR ", "市场监管", "S:AMR", "-SAMR", "A" * 33])
def test_codes_are_short_upper_case_ascii(code: str) -> None:
    with pytest.raises(InvalidRecord, match="department code"):
        Department.register(**department_payload(code))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "   ", "name"),
        ("level", "township", "level"),
        ("region_code", "429999", "region"),
        ("parent", "SAMR", "own parent"),
    ],
)
def test_fields_follow_the_register_rules(field: str, value: str, message: str) -> None:
    with pytest.raises(InvalidRecord, match=message):
        Department.register(**department_payload("SAMR", **{field: value}))


def test_a_change_records_only_what_differs_and_deactivation_keeps_the_department() -> None:
    department = Department.register(**department_payload("TAX"))
    assert department.change(name=department.name, level="city") == {}
    assert department.change(name="黄石市税务局", active=False) == {
        "name": "黄石市税务局",
        "active": False,
    }
    assert not department.active and department.version == 2
    with pytest.raises(InvalidRecord, match="cannot be changed"):
        department.change(code="TAX2")


def test_unknown_department_names_the_field_and_tells_unknown_from_deactivated() -> None:
    error = UnknownDepartment("departments", ["XYZ", "OLD"], inactive=["OLD"])
    assert "XYZ" in str(error) and "deactivated: ['OLD']" in str(error)
    (entry,) = error.problem_extensions["errors"]
    assert entry["field"] == "departments" and entry["code"] == "unknown_department"
    assert entry["departments"] == ["OLD", "XYZ"]


def test_a_plan_naming_a_department_outside_the_register_is_refused() -> None:
    active = {"SAMR": True, "TAX": True, "OLD": False}
    check_registered("SAMR", ["TAX"], active)
    with pytest.raises(PlanUnknownDepartment) as initiating:
        check_registered("NOPE", ["TAX"], active)
    assert initiating.value.field == "initiating_department"
    with pytest.raises(PlanUnknownDepartment) as participating:
        check_registered("SAMR", ["TAX", "OLD"], active)
    assert participating.value.field == "participating_departments"
    assert participating.value.codes == ["OLD"]
