"""The item list through time, through a real disclosure process: as it stood on any day
(Beijing), and each item's versions from its publication on — what an inspection planned
in March was planned against, even after the item changed or was withdrawn."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.register_events import _NAMESPACE, _registered
from tests.integration.stream_events import publish_events
from tests.support import Infra, ServiceProcess, wait_until

pytestmark = pytest.mark.own_infra
CODE = "SAMR-T1"
ITEM = str(uuid.uuid5(_NAMESPACE, f"item:{CODE}"))


def _item_event(name: str, version: int, at: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        **_registered("X"),
        "type": f"ssj.registry.{name}.v1",
        "subject": ITEM,
        "aggregate": "InspectionItem",
        "aggregateversion": version,
        "time": at,
        "data": data,
    }


@pytest.fixture(scope="module")
def public(infra: Infra) -> Iterator[httpx.Client]:
    proc = ServiceProcess(infra, "disclosure").start()
    registered = {
        "code": CODE,
        "department": "SAMR",
        "name": "食品经营许可检查",
        "category": "general",
        "ratio": 0.05,
        "methods": ["on_site"],
        "legal_basis": "《食品经营许可管理办法》",
    }
    publish_events(
        infra,
        "registry",
        [
            _item_event("ItemRegistered", 1, "2026-01-05T02:00:00+00:00", registered),
            _item_event("ItemPublished", 2, "2026-01-10T02:00:00+00:00", {}),
            # 2026-03-01 01:00 Beijing is still 28 February in UTC.
            _item_event("ItemChanged", 3, "2026-02-28T17:00:00+00:00", {"changes": {"ratio": 0.1}}),
            _item_event("ItemWithdrawn", 4, "2026-06-01T02:00:00+00:00", {}),
        ],
    )
    with httpx.Client(base_url=proc.url, timeout=20) as client:
        wait_until(
            lambda: (
                client.get(f"/v1/public/items/SAMR/{CODE}/versions").status_code == 200
                and len(client.get(f"/v1/public/items/SAMR/{CODE}/versions").json()["versions"])
                == 3
            )
        )
        yield client
    proc.stop()


def _listed(public: httpx.Client, on: str) -> list[dict[str, Any]]:
    answer = public.get("/v1/public/items", params={"on": on})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_list_as_it_stood_on_a_day(public: httpx.Client) -> None:
    assert _listed(public, "2026-01-07") == []  # registered, not yet published
    (january,) = _listed(public, "2026-02-01")
    assert (january["code"], january["ratio"]) == (CODE, 0.05)
    (march,) = _listed(public, "2026-03-01")  # changed at 01:00 Beijing that day
    assert march["ratio"] == 0.1
    (february,) = _listed(public, "2026-02-28")
    assert february["ratio"] == 0.05
    assert _listed(public, "2026-07-01") == []  # withdrawn
    assert public.get("/v1/public/items").json() == []  # as it stands now


def test_an_items_versions_from_its_publication_on(public: httpx.Client) -> None:
    body = public.get(f"/v1/public/items/SAMR/{CODE}/versions").json()
    versions = body["versions"]
    assert [(v["version"], v["published"], v["ratio"]) for v in versions] == [
        (2, True, 0.05),
        (3, True, 0.1),
        (4, False, 0.1),
    ]
    assert public.get("/v1/public/items/SAMR/NOPE/versions").status_code == 404


def test_a_day_outside_the_range_is_422(public: httpx.Client) -> None:
    for on in ("1999-12-31", "9999-12-31", "2026-02-30", "昨天"):
        answer = public.get("/v1/public/items", params={"on": on})
        assert answer.status_code == 422, (on, answer.text)


def test_the_portal_shows_the_list_of_a_day(public: httpx.Client) -> None:
    march = public.get("/items", params={"on": "2026-03-01"})
    assert march.status_code == 200 and CODE in march.text and "10.0%" in march.text
    assert "2026-03-01 日终时的版本" in march.text
    february = public.get("/items", params={"on": "2026-02-28"})
    assert CODE in february.text and "5.0%" in february.text
    assert CODE not in public.get("/items", params={"on": "2026-07-01"}).text
    assert CODE not in public.get("/items").text  # withdrawn now
    for bad in ("2026-02-30", "1999-01-01", "明天"):
        assert public.get("/items", params={"on": bad}).status_code == 400
