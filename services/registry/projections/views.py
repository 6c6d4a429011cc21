"""The registry's own read models, built from its own stream (same path as other services)."""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any

import asyncpg

from libs.common.envelope import InboundEvent
from services.registry.domain.items import CHANGEABLE as ITEM_FIELDS
from services.registry.projections import departments

INSPECTOR_COLUMNS = ("name", "level", "region_code", "specialties", "categories", "unit")
SUBJECT_COLUMNS = (
    "identifier",
    "kind",
    "name",
    "legal_form",
    "region_code",
    "industry",
    "address",
    "legal_representative",
    "status",
    "departments",
    "tags",
    "risk_class",
    "abnormal_operation",
    "serious_violation",
    "supervising_unit",
)
# Fields newer than the first events: events recorded before them lack the key.
ADDED_LATER = {"supervising_unit": "", "unit": ""}
SUBJECT_JSON_COLUMNS = ("departments", "tags")

DDL = [
    """CREATE TABLE IF NOT EXISTS {schema}.items_view (
        code text PRIMARY KEY, id uuid UNIQUE NOT NULL, department text NOT NULL,
        name text NOT NULL, sub_items jsonb NOT NULL, legal_basis text NOT NULL,
        subject_kinds jsonb NOT NULL, content text NOT NULL, methods jsonb NOT NULL,
        category text NOT NULL, ratio double precision NOT NULL,
        frequency_per_year int NOT NULL, inspector_requirements text NOT NULL,
        internet_plus_code text NOT NULL, check_form jsonb NOT NULL,
        published boolean NOT NULL DEFAULT false, version int NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {schema}.subjects_view (
        id uuid PRIMARY KEY, identifier text UNIQUE NOT NULL, kind text NOT NULL,
        name text NOT NULL, legal_form text NOT NULL, region_code text NOT NULL,
        industry text NOT NULL, address text NOT NULL, legal_representative text NOT NULL,
        status text NOT NULL, departments jsonb NOT NULL, tags jsonb NOT NULL,
        risk_class text NOT NULL, abnormal_operation boolean NOT NULL,
        serious_violation boolean NOT NULL, version int NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS subjects_view_region ON {schema}.subjects_view (region_code)",
    "CREATE INDEX IF NOT EXISTS subjects_view_tags ON {schema}.subjects_view USING gin (tags)",
    """CREATE TABLE IF NOT EXISTS {schema}.inspectors_view (
        id uuid PRIMARY KEY, department text NOT NULL, certificate_no text NOT NULL,
        name text NOT NULL, level text NOT NULL, region_code text NOT NULL,
        specialties jsonb NOT NULL, categories jsonb NOT NULL, status text NOT NULL,
        version int NOT NULL)""",
    # 所所交叉 units, added after the tables above: existing databases get the columns here.
    "ALTER TABLE {schema}.subjects_view"
    " ADD COLUMN IF NOT EXISTS supervising_unit text NOT NULL DEFAULT ''",
    "ALTER TABLE {schema}.inspectors_view ADD COLUMN IF NOT EXISTS unit text NOT NULL DEFAULT ''",
    """CREATE TABLE IF NOT EXISTS {schema}.experts_view (
        id uuid PRIMARY KEY, field text NOT NULL, name text NOT NULL,
        organisation text NOT NULL, status text NOT NULL, version int NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {schema}.tags_view (
        id uuid PRIMARY KEY, code text UNIQUE NOT NULL, name text NOT NULL,
        department text NOT NULL, description text NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {schema}.conflicts_view (
        id uuid PRIMARY KEY, inspector_id uuid NOT NULL, subject_id uuid NOT NULL,
        reason text NOT NULL, detail text NOT NULL, declared_on date NOT NULL,
        active boolean NOT NULL, lifted_reason text)""",
    *departments.DDL,
]


async def apply(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    """Apply one registry event to the registry's read models."""
    d = ev.data
    if ev.name == "ItemRegistered":
        columns = ["code", "id", "version", *ITEM_FIELDS, "department"]
        values = [d["code"], ev.subject, ev.aggregate_version, *(d[f] for f in ITEM_FIELDS)]
        values.append(d["department"])
        placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        await conn.execute(
            f"INSERT INTO registry.items_view ({', '.join(columns)}) VALUES ({placeholders}) "
            "ON CONFLICT (code) DO NOTHING",
            *values,
        )
    elif ev.name == "ItemChanged":
        changes = {k: v for k, v in d["changes"].items() if k in ITEM_FIELDS}
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=3))
        await conn.execute(
            f"UPDATE registry.items_view SET version = $2, {assignments} WHERE id = $1",
            ev.subject,
            ev.aggregate_version,
            *changes.values(),
        )
    elif ev.name in ("ItemPublished", "ItemWithdrawn"):
        await conn.execute(
            "UPDATE registry.items_view SET published = $3, version = $2 WHERE id = $1",
            ev.subject,
            ev.aggregate_version,
            ev.name == "ItemPublished",
        )
    elif ev.name.startswith("Subject") or ev.name == "RiskClassChanged":
        await _apply_subject(conn, ev)
    elif ev.name.startswith(("Inspector", "Expert")):
        await _apply_people(conn, ev)
    elif ev.name.startswith(("Tag", "Conflict")):
        await _apply_registers(conn, ev)
    elif ev.name.startswith("Department"):
        await departments.apply(conn, ev)


async def apply_batch(conn: asyncpg.Connection, events: list[InboundEvent]) -> None:
    """Apply a fetched batch in order; runs of registrations become one COPY and one
    INSERT each, which is what keeps bulk imports fast."""
    run: list[InboundEvent] = []
    for ev in [*events, None]:
        if ev is not None and ev.name == "SubjectRegistered":
            run.append(ev)
            continue
        if run:
            await _insert_subjects(conn, run)
            run = []
        if ev is not None:
            await apply(conn, ev)


# Registrations are COPYed (binary) into a session-local staging table, then moved into the
# view by one INSERT … SELECT … ON CONFLICT (id) DO NOTHING, so a registration applied again
# (a rebuilt position, a replay) changes nothing. The JSON columns travel as text and are
# cast on the way: the pool's jsonb codec is a text codec, which binary COPY cannot use.
_PLAIN = tuple(c for c in SUBJECT_COLUMNS if c not in SUBJECT_JSON_COLUMNS and c not in ADDED_LATER)
_LATER = tuple(c for c in SUBJECT_COLUMNS if c in ADDED_LATER)
_STAGED = ("id", "version", *_PLAIN, *SUBJECT_JSON_COLUMNS, *_LATER)
# _insert_subjects builds the staged rows in this order by hand (it runs for every row).
assert _STAGED[len(_PLAIN) + 2 :] == ("departments", "tags", "supervising_unit")
_plain = itemgetter(*_PLAIN)
_STAGING = "registry_subjects_staged"
_STAGING_DDL = f"""CREATE TEMP TABLE IF NOT EXISTS {_STAGING} ON COMMIT DELETE ROWS AS
    SELECT id, version, {", ".join(_PLAIN)},
    {", ".join(f"{c}::text AS {c}" for c in SUBJECT_JSON_COLUMNS)}, {", ".join(_LATER)}
    FROM registry.subjects_view WITH NO DATA"""
_MOVE_STAGED = f"""WITH staged AS (DELETE FROM pg_temp.{_STAGING} RETURNING *)
    INSERT INTO registry.subjects_view (id, version, {", ".join(SUBJECT_COLUMNS)})
    SELECT id, version, {
    ", ".join(f"{c}::jsonb" if c in SUBJECT_JSON_COLUMNS else c for c in SUBJECT_COLUMNS)
}
    FROM staged ON CONFLICT (id) DO NOTHING"""


_json_texts: dict[tuple[str, ...], str] = {}


def _json_text(value: Any) -> str:
    """``json.dumps`` (what the pool's jsonb codec sends) of a value. Lists of strings
    (departments, tags) repeat from one subject to the next, so a bounded number of their
    texts is remembered."""
    if type(value) is list:
        try:
            return _json_texts[tuple(value)]
        except (KeyError, TypeError):  # not seen yet; or holds a dict or a list
            pass
        text = json.dumps(value)
        if len(_json_texts) < 4096 and all(type(item) is str for item in value):
            _json_texts[tuple(value)] = text
        return text
    return json.dumps(value)


async def _insert_subjects(conn: asyncpg.Connection, events: list[InboundEvent]) -> None:
    plain, json_text = _plain, _json_text
    records = [
        (
            ev.subject,
            ev.aggregate_version,
            *plain(d := ev.data),
            json_text(d["departments"]),
            json_text(d["tags"]),
            d.get("supervising_unit", ""),
        )
        for ev in events
    ]
    if not conn.is_in_transaction():  # staged rows last until the end of a transaction
        async with conn.transaction():
            await _copy_subjects(conn, records)
    else:
        await _copy_subjects(conn, records)


async def _copy_subjects(conn: asyncpg.Connection, records: list[tuple[Any, ...]]) -> None:
    await conn.execute(_STAGING_DDL)
    await conn.copy_records_to_table(_STAGING, records=records, columns=_STAGED)
    await conn.execute(_MOVE_STAGED)


def _field(data: dict[str, Any], name: str) -> Any:
    return data[name] if name not in ADDED_LATER else data.get(name, ADDED_LATER[name])


async def _apply_subject(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    d = ev.data
    if ev.name == "SubjectRegistered":
        await _insert_subjects(conn, [ev])
        return
    if ev.name == "SubjectChanged":
        changes = {k: v for k, v in d["changes"].items() if k in SUBJECT_COLUMNS}
    elif ev.name == "SubjectStatusChanged":
        changes = {"status": d["status"]}
    elif ev.name == "RiskClassChanged":
        changes = {"risk_class": d["risk_class"]}
    elif ev.name == "SubjectListingChanged":
        changes = {d["list_name"]: d["listed"]}
    else:
        return
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=3))
    await conn.execute(
        f"UPDATE registry.subjects_view SET version = $2, {assignments} WHERE id = $1",
        ev.subject,
        ev.aggregate_version,
        *changes.values(),
    )


async def _apply_people(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    d = ev.data
    if ev.name == "InspectorRegistered":
        await conn.execute(
            """INSERT INTO registry.inspectors_view (id, department, certificate_no, name, level,
               region_code, specialties, categories, status, version, unit)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT (id) DO NOTHING""",
            ev.subject,
            d["department"],
            d["certificate_no"],
            d["name"],
            d["level"],
            d["region_code"],
            d["specialties"],
            d["categories"],
            d["status"],
            ev.aggregate_version,
            _field(d, "unit"),
        )
    elif ev.name == "InspectorChanged":
        changes = {k: v for k, v in d["changes"].items() if k in INSPECTOR_COLUMNS}
        if changes:
            sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(changes, start=3))
            await conn.execute(
                f"UPDATE registry.inspectors_view SET version = $2, {sets} WHERE id = $1",
                ev.subject,
                ev.aggregate_version,
                *changes.values(),
            )
    elif ev.name == "InspectorStatusChanged":
        await conn.execute(
            "UPDATE registry.inspectors_view SET status = $2, version = $3 WHERE id = $1",
            ev.subject,
            d["status"],
            ev.aggregate_version,
        )
    elif ev.name == "ExpertRegistered":
        await conn.execute(
            """INSERT INTO registry.experts_view (id, field, name, organisation, status, version)
               VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (id) DO NOTHING""",
            ev.subject,
            d["field"],
            d["name"],
            d["organisation"],
            d["status"],
            ev.aggregate_version,
        )


async def _apply_registers(conn: asyncpg.Connection, ev: InboundEvent) -> None:
    d = ev.data
    if ev.name == "TagDefined":
        await conn.execute(
            """INSERT INTO registry.tags_view (id, code, name, department, description)
               VALUES ($1,$2,$3,$4,$5) ON CONFLICT (id) DO NOTHING""",
            ev.subject,
            d["code"],
            d["name"],
            d["department"],
            d["description"],
        )
    elif ev.name == "ConflictDeclared":
        await conn.execute(
            """INSERT INTO registry.conflicts_view (id, inspector_id, subject_id, reason, detail,
               declared_on, active) VALUES ($1,$2,$3,$4,$5,$6::text::date,true)
               ON CONFLICT (id) DO NOTHING""",
            ev.subject,
            d["inspector_id"],
            d["subject_id"],
            d["reason"],
            d["detail"],
            d["declared_on"],
        )
    elif ev.name == "ConflictLifted":
        await conn.execute(
            "UPDATE registry.conflicts_view SET active = false, lifted_reason = $2 WHERE id = $1",
            ev.subject,
            d["reason"],
        )
