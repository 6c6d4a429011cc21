"""Every service keeps the token deny-list (吊销名单), and the services that do not hold
the department register (部门名录) themselves keep a copy of it, from the registry stream."""

from __future__ import annotations

import importlib

import pytest

from libs.common.service import ServiceSpec

SERVICES = ("registry", "planner", "draw", "results", "disclosure")
# The registry reads its Department aggregates.
OWN_REGISTER = {"registry"}


def _spec(name: str) -> ServiceSpec:
    spec: ServiceSpec = importlib.import_module(f"services.{name}.main").SPEC
    return spec


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_keeps_the_deny_list_and_the_register(name: str) -> None:
    spec = _spec(name)
    (register,) = [c for c in spec.consumers if c.name == "register"]
    assert register.source == "registry"
    ddl = " ".join(spec.read_model_ddl)
    assert "{schema}.revoked_tokens" in ddl
    assert "{schema}.departments_view" in ddl
    if name not in OWN_REGISTER:
        assert "department_id uuid UNIQUE NOT NULL, active boolean" in ddl
