"""Who may write what in the registry (services/registry/domain/writing.py) and the keyed
public ids (services/registry/domain/ids.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from services.registry.domain import ids
from services.registry.domain.writing import (
    departments_change_problem,
    may_full_sync,
    may_write_for,
    may_write_subject,
    registration_problem,
)
from services.registry.settings import id_key


@dataclass(frozen=True)
class Who:
    dept: str
    roles: frozenset[str]


@dataclass
class Supervised:
    departments: list[str] = field(default_factory=list)


OFFICE = Who("OFFICE", frozenset({"office"}))
SAMR = Who("SAMR", frozenset({"operator"}))
TAX = Who("TAX", frozenset({"operator"}))
NOBODY = Who("", frozenset({"operator"}))
SAMR_INSPECTOR = Who("SAMR", frozenset({"inspector"}))
SAMR_AUDITOR = Who("SAMR", frozenset({"auditor"}))


def test_a_subject_is_written_by_a_supervising_department_or_the_office() -> None:
    joint = Supervised(["SAMR", "TAX"])
    samr_only = Supervised(["SAMR"])
    assert may_write_subject(SAMR, joint) and may_write_subject(TAX, joint)
    assert may_write_subject(SAMR, samr_only)
    assert not may_write_subject(TAX, samr_only)
    assert may_write_subject(OFFICE, samr_only) and may_write_subject(OFFICE, Supervised())


def test_a_caller_without_department_or_operator_role_never_writes_as_a_department() -> None:
    for caller in (NOBODY, SAMR_INSPECTOR, SAMR_AUDITOR):
        assert not may_write_subject(caller, Supervised(["SAMR", ""]))
        assert not may_write_for(caller, caller.dept)
    assert not may_write_subject(NOBODY, Supervised([""]))


def test_a_department_registers_only_subjects_it_supervises() -> None:
    assert registration_problem(SAMR, ["SAMR", "TAX"]) is None
    assert registration_problem(TAX, ["SAMR"]) is not None
    assert registration_problem(TAX, []) is not None
    assert registration_problem(OFFICE, []) is None


@pytest.mark.parametrize(
    ("caller", "before", "after", "allowed"),
    [
        (TAX, ["SAMR", "TAX"], ["TAX"], False),  # takes the subject from SAMR
        (TAX, ["SAMR", "TAX"], ["SAMR"], True),  # steps back itself
        (SAMR, ["SAMR"], ["SAMR", "TAX"], True),  # adds a department
        (SAMR, ["SAMR", "TAX"], ["SAMR", "EPB"], False),  # swaps TAX out
        (SAMR, ["SAMR"], [], False),  # leaves the subject with nobody
        (OFFICE, ["SAMR", "TAX"], ["EPB"], True),
        (OFFICE, ["SAMR"], [], True),
    ],
)
def test_a_department_takes_a_subject_from_no_other_department(
    caller: Who, before: list[str], after: list[str], allowed: bool
) -> None:
    assert (departments_change_problem(caller, before, after) is None) is allowed


def test_only_the_office_runs_a_full_sync() -> None:
    assert may_full_sync(OFFICE)
    assert not any(may_full_sync(c) for c in (SAMR, TAX, NOBODY, SAMR_AUDITOR))


def test_private_ids_are_keyed_and_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    name_based = uuid.uuid5(ids.NAMESPACE, "inspector:SAMR:SAMR-00001")
    first = ids.inspector_id("SAMR", "SAMR-00001")
    assert first != name_based and first == ids.inspector_id("SAMR", "SAMR-00001")
    assert first.version == 8 and first.variant == uuid.RFC_4122
    assert ids.expert_id("食品", "王五", "某大学") != uuid.uuid5(
        ids.NAMESPACE, "expert:食品:王五:某大学"
    )
    subject = ids.subject_id("91420200MA4KXXXX0X")
    assert ids.conflict_id(first, subject) != uuid.uuid5(
        ids.NAMESPACE, f"conflict:{first}:{subject}"
    )
    # Another key, other ids: whoever lacks the key cannot check a guess.
    monkeypatch.setenv("SSJ_ID_KEY", "another-key-of-another-deployment")
    id_key.cache_clear()
    try:
        assert ids.inspector_id("SAMR", "SAMR-00001") != first
    finally:
        monkeypatch.delenv("SSJ_ID_KEY")
        id_key.cache_clear()
    assert ids.inspector_id("SAMR", "SAMR-00001") == first


def test_ids_of_public_codes_stay_name_based() -> None:
    assert ids.subject_id("X") == uuid.uuid5(ids.NAMESPACE, "subject:X")
    assert ids.item_id("X") == uuid.uuid5(ids.NAMESPACE, "item:X")
    assert ids.department_id("X") == uuid.uuid5(ids.NAMESPACE, "department:X")
