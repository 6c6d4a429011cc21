"""``make chaos``: the real cycle under load while a fault schedule hits every part of the
system, then convergence and the checker (tests/chaos/check.py). Last line JSON.

Two processes of every service; every one of them killed with SIGKILL once and started
again; the NATS server killed with SIGKILL twice; PostgreSQL restarted once. Knobs:
``CHAOS_EVERY_S`` (seconds between faults, default 8), ``CHAOS_REPLICAS`` (2),
``CHAOS_NATS=cluster`` (three clustered NATS nodes, R3 streams; each node killed once).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import asdict
from typing import Any

from libs.common.auth import issue_token
from tests.chaos.check import Verdict, check_draws, check_effects, check_read_models, check_record
from tests.chaos.faults import Schedule
from tests.chaos.load import Load
from tests.chaos.stack import ChaosStack

WARM_UP_S = 10.0
CONVERGE_LIMIT_S = 120.0
TARGET_CONVERGE_S = 10.0


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def converge(stack: ChaosStack, auditor: str) -> tuple[float, dict[str, int]]:
    """Seconds until every replica answers ready with no relay or consumer lag (twice in a
    row), and the lags seen last."""
    started = time.monotonic()
    quiet, lags = 0, {}
    while time.monotonic() - started < CONVERGE_LIMIT_S:
        lags = stack.lags(auditor)
        quiet = quiet + 1 if not any(lags.values()) else 0
        if quiet >= 2:
            return time.monotonic() - started, lags
        time.sleep(0.25)
    return float("inf"), lags


def sabotage_record(stack: ChaosStack, kind: str) -> None:
    """``read_model``: a row of the registry's subjects view deleted behind its consumer;
    ``stream``: a message deleted from the registry's stream; ``draw``: a second
    ``DrawExecuted`` forged into a draw's stream (trigger bypassed, as a superuser)."""
    import asyncio

    import nats
    import psycopg

    from libs.common.nats_cluster import servers

    settings = stack.settings()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        if kind == "read_model":
            conn.execute(
                "DELETE FROM registry.subjects_view WHERE ctid = "
                "(SELECT ctid FROM registry.subjects_view LIMIT 1)"
            )
        elif kind == "draw":
            table = conn.execute(
                "SELECT event_object_table FROM information_schema.triggers WHERE "
                "trigger_name = 'ssj_events_append_only' AND event_object_schema = 'draw'"
            ).fetchone()[0]  # type: ignore[index]
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")
                events = f'draw."{table}"'
                conn.execute(
                    f"INSERT INTO {events} (originator_id, originator_version, topic, state) "
                    f"SELECT originator_id, originator_version + 1000, topic, state FROM {events}"
                    " WHERE topic LIKE '%DrawExecuted' LIMIT 1"
                )
    if kind == "stream":

        async def drop() -> None:
            nc = await nats.connect(servers(settings.nats_url))
            await nc.jetstream().delete_msg(settings.stream_name("registry"), 3)
            await nc.close()

        asyncio.run(drop())


def main() -> int:
    every = float(os.environ.get("CHAOS_EVERY_S", "8"))
    # The checker's own test: damage the record after convergence; every verdict must fail.
    sabotage = os.environ.get("CHAOS_SABOTAGE", "")
    stack = ChaosStack(
        replicas=int(os.environ.get("CHAOS_REPLICAS", "2")),
        cluster=os.environ.get("CHAOS_NATS", "") == "cluster",
    )
    figures: dict[str, Any] = {}
    began = time.monotonic()
    try:
        say(f"starting NATS, PostgreSQL and {stack.replicas} processes of each service")
        stack.start()
        settings = stack.settings()
        office = issue_token(settings, sub="chaos-office", dept="OFFICE", roles=["office"])
        auditor = "Bearer " + issue_token(
            settings, sub="chaos-aud", dept="OFFICE", roles=["auditor"]
        )
        load = Load(stack.urls(), settings)
        load.start()
        say(f"load running; faults start in {WARM_UP_S:.0f} s, one every {every:.0f} s")
        time.sleep(WARM_UP_S)
        schedule = Schedule(stack, every)
        stop = threading.Event()
        schedule.run(stop)
        say("last fault repaired: stopping the load")
        load.stop()
        after_load_s, lags = converge(stack, auditor)
        converge_s = time.monotonic() - schedule.last_healed
        say(f"converged {converge_s:.1f} s after the last fault was repaired: {lags}")

        if sabotage:
            say(f"sabotage ({sabotage}): the checker must now fail")
            sabotage_record(stack, sabotage)
        checking = time.monotonic()
        verdict = Verdict()
        say("checking: tables against streams, chains, draws, effects, read models")
        check_record(settings, verdict)
        check_draws(settings, verdict)
        check_effects(stack.urls(), {"Authorization": f"Bearer {office}"}, load.tally,
                      load.report, verdict)  # fmt: skip
        check_read_models(settings, verdict)
        verdict.events_lost += len(verdict.effects_missing)
        tally, report = load.tally, load.report
        figures = {
            "faults": len(schedule.faults),
            "fault_list": [asdict(f) for f in schedule.faults],
            "fault_errors": schedule.errors,
            "replicas": stack.replicas,
            "nats": "3-node cluster, R3 streams" if stack.cluster else "one server, R1 streams",
            "commands_sent": tally.writes_sent,
            "commands_acknowledged": tally.writes_acknowledged,
            "commands_ambiguous": tally.ambiguous,
            "retries": tally.retries,
            "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
            "rounds_completed": len(report.rounds),
            "round_errors": report.round_errors[:10],
            "subjects_imported": len(report.imported),
            "imports_refused": len(report.imports_refused),
            "import_refusals": report.imports_refused[:3],
            "public_reads": report.public_reads,
            "public_errors": report.public_errors,
            "forbidden_tried": report.forbidden_tried,
            "forbidden_allowed": report.forbidden_allowed[:10],
            "events": verdict.events,
            "events_lost": verdict.events_lost,
            "breaks": verdict.breaks[:10],
            "effects_checked": verdict.effects_checked,
            "effects_missing": verdict.effects_missing[:10],
            "draws_executed": verdict.draws,
            "draws_executed_twice": verdict.draws_executed_twice,
            "events_applied_twice": verdict.events_applied_twice,
            "read_models": verdict.read_models,
            "read_models_equal": verdict.read_models_equal,
            "read_model_differences": verdict.read_model_differences[:10],
            # From the last fault's repair (its process back) to every relay and consumer of
            # every replica caught up, the load's last requests answered in between.
            "converge_s": round(converge_s, 1),
            "converge_after_load_stopped_s": round(after_load_s, 1),
            # When each load thread had ended, from the stop (its last step under way).
            "load_stopped_in_s": load.stopped_in,
            "check_s": round(time.monotonic() - checking, 1),
            "sabotage": sabotage or None,
            "run_s": round(time.monotonic() - began, 1),
        }
    finally:
        say("stopping the stack")
        stack.stop()
    figures["pass"] = {
        "faults_injected": figures["faults"] >= 13 and not figures["fault_errors"],
        "events_lost": figures["events_lost"] == 0,
        "events_applied_twice": figures["events_applied_twice"] == 0,
        "draws_executed_once": figures["draws_executed_twice"] == 0,
        "access_held": figures["forbidden_tried"] > 0 and not figures["forbidden_allowed"],
        "read_models_equal": bool(figures["read_models_equal"]),
        "converge_s": figures["converge_s"] <= TARGET_CONVERGE_S,
        "work_done": figures["rounds_completed"] > 0 and figures["subjects_imported"] > 0,
    }
    print(json.dumps(figures, ensure_ascii=False))
    return 0 if all(figures["pass"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
