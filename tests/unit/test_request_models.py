"""Request bodies refuse unknown fields (issue 11, point 9): a client's typo is a 422
naming the field, never a silently ignored change."""

from __future__ import annotations

import importlib

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from libs.common.commands import Command

SERVICES = ("registry", "planner", "draw", "results", "disclosure")


def _body_models() -> list[type[BaseModel]]:
    """Every request body of every service, from the routers each service serves."""
    routes = [
        r
        for name in SERVICES
        for router in importlib.import_module(f"services.{name}.main").SPEC.routers
        for r in router.routes
    ]
    models: list[type[BaseModel]] = []
    for route in routes:
        if isinstance(route, APIRoute) and route.body_field is not None:
            annotation = route.body_field.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                models.append(annotation)
    return models


def _nested(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for arg in [field.annotation, *getattr(field.annotation, "__args__", ())]:
            for inner in [arg, *getattr(arg, "__args__", ())]:
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    _nested(inner, seen)


def test_every_request_body_and_its_parts_forbid_unknown_fields() -> None:
    seen: set[type[BaseModel]] = set()
    for model in _body_models():
        _nested(model, seen)
    assert len(seen) >= 20  # every POST/PATCH body of the five services, and their parts
    lax = sorted(m.__name__ for m in seen if m.model_config.get("extra") != "forbid")
    assert lax == []


def test_a_typo_is_refused_naming_the_field() -> None:
    class Change(Command):
        name: str = ""

    with pytest.raises(ValidationError) as caught:
        Change.model_validate({"nmae": "黄石市某商贸有限公司"})
    (error,) = caught.value.errors()
    assert error["type"] == "extra_forbidden" and error["loc"] == ("nmae",)
