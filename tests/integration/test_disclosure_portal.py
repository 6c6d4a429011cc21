"""The public portal (公示门户) as people read it, through real results and disclosure
processes: every page answers in Chinese from the disclosed record only, a company's page
holds its history, the Atom feed is valid, hostile addresses and queries get a page that
says what is wrong (never a server error), and each page carries its own security policy.
"""

from __future__ import annotations

import html
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.disclosure.links import FEED_ID
from tests.integration.disclosure_flows import (
    BATCH_ID,
    PLAN_ID,
    PLAN_NUMBER,
    _client,
    ago,
    all_shown,
    make_flows,
    ok,
    public_client,
    run_stack,
)
from tests.integration.draw_events import LEADER, draw_event, publish
from tests.integration.task_flow import report, tasks_of
from tests.support import Infra, ServiceProcess, wait_until

pytestmark = pytest.mark.own_infra
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def stack(infra: Infra) -> Iterator[dict[str, ServiceProcess]]:
    yield from run_stack(infra)


@pytest.fixture(scope="module")
def public(stack: dict[str, ServiceProcess]) -> Iterator[httpx.Client]:
    yield from public_client(stack)


@pytest.fixture(scope="module")
def flows(infra: Infra, stack: dict[str, ServiceProcess], public: httpx.Client) -> Any:
    made = make_flows(infra, stack)
    all_shown(public, made)
    return made


def _page(public: httpx.Client, path: str, status: int = 200, **params: Any) -> str:
    answer = public.get(path, params=params)
    assert answer.status_code == status, (path, answer.status_code, answer.text[:300])
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    return html.unescape(answer.text)  # names hold quotes, which the page escapes


def test_home_shows_the_plan_the_draw_and_the_results(public: httpx.Client, flows: Any) -> None:
    html = _page(public, "/")
    assert "黄石市2026年食品经营双随机联合抽查计划" in html and PLAN_NUMBER in html
    for name in ("clean", "late", "problem", "refused"):
        assert flows[name]["subject_identifier"] in html
    assert flows["waiting"]["subject_identifier"] not in html  # not reviewed: not public
    assert "逾期" in html  # the late result is marked


def test_a_companys_page_holds_its_history(public: httpx.Client, flows: Any) -> None:
    problem = flows["problem"]
    html = _page(public, f"/companies/{problem['subject_identifier']}")
    assert problem["subject_name"] in html
    assert "发现问题待后续处理" in html and "移交有管辖权的部门" in html
    # Lower case is the same company; a code of another shape is not a company.
    assert problem["subject_name"] in _page(
        public, f"/companies/{problem['subject_identifier'].lower()}"
    )
    _page(public, "/companies/not-a-code", status=404)


def test_search_by_name_fragment_or_uscc(public: httpx.Client, flows: Any) -> None:
    late = flows["late"]
    by_code = _page(public, "/results", q=late["subject_identifier"])
    assert late["subject_name"] in by_code
    by_name = _page(public, "/results", q=late["subject_name"][3:9])
    assert late["subject_identifier"] in by_name
    assert flows["clean"]["subject_identifier"] not in by_name
    assert "2–50" in _page(public, "/results", status=400, q="商")
    for hostile in ("商\x00贸", "x" * 500):
        _page(public, "/results", status=400, q=hostile)
    # Bytes that are not UTF-8 (a lone surrogate's encoding), as a hostile client sends them.
    # The server reads them as U+FFFD (replacement), which no name holds.
    broken = public.get("/results?q=%ED%A0%80%E5%95%86%E8%B4%B8")
    assert broken.status_code == 200 and "暂无记录" in broken.text, broken.text[:300]
    _page(public, "/results", status=400, after="not-a-cursor")
    # The paged lists' parameters: NUL, control and invisible characters, huge values.
    for hostile in ("\x00", "\u200b", "\x1b[2J", "9" * 5000):
        _page(public, "/results", status=400, plan=hostile)
        for path in ("/plans", "/draws", "/overdue"):
            _page(public, path, status=400, after=hostile)
    for odd in ("\x00", "9" * 5000):
        _page(public, "/results", late=odd)  # not "1": the search page, unfiltered


def test_one_result_and_the_lists_of_the_public(public: httpx.Client, flows: Any) -> None:
    problem = _page(public, f"/results/{flows['problem']['id']}")
    assert "后续处置" in problem and "黄石市税务局" in problem
    _page(public, f"/results/{flows['waiting']['id']}", status=404)  # not reviewed
    _page(public, "/results/00000000-0000-0000-0000-00000000000g", status=404)
    refusals = _page(public, "/non-cooperation")
    assert flows["refused"]["subject_identifier"] in refusals
    assert flows["clean"]["subject_identifier"] not in refusals
    overdue = _page(public, "/overdue")
    assert flows["late"]["subject_identifier"] in overdue  # published late
    plan = _page(public, f"/plans/{PLAN_ID}")
    assert "各版本及调整原因" in plan and "首次公布" in plan
    _page(public, "/plans/not-a-plan", status=404)
    statistics = _page(public, "/statistics")
    assert "不配合检查情节严重" in statistics and "黄石市SAMR局" in statistics
    for path in ("/items", "/plans", "/draws", "/verify"):
        _page(public, path)


def test_the_feed_is_atom_and_names_the_new_disclosures(public: httpx.Client, flows: Any) -> None:
    answer = public.get("/feed.atom")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(answer.content)
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") or "" for e in entries]
    assert any(t.startswith("抽查计划：") for t in titles)
    assert sum(t.startswith("抽查结果：") for t in titles) == 4
    for entry in entries:
        assert (entry.findtext(f"{ATOM}id") or "").startswith("urn:uuid:")
        assert entry.find(f"{ATOM}link") is not None and entry.findtext(f"{ATOM}updated")
    # Found by an adversarial review: the feed's id and links followed the Host header, and
    # the feed is cached for a minute. Without a configured address they are relative.
    forged = public.get("/feed.atom", headers={"Host": "forged-host.invalid"})
    assert b"forged-host.invalid" not in forged.content
    assert ET.fromstring(forged.content).findtext(f"{ATOM}id") == FEED_ID
    links = [e.get("href") or "" for e in ET.fromstring(forged.content).iter(f"{ATOM}link")]
    assert links and all(href.startswith("/") for href in links)


def test_only_the_portals_own_files_are_served(public: httpx.Client) -> None:
    css = public.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    script = public.get("/static/portal.js")
    assert script.headers["content-type"].startswith("text/javascript")
    for path in ("/static/..%2Fapi.py", "/static/verify.py", "/static/"):
        assert public.get(path).status_code == 404


def test_a_non_market_subject_has_its_page_and_is_found_by_its_code(
    infra: Infra, stack: dict[str, ServiceProcess], public: httpx.Client, flows: Any
) -> None:
    """Found by an adversarial review: results linked to /companies/{PREFIX-local-id}, which
    answered 404 (a USCC only), and a search by that code looked for it as a name."""
    leader = _client(stack["results"], infra, LEADER, "SAMR", "inspector")
    reviewer = _client(stack["results"], infra, "rev-samr", "SAMR", "reviewer")
    event = draw_event(str(uuid.uuid4()), ago(3), subjects=1)
    event["data"].update(plan_id=PLAN_ID, batch_id=BATCH_ID)
    code = "SYDW-4202001234"
    event["data"]["subjects"][0].update(identifier=code, name="黄石市第一中学")
    publish(infra, [event])
    (task,) = tasks_of(leader, event["subject"], 1)
    ok(leader.post(f"/v1/tasks/{task['id']}/submission", json={"report": report(task)}))
    ok(reviewer.post(f"/v1/tasks/{task['id']}/review", json={"decision": "approve"}))
    wait_until(lambda: ok(public.get("/v1/public/results", params={"identifier": code}))["items"])
    found = _page(public, "/results", q="第一中学")
    assert f'href="/companies/{code}"' in found
    company = _page(public, f"/companies/{code}")
    assert "黄石市第一中学" in company and f"主体标识 {code}" in company
    assert "黄石市第一中学" in _page(public, "/results", q=code)
    _page(public, "/companies/NOT-A-CODE-AT-ALL!", status=404)


def test_a_plans_results_and_the_late_ones_go_on_page_after_page(
    public: httpx.Client, flows: Any
) -> None:
    """Found by an adversarial review: the plan page showed its first 50 results, a
    company's history its first 1,000, /overdue 500, with no way on. Each now links to the
    search page, which pages by keyset."""
    planned = _page(public, "/results", plan=PLAN_ID)
    assert "黄石市2026年食品经营双随机联合抽查计划：抽查结果" in planned
    for flow in ("clean", "late", "problem", "refused"):
        assert flows[flow]["subject_identifier"] in planned
    late = _page(public, "/results", late="1")
    assert "逾期公示的结果" in late and flows["late"]["subject_identifier"] in late
    assert flows["clean"]["subject_identifier"] not in late
    _page(public, "/results", status=400, plan="not-a-plan")
    _page(public, "/results", status=404, plan=str(uuid.uuid4()))
    _page(public, "/overdue", status=400, after="x")
    # The late results are on /overdue's first page only (found by the second review: each
    # later page repeated them).
    assert flows["late"]["subject_identifier"] in _page(public, "/overdue")
    later = _page(public, "/overdue", after=str(uuid.UUID(int=0)))
    assert flows["late"]["subject_identifier"] not in later


def test_a_full_page_links_to_the_next() -> None:
    from services.disclosure.portal.pages import PAGE, _more

    rows = [{"record_id": f"r{n}"} for n in range(PAGE)]
    assert _more(rows, "late=1") == f"/results?late=1&after=r{PAGE - 1}"
    assert _more(rows[:-1], "late=1") is None


def test_plans_and_draws_are_paged_by_keyset(infra: Infra, flows: Any) -> None:
    """The lists page by (time, id), newest first: one row a page walks the whole list, two
    draws announced at the same moment included. (This stack has no draw service: three
    draws are written into the read model, last in the module.)"""
    import asyncio
    from datetime import UTC, datetime

    from libs.common.service import open_pool
    from services.disclosure.portal import queries

    async def walk() -> None:
        db = await open_pool(infra.settings("disclosure"), max_size=2)
        try:
            same = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
            for when in (same, same, datetime(2026, 2, 1, tzinfo=UTC)):
                await db.execute(
                    """INSERT INTO disclosure.public_draws (draw_id, batch_id, plan_id,
                       batch_name, items, initiating_department, announced_at,
                       announcement_hash, protocol, pool_hash, pool_size, strata_rules,
                       commitment, entropy_source)
                       VALUES ($1, 'b', $2, '批次', '[]', 'SAMR', $3, 'h', 'ssj-draw-3', 'p',
                               1, '{}', 'c', 'lottery')""",
                    uuid.uuid4(),
                    uuid.UUID(PLAN_ID),
                    when,
                )
            for whole, fetch, at, key in (
                (
                    await queries.draws(db, 1000),
                    lambda before: queries.draws(db, 1, before=before),
                    "announced_at",
                    "draw_id",
                ),
                (
                    await queries.recent_plans(db, 1000),
                    lambda before: queries.recent_plans(db, 1, before),
                    "published_at",
                    "plan_id",
                ),
            ):
                paged: list[Any] = []
                before = None
                while page := await fetch(before):
                    paged += page
                    before = (page[-1][at], page[-1][key])
                assert whole and [r[key] for r in paged] == [r[key] for r in whole]
        finally:
            await db.close()

    asyncio.run(walk())


def test_a_forged_list_cursor_is_a_400(public: httpx.Client) -> None:
    for path in ("/plans", "/draws"):
        _page(public, path, status=400, after="not-a-cursor")
        _page(public, path, status=200)
