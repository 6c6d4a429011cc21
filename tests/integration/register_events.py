"""The department register (部门名录) on the registry stream, for tests that start a service
without the registry: publish ``DepartmentRegistered`` as the registry's relay would, and
wait until a service's copy of the register (``{schema}.departments_view``) holds it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import psycopg

from tests.integration.stream_events import publish_events
from tests.support import Infra, wait_until

# The registry's department ids (services/registry/domain/ids.py): a department published
# here has the id the registry would give it.
_NAMESPACE = uuid.UUID("5f3c8e0a-7d1b-4c52-9a8e-2b6f0d4e1a77")


def _registered(code: str) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": f"registry:test-{uuid.uuid4()}",
        "source": "/ssj/registry",
        "type": "ssj.registry.DepartmentRegistered.v1",
        "subject": str(uuid.uuid5(_NAMESPACE, f"department:{code}")),
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "aggregate": "Department",
        "aggregateversion": 1,
        "actorsub": "office-1",
        "actordept": "OFFICE",
        "actorroles": "office",
        "correlationid": str(uuid.uuid4()),
        "data": {
            "code": code,
            "name": f"黄石市{code}局",
            "level": "city",
            "region_code": "420200",
            "parent": "",
        },
    }


def _publish(infra: Infra, events: Iterable[dict[str, object]]) -> None:
    """Put these CloudEvents on the registry stream, as the registry's relay would."""
    publish_events(infra, "registry", events)


def publish_departments(infra: Infra, codes: Iterable[str]) -> None:
    """Put one ``DepartmentRegistered`` per code on the registry stream."""
    _publish(infra, [_registered(code) for code in codes])


def wait_for_departments(infra: Infra, schema: str, codes: Iterable[str]) -> None:
    """Block until ``{schema}.departments_view`` holds every code as active."""
    wanted = sorted(set(codes))

    def known() -> bool:
        with psycopg.connect(infra.database_url, autocommit=True) as conn:
            exists = conn.execute("SELECT to_regclass(%s)", (f"{schema}.departments_view",))
            if exists.fetchone() == (None,):
                return False
            rows = conn.execute(
                f'SELECT code FROM "{schema}".departments_view WHERE active AND code = ANY(%s)',
                (wanted,),
            ).fetchall()
        return sorted(r[0] for r in rows) == wanted

    wait_until(known, timeout=30)


def publish_items(infra: Infra, items: Iterable[dict[str, object]]) -> None:
    """Put one ``ItemRegistered`` per item (code, name, methods, sub_items, check_form) on
    the registry stream, with the fields every consumer reads (category, ratio, legal
    basis) as the registry would write them when the item does not say."""
    _publish(
        infra,
        [
            {
                **_registered("X"),
                "type": "ssj.registry.ItemRegistered.v1",
                "subject": str(uuid.uuid5(_NAMESPACE, f"item:{item['code']}")),
                "aggregate": "InspectionItem",
                "data": {
                    "category": "general",
                    "ratio": 0.05,
                    "legal_basis": "《政府部门涉企检查事项清单》",
                    "methods": [],
                    "sub_items": [],
                    "check_form": [],
                    **item,
                },
            }
            for item in items
        ],
    )
