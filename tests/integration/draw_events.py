"""Draw events on the draw stream, for tests that start the results or disclosure service
without the draw service: a ``SubjectsDrawn`` (or any draw event) published as the draw's
relay would. Such tests run in a namespace of their own (tests/conftest.py: own_infra),
since the draw service's relay would rightly refuse a stream it did not write."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.builders import make_uscc
from tests.integration.stream_events import publish_events
from tests.support import Infra

ITEMS = [
    {
        "code": "SAMR-R1",
        "department": "SAMR",
        "name": "食品经营许可检查",
        "category": "general",
        "ratio": 0.05,
    },
    {
        "code": "TAX-R1",
        "department": "TAX",
        "name": "发票使用情况检查",
        "category": "key",
        "ratio": 0.2,
    },
]
LEADER, MEMBER = "insp-samr-leader", "insp-tax-member"


def draw_event(
    draw_id: str, ends_on: str, subjects: int = 2, initiating_department: str = "SAMR"
) -> dict[str, Any]:
    """A ``SubjectsDrawn`` of ``subjects`` subjects, each with the group LEADER and MEMBER."""
    rng = random.Random(draw_id)
    selection = [
        {
            "subject_id": str(uuid.uuid4()),
            "identifier": make_uscc(rng, "420202"),
            "name": f"黄石市{rng.randrange(10**6):06d}商贸有限公司",
            "region_code": "420202",
            "risk_class": "C",
        }
        for _ in range(subjects)
    ]
    group = [
        # The leader's seat is the initiating department's (services/draw/protocol/groups.py).
        {
            "inspector_id": LEADER,
            "name": "张三",
            "department": initiating_department,
            "role": "leader",
        },
        {"inspector_id": MEMBER, "name": "李四", "department": "TAX", "role": "member"},
    ]
    return {
        "specversion": "1.0",
        "id": f"draw:test-{uuid.uuid4()}",
        "source": "/ssj/draw",
        "type": "ssj.draw.SubjectsDrawn.v1",
        "subject": draw_id,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "aggregate": "Draw",
        "aggregateversion": 1,
        "actorsub": "op-samr",
        "actordept": "SAMR",
        "actorroles": "operator",
        "correlationid": str(uuid.uuid4()),
        "data": {
            "batch_id": str(uuid.uuid4()),
            "plan_id": str(uuid.uuid4()),
            "year": int(ends_on[:4]),
            "initiating_department": initiating_department,
            "participating_departments": ["TAX"],
            "items": ITEMS,
            "ends_on": ends_on,
            "part": 1,
            "parts": 1,
            "subjects": [{**s, "stratum": "C", "inspectors": group} for s in selection],
        },
    }


def cloud_event(name: str, draw_id: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    """A draw event ``name`` of the draw ``draw_id`` at ``version``, carrying ``data``."""
    return {
        "specversion": "1.0",
        "id": f"draw:test-{uuid.uuid4()}",
        "source": "/ssj/draw",
        "type": f"ssj.draw.{name}.v1",
        "subject": draw_id,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "aggregate": "Draw",
        "aggregateversion": version,
        "actorsub": "op-samr",
        "actordept": "SAMR",
        "actorroles": "operator",
        "correlationid": str(uuid.uuid4()),
        "data": data,
    }


def publish(infra: Infra, events: list[dict[str, Any]]) -> None:
    """Put these CloudEvents on the draw stream, in order."""
    publish_events(infra, "draw", events)


def publish_draw(
    infra: Infra, ends_on: str, subjects: int = 2, initiating_department: str = "SAMR"
) -> dict[str, Any]:
    """Put one SubjectsDrawn on the draw stream and return the CloudEvent."""
    event = draw_event(str(uuid.uuid4()), ends_on, subjects, initiating_department)
    publish(infra, [event])
    return event
