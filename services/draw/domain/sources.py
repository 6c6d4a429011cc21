"""公开随机源 — the public sources of entropy a draw may name (kept by the office).

A source is a game or procedure that publishes numbers nobody in the draw controls: a
national lottery (福彩双色球: six red balls and one blue, drawn Tuesdays, Thursdays and
Sundays at 21:15 Beijing time), or an on-site drawing witnessed by the discipline
inspection team (现场摇号, scheduled per announcement). Each is registered once with the
shape of its numbers (:class:`~services.draw.protocol.entropy.EntropyFormat`) and its
schedule; an announcement names a source, the issue (期号) and the time that issue is drawn,
which must be a time of the source's schedule, far enough ahead for the announcement to be
published before it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

from services.draw.domain.errors import InvalidDraw
from services.draw.protocol.entropy import EntropyFormat

NAMESPACE = uuid.UUID("7c0e6f2a-3b8d-4d1e-9f5a-2e4b6c8d0a13")
BEIJING = ZoneInfo("Asia/Shanghai")


def source_id(code: str) -> uuid.UUID:
    """Id of the entropy source with this code."""
    return uuid.uuid5(NAMESPACE, f"entropy-source:{code}")


class EntropySource(Aggregate):
    """公开随机源 — one registered source of public entropy."""

    @staticmethod
    def create_id(code: str, **_: Any) -> uuid.UUID:
        return source_id(code)

    @event("EntropySourceRegistered")
    def __init__(
        self,
        code: str,
        name: str,
        publisher: str,
        format: dict[str, Any],
        schedule: dict[str, Any] | None,
    ) -> None:
        EntropyFormat.from_json(format)  # refuse a shape no draw could read
        check_schedule_form(schedule)
        self.code = code
        self.name = name
        self.publisher = publisher
        self.format = format
        self.schedule = schedule

    def spec(self, issue: str, scheduled_at: datetime) -> dict[str, Any]:
        """The announcement's ``entropy`` for this source's ``issue`` drawn at
        ``scheduled_at`` (ssj-draw-3)."""
        return {
            "source": self.code,
            "name": self.name,
            "issue": issue,
            "scheduled_at": scheduled_at.isoformat(),
            "format": self.format,
        }


def check_schedule_form(schedule: Mapping[str, Any] | None) -> None:
    """``None`` (drawn when the announcement says) or ``{"days": [1-7], "time": "HH:MM"}``
    in Beijing time (ISO weekdays: 1 is Monday)."""
    if schedule is None:
        return
    days, time = schedule.get("days"), schedule.get("time")
    if set(schedule) != {"days", "time"} or not isinstance(days, list) or not days:
        raise InvalidDraw('a schedule is {"days": [1-7, …], "time": "HH:MM"}')
    if any(isinstance(d, bool) or d not in range(1, 8) for d in days) or len(set(days)) != len(
        days
    ):
        raise InvalidDraw("schedule days are ISO weekdays 1 (Monday) to 7 (Sunday), each once")
    try:
        datetime.strptime(str(time), "%H:%M")
    except ValueError as exc:
        raise InvalidDraw(f"schedule time {time!r} is not HH:MM") from exc


def check_scheduled(
    source: EntropySource, scheduled_at: datetime, now: datetime, lead: timedelta
) -> None:
    """The announced draw time must lie ``lead`` or more ahead (so the announcement is
    published before it) and be a time of the source's schedule."""
    if scheduled_at.tzinfo is None:
        raise InvalidDraw("scheduled_at needs its UTC offset")
    if scheduled_at < now + lead:
        raise InvalidDraw(
            f"the entropy's draw time {scheduled_at.isoformat()} must lie at least "
            f"{int(lead.total_seconds())} s after the announcement, so the announcement is "
            "public before the numbers exist (公告须在开奖前公开)"
        )
    schedule = source.schedule
    if schedule is None:
        return
    local = scheduled_at.astimezone(BEIJING)
    if (
        local.isoweekday() not in schedule["days"]
        or local.strftime("%H:%M") != schedule["time"]
        or local.second
        or local.microsecond
    ):
        raise InvalidDraw(
            f"{source.name} draws on ISO weekdays {schedule['days']} at {schedule['time']} "
            f"Beijing time; {local.isoformat()} is not one of its drawings"
        )


def _issue_key(issue: str) -> tuple[int, int | str]:
    """Issues compare as numbers when they are numbers (2026141 < 2026142), else as text."""
    return (0, int(issue)) if issue.isdigit() else (1, issue)


def check_issue(
    source: EntropySource,
    issue: str,
    scheduled_at: datetime,
    named: list[tuple[str, datetime]],
) -> None:
    """An issue is drawn at one time, and a source's issues and times rise together: an
    issue named before with another time, or out of step with the issues named before
    (a past issue under a future time), is refused. ``named``: every (issue, time) of this
    source that an announcement named so far."""
    key = _issue_key(issue)
    for other, at in named:
        if other == issue and at != scheduled_at:
            raise InvalidDraw(
                f"{source.name} 第{issue}期 was announced as drawn at {at.isoformat()}, not "
                f"{scheduled_at.isoformat()}"
            )
        other_key = _issue_key(other)
        if (other_key < key and at >= scheduled_at) or (other_key > key and at <= scheduled_at):
            raise InvalidDraw(
                f"{source.name}: issue {issue} at {scheduled_at.isoformat()} is out of step "
                f"with issue {other} at {at.isoformat()} (期号与开奖时间须同步递增)"
            )
