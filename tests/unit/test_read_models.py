"""What ``ssj rebuild`` knows of the read models: every consumer declares the tables it
writes, every read-model table a service creates belongs to a consumer, consumers that
share a table are rebuilt together, and the command refuses names it does not know."""

from __future__ import annotations

import re

import pytest

from libs.common import rebuild_cli
from libs.common.read_models import UnknownReadModel, read_models, service_specs, unit_of, units
from libs.common.service import ConsumerSpec, ServiceSpec

# Tables of a service's read_model_ddl that no consumer writes: the results service's
# evidence files are stored by its API, and the years whose deadlines were counted again
# are its deadline watch's own bookkeeping (services/results/recount.py), not built from
# events.
NOT_READ_MODELS = {("results", "files"), ("results", "recounted_years")}
CREATED = re.compile(r"CREATE TABLE IF NOT EXISTS (?:\{schema\}|\w+)\.(\w+)")


@pytest.mark.parametrize("spec", service_specs(), ids=lambda s: s.name)
def test_every_consumer_declares_the_tables_its_service_creates(spec: ServiceSpec) -> None:
    created = {m for ddl in spec.read_model_ddl for m in CREATED.findall(ddl)}
    declared = {t for c in spec.consumers for t in c.tables}
    assert all(c.tables for c in spec.consumers)
    assert declared <= created
    assert created - declared == {t for s, t in NOT_READ_MODELS if s == spec.name}


def test_consumers_sharing_a_table_are_one_unit() -> None:
    models = read_models()
    together = [[m.name for m in unit] for unit in units(models) if len(unit) > 1]
    assert together == [["results.assignments", "results.records"]]
    assert [m.name for m in unit_of("results.records", models)] == [
        "results.assignments",
        "results.records",
    ]
    assert [m.name for m in unit_of("disclosure.results", models)] == ["disclosure.results"]


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownReadModel) as raised:
        unit_of("disclosure.nothing", read_models())
    assert "disclosure.results" in str(raised.value)
    assert len(raised.value.known) == sum(len(s.consumers) for s in service_specs())


def test_a_table_name_that_is_not_an_identifier_is_refused() -> None:
    spec = service_specs()[0]
    bad = ConsumerSpec(name="x", source="registry", handler=None, tables=('t"; DROP',))
    odd = ServiceSpec(
        name="odd",
        title="",
        description="",
        application=spec.application,
        routers=[],
        consumers=[bad],
    )
    with pytest.raises(ValueError, match="bad table name"):
        read_models([odd])


def test_the_command_lists_and_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert rebuild_cli.main(["--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(read_models())
    assert any(line.startswith("registry.views ") for line in listed)

    assert rebuild_cli.main(["planner.nothing"]) == 2
    err = capsys.readouterr().err
    assert "unknown read model 'planner.nothing'" in err and "planner.plans" in err
    assert rebuild_cli.main([]) == 2
    assert "ssj rebuild --list" in capsys.readouterr().err
    assert rebuild_cli.main(["--all"]) == 2  # --all only compares
