"""The Draw aggregate and the announcement it freezes (no database, no messaging)."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.draw.domain import draw_parts
from services.draw.domain.announce import (
    FrozenDraw,
    PoolSubject,
    RosterEntry,
    blind,
    build_announcement,
    departments_of,
    directory_of,
    freeze_pool,
    strata_of,
    summarise,
)
from services.draw.domain.draw import Draw, draw_id
from services.draw.domain.errors import (
    AlreadyExecuted,
    CommitmentMismatch,
    DrawVoided,
    EntropyNotYetAvailable,
    InvalidDraw,
    InvalidEntropy,
    InvalidReplacement,
    NotExecuted,
    PoolEmpty,
    TooLateToVoid,
)
from services.draw.protocol import v3
from services.draw.protocol.blinding import keyed_members
from services.draw.protocol.canonical import announcement_hash, commitment
from services.draw.protocol.entropy import SHAPES
from services.draw.protocol.proof import run, verify
from services.draw.protocol.subjects import select_rfc3797
from tests.builders import make_uscc

SECRET = bytes(range(1, 33))
BLINDING_KEY = bytes(range(40, 72))
NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)
AFTER = NOW + timedelta(hours=2)  # after the entropy's draw time
ENTROPY = "03 09 14 22 27 31 + 08"  # as typed; the proof has 03 09 14 22 27 31 | 08
OTHER_ENTROPY = "01 02 03 04 05 06 + 16"


def entropy_spec(scheduled_at: datetime = NOW + timedelta(hours=1)) -> dict[str, Any]:
    """The announcement's entropy: a 双色球 drawing an hour after the announcement."""
    return {
        "source": "cwl-ssq",
        "name": "中国福利彩票双色球",
        "issue": "2026141",
        "scheduled_at": scheduled_at.isoformat(),
        "format": SHAPES["ssq"].as_json(),
    }


ITEMS = [
    {
        "code": "SAMR-01",
        "department": "SAMR",
        "name": "食品经营",
        "category": "general",
        "ratio": 0.05,
    },
    {"code": "TAX-01", "department": "TAX", "name": "发票", "category": "key", "ratio": 0.1},
]
BATCH: dict[str, Any] = {
    "batch_id": "b-1",
    "plan_id": "p-1",
    "year": 2026,
    "name": "第一批",
    "initiating_department": "SAMR",
    "participating_departments": ["TAX"],
    "items": ITEMS,
    "ends_on": "2026-12-20",
    "pool": {"risk_classes": []},
    "ratios": {"A": 0.01, "B": 0.03, "C": 0.1, "D": 0.2},
    "published": True,
}


def subjects(n: int) -> list[PoolSubject]:
    rng = random.Random(5)
    classes = "A" * 60 + "B" * 30 + "C" * 8 + "D" * 2
    return [
        PoolSubject(f"id-{i}", make_uscc(rng), f"公司{i}", "420202", classes[i % 100], "所1")
        for i in range(n)
    ]


ROSTER = [
    RosterEntry(f"{d}-{k}", f"{d}检查员{k}", d, "420200", f"所{k % 2}", ("general", "key"))
    for d in ("SAMR", "TAX")
    for k in range(4)
]


class Facts:
    """The registry's facts since the announcement, as the service would look them up."""

    def __init__(self) -> None:
        self.subjects: dict[str, dict[str, Any]] = {}
        self.inspectors: dict[tuple[str, str], dict[str, Any]] = {}
        self.events = 0

    def _fact(self, fact: str) -> dict[str, Any]:
        self.events += 1
        return {"event": f"registry:{self.events}", "fact": fact, "at": AFTER.isoformat()}

    def gone(self, identifier: str, fact: str = "deregistered") -> Facts:
        self.subjects[identifier] = self._fact(fact)
        return self

    def off(self, inspector_id: str, identifier: str = "*", fact: str = "suspended") -> Facts:
        self.inspectors[(inspector_id, identifier)] = self._fact(fact)
        return self

    def subject(self, identifier: str) -> dict[str, Any] | None:
        return self.subjects.get(identifier)

    def inspector(self, inspector_id: str, identifier: str) -> dict[str, Any] | None:
        found = self.inspectors.get((inspector_id, identifier))
        return found or self.inspectors.get((inspector_id, "*"))


def bare_announcement(**overrides: Any) -> dict[str, Any]:
    """An announcement of BATCH with no conflicts or previous inspectors."""
    arguments: dict[str, Any] = {
        "draw_id": str(draw_id("b-1")),
        "batch": BATCH,
        "pool_hash": "0" * 64,
        "pool_size": 70_000,
        "roster": ROSTER,
        "conflicts": [],
        "previous": [],
        "commitment": "c",
        "entropy": entropy_spec(),
        "announced_at": NOW.isoformat(),
    }
    return build_announcement(**{**arguments, **overrides})


def announced(n: int = 400, selection: str = "sha256", **batch: Any) -> tuple[Draw, FrozenDraw]:
    pool = freeze_pool(subjects(n))
    spec = {**BATCH, **batch}
    announcement = build_announcement(
        selection=selection,
        draw_id=str(draw_id("b-1")),
        batch=spec,
        pool_hash=pool.digest,
        pool_size=len(pool.lines),
        roster=ROSTER,
        conflicts=[("SAMR-0", subjects(n)[1].identifier), ("nobody", subjects(n)[2].identifier)],
        previous=[],
        commitment=commitment(SECRET),
        entropy=entropy_spec(spec.get("scheduled_at", NOW + timedelta(hours=1))),
        announced_at=NOW.isoformat(),
    )
    public, _ = blind(announcement, pool, BLINDING_KEY)
    draw = Draw(
        batch_id="b-1",
        plan_id="p-1",
        year=2026,
        batch_name="第一批",
        initiating_department="SAMR",
        participating_departments=["TAX"],
        items=ITEMS,
        ends_on="2026-12-20",
        announcement_hash=announcement_hash(public),
        summary=summarise(public),
    )
    names = {r.inspector_id: r.name for r in ROSTER}
    frozen = FrozenDraw(
        announcement,
        names,
        pool,
        directory_of(subjects(n)),
        public=public,
        blinding_key=BLINDING_KEY,
    )
    return draw, frozen


def test_the_announcement_keeps_only_pairs_of_inspectors_on_the_roster() -> None:
    draw, frozen = announced()
    identifier = subjects(400)[1].identifier
    assert frozen.announcement["conflicts"] == [["SAMR-0", identifier]]
    # The event carries the public announcement's summary: no pairs, no pool hash.
    assert "roster" not in draw.summary and draw.summary["roster_size"] == len(ROSTER)
    assert not {"conflicts", "conflicts_size", "previous", "pool_hash"} & set(draw.summary)
    assert draw.summary["commitment"] == commitment(SECRET)
    assert draw.summary["departments"] == [
        {"department": "SAMR", "categories": ["general"]},
        {"department": "TAX", "categories": ["key"]},
    ]


def test_strata_use_counts_over_ratios_and_respect_the_class_filter() -> None:
    spec = {**BATCH, "counts": {"D": 3}, "pool": {"risk_classes": ["C", "D"]}}
    assert strata_of(spec) == {"C": {"ratio": "0.1"}, "D": {"count": 3}}
    assert [d["department"] for d in departments_of(BATCH)] == ["SAMR", "TAX"]


def test_an_empty_pool_is_refused() -> None:
    with pytest.raises(PoolEmpty):
        freeze_pool([])


@pytest.mark.parametrize(
    "typed",
    [
        "03 09 14 22 27 31 + 08",
        "3 9 14 22 27 31 8",
        "03,09,14,22,27,31,08",
        "03、09、14、22、27、31＋08",
        "０３ ０９ １４ ２２ ２７ ３１ ＋ ０８",
        "03 09 14 22 27 31 | 08",
        " 03  09 14 22 27 31/08 ",
        "03;09;14;22;27;31;08",
    ],
)
def test_every_spelling_of_one_result_draws_the_same(typed: str) -> None:
    expected, frozen = announced()
    expected.execute(frozen, secret=SECRET, entropy=ENTROPY, now=AFTER)
    draw, frozen = announced()
    draw.execute(frozen, secret=SECRET, entropy=typed, now=AFTER)
    assert draw.executed is not None and draw.executed["entropy"] == "03 09 14 22 27 31 | 08"
    assert draw.result() == expected.result()


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("03 09 14 22 27 31 + 0\u200b8", "ZERO WIDTH SPACE"),
        ("03 09 14 22 27 31 + 08\u2060", "WORD JOINER"),
        ("红球 03 09 14 22 27 31 蓝球 08", "not a digit"),
        ("03 09 14 22 27 31", "7 numbers"),
        ("03 09 14 22 27 31 + 08 + 09", "7 numbers"),
        ("09 03 14 22 27 31 + 08", "ascending"),
        ("03 09 14 22 27 34 + 08", "outside 1-33"),
        ("03 09 14 22 27 31 + 17", "outside 1-16"),
    ],
)
def test_entropy_that_is_not_the_sources_numbers_is_refused(typed: str, why: str) -> None:
    draw, frozen = announced()
    with pytest.raises(InvalidEntropy, match=why):
        draw.execute(frozen, secret=SECRET, entropy=typed, now=AFTER)
    assert draw.executed is None


def test_a_secret_that_does_not_match_the_commitment_draws_nothing() -> None:
    draw, frozen = announced()
    with pytest.raises(CommitmentMismatch):
        draw.execute(frozen, secret=bytes(32), entropy=ENTROPY, now=AFTER)
    assert draw.executed is None


def test_execution_records_the_protocol_result_in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(draw_parts, "PART_SIZE", 7)
    draw, frozen = announced(1000)
    draw.execute(frozen, secret=SECRET, entropy=ENTROPY, now=AFTER)
    events = draw.collect_events()
    names = [type(e).__name__ for e in events]
    selected = draw.executed["selected"] if draw.executed else 0
    assert names == ["DrawAnnounced", "DrawExecuted"] + ["SubjectsDrawn"] * -(-selected // 7)
    assert [e.part for e in events[2:]] == list(range(1, len(events) - 1))  # type: ignore[attr-defined]
    proof = draw.public_proof(frozen)
    assert verify(proof) == []
    # The public proof's result is the recorded one less the pool's hash (internal); the
    # full proof's is all of it.
    assert {k: v for k, v in draw.result().items() if k != "pool_hash"} == run(proof)
    assert draw.result() == run(draw.full_proof(frozen))
    assert verify(draw.full_proof(frozen)) == []
    first = draw.drawn[0]
    assert first["subject_id"].startswith("id-") and first["name"].startswith("公司")
    assert first["inspectors"][0]["name"].startswith("SAMR检查员")


def test_a_draw_executes_once_and_not_before_its_entropy_is_due() -> None:
    draw, frozen = announced(scheduled_at=NOW + timedelta(days=2))
    assert frozen.announcement["entropy_not_before"] == (NOW + timedelta(days=2)).isoformat()
    with pytest.raises(EntropyNotYetAvailable):
        draw.execute(frozen, secret=SECRET, entropy=ENTROPY, now=NOW + timedelta(days=1))
    later = NOW + timedelta(days=3)
    draw.execute(frozen, secret=SECRET, entropy=ENTROPY, now=later)
    with pytest.raises(AlreadyExecuted):
        draw.execute(frozen, secret=SECRET, entropy=OTHER_ENTROPY, now=later)


def test_the_stored_announcement_must_match_the_hash_the_event_pins() -> None:
    draw, frozen = announced()
    # The full announcement changed behind the public one, or the public one itself.
    for forged in (
        replace(frozen, announcement={**frozen.announcement, "min_group_size": 3}),
        replace(frozen, public={**frozen.published, "min_group_size": 3}),
    ):
        with pytest.raises(InvalidDraw, match="does not match"):
            draw.execute(forged, secret=SECRET, entropy=ENTROPY, now=AFTER)


def test_replacements_need_an_executed_draw_a_reason_and_an_approver() -> None:
    draw, frozen = announced()
    with pytest.raises(NotExecuted):
        draw.replace_subject(
            frozen,
            identifier="x",
            reason_code="deregistered",
            reason="注销",
            approver="王",
            unavailable=[],
        )
    draw.execute(frozen, secret=SECRET, entropy=ENTROPY, now=AFTER)
    target = draw.drawn[0]
    with pytest.raises(InvalidReplacement, match="approver"):
        draw.replace_inspector(
            frozen,
            identifier=target["identifier"],
            inspector_id=target["inspectors"][1]["inspector_id"],
            reason_code="recusal",
            reason="回避",
            approver=" ",
        )
    facts = Facts().gone(target["identifier"]).gone("nobody")
    with pytest.raises(InvalidReplacement, match="not a drawn subject"):
        draw.replace_subject(
            frozen,
            identifier="nobody",
            reason_code="deregistered",
            reason="注销",
            approver="王",
            unavailable=[],
            facts=facts,
        )
    outcome = draw.replace_subject(
        frozen,
        identifier=target["identifier"],
        reason_code="deregistered",
        reason="注销",
        approver="王",
        unavailable=[],
        facts=facts,
    )
    current = draw.current()
    assert current[0]["identifier"] == outcome["replacement"] != target["identifier"]
    assert draw.requests[0]["sequence"] == 1
    proof = draw.public_proof(frozen)
    assert verify(proof) == []


def test_a_replacement_reason_code_comes_from_the_fixed_list_of_its_kind() -> None:
    draw, frozen = announced()
    draw.execute(frozen, secret=SECRET, entropy=ENTROPY, now=AFTER)
    target = draw.drawn[0]
    member = target["inspectors"][1]["inspector_id"]
    for code in ("该员正接受纪检调查", "deregistered"):  # free text; a subject's reason
        with pytest.raises(InvalidReplacement, match="reason_code"):
            draw.replace_inspector(
                frozen,
                identifier=target["identifier"],
                inspector_id=member,
                reason_code=code,
                reason="该员正接受纪检调查",
                approver="张局长 13800001234",
            )


def test_the_proof_shows_replacement_reason_codes_never_staff_text() -> None:
    draw, frozen = announced()
    draw.execute(frozen, secret=SECRET, entropy=ENTROPY, now=AFTER)
    target = draw.drawn[0]
    draw.replace_inspector(
        frozen,
        identifier=target["identifier"],
        inspector_id=target["inspectors"][1]["inspector_id"],
        reason_code="recusal",
        reason="该员正接受纪检调查",
        approver="张局长 13800001234",
        facts=Facts().off(
            target["inspectors"][1]["inspector_id"], target["identifier"], "conflict"
        ),
    )
    proof = draw.public_proof(frozen)
    text = json.dumps(proof, ensure_ascii=False)
    assert "纪检" not in text and "13800001234" not in text
    (request,) = proof["replacements"]
    assert request["reason_code"] == "recusal" and set(request) == {
        "sequence",
        "kind",
        "identifier",
        "inspector_id",
        "reason_code",
        "evidence",  # the registry's conflict record, by its event id
        "skipped",
    }
    assert request["evidence"]["fact"] == "conflict" and request["skipped"] == []
    assert verify(proof) == []
    assert draw.requests[0]["reason"] == "该员正接受纪检调查"  # kept for internal readers


def test_rfc3797_selection_takes_its_sources_as_entropy_and_checks_its_limits() -> None:
    draw, frozen = announced(400, selection="rfc3797")
    assert frozen.announcement["selection"] == "rfc3797"
    assert "selection" not in announced(400)[1].announcement  # the default leaves no trace
    with pytest.raises(InvalidEntropy, match="7 numbers"):
        draw.execute(frozen, secret=SECRET, entropy="9319 / 2 5 12 8 10", now=AFTER)
    draw.execute(frozen, secret=SECRET, entropy=ENTROPY, now=AFTER)
    proof = draw.public_proof(frozen)
    assert verify(proof) == []
    # Each group of the source's format is one RFC 3797 source: red balls, then blue;
    # each stratum's members in their keyed order.
    lines = frozen.pool.lines
    members = keyed_members(lines, BLINDING_KEY)
    expected, _ = select_rfc3797(
        ["3 9 14 22 27 31", "8"], lines, frozen.announcement["strata"], members
    )
    assert [s["identifier"] for s in proof["result"]["selection"]] == [
        p.identifier for p in expected
    ]
    full = draw.full_proof(frozen)
    sha = {**full, "full_announcement": {**full["full_announcement"], "selection": "sha256"}}
    assert run(sha)["selection"] != proof["result"]["selection"]

    with pytest.raises(InvalidDraw, match="at most 65535"):
        bare_announcement(selection="rfc3797", strata_sizes={"A": 70_000})
    with pytest.raises(InvalidDraw, match="selection must be"):
        bare_announcement(selection="dice")
    assert bare_announcement(selection="rfc3797", strata_sizes={"A": 60_000, "B": 10_000})


def test_a_draw_is_voided_only_before_its_entropy_is_due_and_then_never_executed() -> None:
    draw, frozen = announced()
    due = NOW + timedelta(hours=1)
    assert draw.status(NOW) == "announced"
    with pytest.raises(InvalidDraw, match="reason_code"):
        draw.void(reason_code="changed_my_mind", reason="计划调整", now=NOW)
    draw.void(reason_code="batch_withdrawn", reason="计划调整，批次撤回", now=NOW)
    assert draw.status(NOW) == draw.status(due + timedelta(days=9)) == "voided"
    assert draw.voided == {
        "reason_code": "batch_withdrawn",
        "reason": "计划调整，批次撤回",
        "voided_at": NOW.isoformat(),
    }
    with pytest.raises(DrawVoided):
        draw.execute(frozen, secret=SECRET, entropy=ENTROPY, now=AFTER)
    with pytest.raises(DrawVoided):
        draw.void(reason_code="other", reason="再次作废", now=NOW)

    late, _ = announced()
    with pytest.raises(TooLateToVoid):  # once the numbers can exist, only execution
        late.void(reason_code="source_cancelled", reason="开奖延期", now=due)
    done, frozen = announced()
    done.execute(frozen, secret=SECRET, entropy=ENTROPY, now=AFTER)
    with pytest.raises(AlreadyExecuted):
        done.void(reason_code="other", reason="事后作废", now=NOW)


def test_an_announced_draw_left_unexecuted_a_day_past_its_entropy_is_overdue() -> None:
    draw, _ = announced()
    due = NOW + timedelta(hours=1)
    assert draw.status(due + timedelta(hours=23)) == "announced"
    assert draw.status(due + timedelta(days=1, seconds=1)) == "overdue"


def test_draw_ids_follow_the_protocols_rule_per_attempt() -> None:
    first, second = draw_id("b-1"), draw_id("b-1", 2)
    assert first != second
    assert str(second) == str(uuid.uuid5(v3.NAMESPACE, "draw:b-1:2"))
    assert str(first) == str(uuid.uuid5(v3.NAMESPACE, "draw:b-1"))  # as ssj-draw-2's ids
