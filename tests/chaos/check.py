"""After the load stopped and the system converged: is the record whole?

- **nothing lost**: every events table against its JetStream stream and its own chains
  (:mod:`libs.common.audit`: an event in one and not the other, a changed one, a gap);
  nothing left unpublished; and every acknowledged write's effect readable through the API
  (each imported subject, each subject registered, each finished round's results on the
  public record);
- **every draw executed once**: no draw has two ``DrawExecuted`` events;
- **nothing applied twice, every read model right**: each read model equal to a rebuild
  from its events (:mod:`libs.common.rebuild`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from libs.common.audit import verify
from libs.common.rebuild import compare_all
from libs.common.settings import SERVICE_PORTS, CommonSettings
from tests.chaos.client import Tally
from tests.chaos.load import LoadReport


@dataclass
class Verdict:
    """What the checker found."""

    events: int = 0
    events_lost: int = 0
    unpublished: int = 0
    breaks: list[str] = field(default_factory=list)
    effects_checked: int = 0
    effects_missing: list[str] = field(default_factory=list)
    draws: int = 0
    draws_executed_twice: int = 0
    read_models: int = 0
    read_models_equal: bool = False
    read_model_differences: list[str] = field(default_factory=list)
    events_applied_twice: int = 0


def check_record(settings: CommonSettings, verdict: Verdict) -> None:
    """Tables against streams and chains, for every service."""
    for service in SERVICE_PORTS:
        for report in verify(settings, service):
            verdict.events += report.events
            verdict.unpublished += report.not_yet_published
            verdict.breaks.extend(str(b) for b in report.breaks)
    verdict.events_lost += len(verdict.breaks) + verdict.unpublished


def check_draws(settings: CommonSettings, verdict: Verdict) -> None:
    """Each draw's ``DrawExecuted`` events: at most one."""
    with psycopg.connect(settings.database_url) as conn:
        table = conn.execute(
            "SELECT event_object_table FROM information_schema.triggers "
            "WHERE trigger_name = 'ssj_events_append_only' AND event_object_schema = 'draw' "
            "LIMIT 1"
        ).fetchone()
        if table is None:
            return
        rows = conn.execute(
            f'SELECT originator_id, count(*) FILTER (WHERE topic LIKE %s) FROM draw."{table[0]}" '
            "GROUP BY originator_id",
            ("%DrawExecuted",),
        ).fetchall()
    verdict.draws = sum(1 for _, executed in rows if executed)
    verdict.draws_executed_twice = sum(1 for _, executed in rows if executed > 1)


def check_effects(
    urls: dict[str, list[str]], auth: dict[str, str], tally: Tally, load: LoadReport, v: Verdict
) -> None:
    """Every acknowledged write's effect, read back through the API (any replica)."""
    registry, disclosure = urls["registry"][0], urls["disclosure"][0]
    with httpx.Client(timeout=30, headers=auth) as http:

        def expect(what: str, url: str, test: Any = None) -> None:
            v.effects_checked += 1
            answer = http.get(url)
            if answer.status_code != 200 or (test is not None and not test(answer.json())):
                v.effects_missing.append(f"{what}: {answer.status_code} {answer.text[:200]}")

        registered = {
            a.body["identifier"]
            for a in tally.acknowledged
            if a.service == "registry" and a.path == "/v1/subjects" and isinstance(a.body, dict)
        }
        for identifier in sorted(registered | set(load.imported)):
            expect(f"subject {identifier}", f"{registry}/v1/subjects/{identifier}")
        for done in load.rounds:
            wanted = {i: outcome for i, (_, outcome) in done.recorded.items()}

            def disclosed(page: Any, wanted: dict[str, str] = wanted) -> bool:
                shown = {r["subject_identifier"]: r["outcome"] for r in page["items"]}
                return all(shown.get(i) == o for i, o in wanted.items())

            expect(
                f"results of draw {done.draw_id}",
                f"{disclosure}/v1/public/results?draw_id={done.draw_id}&limit=1000",
                disclosed,
            )


def check_read_models(settings: CommonSettings, verdict: Verdict) -> None:
    """Every read model against a rebuild from its events (nothing changed). A row the
    live model holds that its events do not produce (a duplicate, a counter applied twice,
    a row of a lost event's undoing) counts as an event applied twice."""
    try:
        reports = asyncio.run(compare_all(settings))
    except Exception as exc:  # a failure to compare is a failed check, reported
        verdict.read_model_differences.append(f"not compared: {type(exc).__name__}: {exc}")
        return
    verdict.read_models = sum(len(r.names) for r in reports)
    verdict.read_model_differences = [line for r in reports for line in r.differences()]
    verdict.read_models_equal = bool(reports) and not verdict.read_model_differences
    verdict.events_applied_twice = sum(t.only_live for r in reports for t in r.tables)
