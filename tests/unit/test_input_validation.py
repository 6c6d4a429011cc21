"""The door's text rules (libs/common/text.py) and the bound on every command
(libs/common/commands.py), and that every request of the five services is bounded."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from libs.common.commands import MAX_COMMAND_BYTES, Command, wire_size
from libs.common.service import create_app
from libs.common.text import (
    Code,
    Identifier,
    Line,
    Name,
    Text,
    TextError,
    clean,
    line,
    multiline,
)


class Form(BaseModel):
    name: Name
    note: Text = ""
    short: Annotated[str, line(5)] = ""
    short_text: Annotated[str, multiline(5)] = ""
    code: Code = "C1"
    identifier: Identifier = "91420200MA4KXXXX0X"
    line_: Line = ""


def _error(**fields: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as caught:
        Form(**{"name": "x", **fields})
    (error,) = caught.value.errors()
    return dict(error)


def test_text_is_folded_to_nfc() -> None:
    decomposed = "e\u0301 \u1100\u1161 A\u030a"  # é, 가, Å written as base + combining marks
    form = Form(name=decomposed, note=decomposed)
    assert form.name == form.note == unicodedata.normalize("NFC", decomposed) == "é 가 Å"


@pytest.mark.parametrize(
    "char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x80", "\x9f"]
)
def test_nul_and_c0_c1_controls_are_refused_everywhere(char: str) -> None:
    for field in ("name", "note"):
        error = _error(**{field: f"黄石{char}商贸"})
        assert error["loc"] == (field,)
        assert error["type"] == "forbidden_character"
        assert f"U+{ord(char):04X}" in error["msg"] and "position 2" in error["msg"]


@pytest.mark.parametrize("char", ["\ud800", "\udfff", "\ufffe", "\uffff", "\ufdd0", "\U0010ffff"])
def test_lone_surrogates_and_noncharacters_are_refused(char: str) -> None:
    assert _error(note=f"a{char}b")["type"] == "forbidden_character"


@pytest.mark.parametrize("char", ["\t", "\n", "\r", "\u2028", "\u2029"])
def test_tab_and_line_breaks_only_in_multi_line_fields(char: str) -> None:
    assert _error(name=f"a{char}b")["type"] in {"forbidden_character", "line_break"}
    assert Form(name="x", note=f"a{char}b").note in {"a\tb", "a\nb", "a\u2028b", "a\u2029b"}


def test_carriage_returns_become_newlines_in_multi_line_fields() -> None:
    assert Form(name="x", note="一\r\n二\r三\n").note == "一\n二\n三\n"


def test_format_characters_and_astral_text_are_kept() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # ZWJ sequence
    rtl = "\u05e9\u05dc\u05d5\u05dd \u200f\u0645\u0631\u062d\u0628\u0627"
    value = f"{family} {rtl} \U00020000\U0002a6d6 zero\u200bwidth"
    assert Form(name=value).name == value


def test_lengths_are_counted_after_nfc() -> None:
    # Five characters written as ten code points fit a five-character field ...
    assert Form(name="x", short="e\u0301" * 5).short == "é" * 5
    assert Form(name="x", short_text="e\u0301" * 5).short_text == "é" * 5
    # ... and a composition exclusion that NFC expands no longer does.
    expands = "\u0958"  # DEVANAGARI QA: NFC is KA + NUKTA
    assert len(unicodedata.normalize("NFC", expands * 3)) == 6
    assert _error(short=expands * 3)["type"] == "string_too_long"


def test_limits_and_patterns() -> None:
    assert Form(name="字" * 200).name == "字" * 200
    assert _error(name="字" * 201)["type"] == "string_too_long"
    assert _error(name="")["type"] == "string_too_short"
    assert _error(code="SC 2026")["type"] == "string_pattern_mismatch"
    assert _error(code="编码")["type"] == "string_pattern_mismatch"
    assert _error(identifier="91420200MA4KXXXX0X;")["type"] == "string_pattern_mismatch"
    assert _error(name=42)["type"] == "string_type"


def test_clean_is_what_the_bulk_import_calls() -> None:
    assert clean(" A\u030a ", max_length=3) == " Å "
    with pytest.raises(TextError) as caught:
        clean("a\x00b")
    assert caught.value.code == "forbidden_character"
    with pytest.raises(TextError):
        clean("abcd", max_length=3)


class Small(Command):
    max_bytes = 200
    text: Text


def test_a_command_is_measured_as_the_relay_encodes_it() -> None:
    assert wire_size({"t": "\U0001f600"}) == len('{"t":"\\ud83d\\ude00"}')
    Small(text="a" * 150)
    with pytest.raises(ValidationError) as caught:
        Small(text="\U0001f600" * 20)  # 20 characters, 240 bytes on the wire
    (error,) = caught.value.errors()
    assert error["loc"] == ("text",) and error["type"] == "event_too_large"
    assert "at most 200" in error["msg"]


# --- every request of the five services is bounded --------------------------------------

SERVICES = ("registry", "planner", "draw", "results", "disclosure")
# Values JSON schema bounds without maxLength: formats pydantic checks strictly.
BOUNDED_FORMATS = {"uuid", "date", "date-time", "binary"}


def _openapi(service: str) -> dict[str, Any]:
    module = __import__(f"services.{service}.main", fromlist=["SPEC"])
    return create_app(module.SPEC).openapi()


def _unbounded(schema: dict[str, Any], defs: dict[str, Any], where: str) -> Iterator[str]:
    """Places under ``schema`` a client could make arbitrarily large."""
    if "$ref" in schema:
        yield from _unbounded(defs[schema["$ref"].rsplit("/", 1)[1]], defs, where)
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            yield from _unbounded(option, defs, where)
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        return
    if kind == "string" and "maxLength" not in schema:
        if schema.get("format") not in BOUNDED_FORMATS and "pattern" not in schema:
            yield f"{where}: string without maxLength"
        elif "pattern" in schema and any(c in schema["pattern"] for c in ("*", "+", ",}")):
            yield f"{where}: pattern {schema['pattern']} without a length"
    if kind in ("integer", "number") and (
        "maximum" not in schema and "exclusiveMaximum" not in schema
    ):
        yield f"{where}: {kind} without maximum"
    if kind in ("integer", "number") and (
        "minimum" not in schema and "exclusiveMinimum" not in schema
    ):
        yield f"{where}: {kind} without minimum"
    if kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: array without maxItems"
        yield from _unbounded(schema.get("items", {}), defs, f"{where}[]")
    if kind == "object":
        for name, sub in schema.get("properties", {}).items():
            yield from _unbounded(sub, defs, f"{where}.{name}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            if "enum" not in schema.get("propertyNames", {}):
                yield f"{where}: free-form object"
            yield from _unbounded(extra, defs, f"{where}.*")


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_field_list_and_number_is_bounded(service: str) -> None:
    spec = _openapi(service)
    defs = spec.get("components", {}).get("schemas", {})
    found: list[str] = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("path", "query"):
                    found += _unbounded(parameter["schema"], defs, f"{where} {parameter['name']}")
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                found += _unbounded(media.get("schema", {}), defs, f"{where} body")
    assert found == []


@pytest.mark.parametrize("service", ("registry", "planner", "draw", "results"))
def test_every_json_body_is_a_bounded_command(service: str) -> None:
    module = __import__(f"services.{service}.main", fromlist=["SPEC"])
    bodies = {
        param.field_info.annotation
        for router in module.SPEC.routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for param in route.dependant.body_params
    }
    assert bodies, service
    for annotation in bodies:
        # An optional body (a command with defaults only, e.g. publish) is ``Model | None``.
        args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
        model = args[0] if len(args) == 1 else annotation
        assert isinstance(model, type) and issubclass(model, Command), annotation
        assert model.max_bytes <= 512 * 1024 < 1024 * 1024  # NATS carries 1 MiB
    assert MAX_COMMAND_BYTES <= 512 * 1024


def test_the_largest_plan_event_fits_one_nats_message() -> None:
    """PlanCreated is the plan command plus what the domain adds: a batch id and the default
    ratios per batch, and a copy of each item (code, department, name, category, ratio)."""
    from services.planner.api import MAX_BATCHES, MAX_PLAN_ITEMS, BatchIn, PlanIn
    from services.planner.domain.batches import check_batch
    from services.planner.domain.plan import ITEM_FIELDS

    sent = BatchIn.model_validate(
        {"name": "第一批次", "starts_on": "2026-04-01", "ends_on": "2026-06-30"}
    ).model_dump(mode="json")
    per_batch = wire_size(check_batch(2026, sent, 0)) - wire_size(sent)
    item = {
        "code": "I" * 64,
        "department": "D" * 64,
        "name": "\U00020000" * 200,  # the registry's longest name, 12 bytes a character
        "category": "general",
        "ratio": 0.123456789012345,
    }
    assert set(item) == set(ITEM_FIELDS)
    envelope = 4 * 1024  # CloudEvents attributes, actor, trace and correlation ids
    worst = (
        PlanIn.max_bytes
        + MAX_PLAN_ITEMS * (wire_size(item) + 1)
        + MAX_BATCHES * per_batch
        + envelope
    )
    assert worst < 1024 * 1024


@pytest.mark.parametrize("value", [" ", "\u00a0", "\u200b", "\u3000 \u200d", "\ufeff"])
def test_a_required_field_of_only_spaces_or_format_marks_is_blank(value: str) -> None:
    with pytest.raises(TextError) as refused:
        clean(value, min_length=1)
    assert refused.value.code == "blank"
    assert clean(value) == unicodedata.normalize("NFC", value)  # optional fields may be so


def test_visible_text_with_format_marks_is_not_blank() -> None:
    assert clean("\u200d😀", min_length=1) == "\u200d😀"
    assert clean(" 黄石 ", min_length=1) == " 黄石 "
