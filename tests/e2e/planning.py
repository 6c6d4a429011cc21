"""Step 2 of the demo: from the departments' proposals to the published annual plan.

The office moves its deadline (the demo runs any day of the year, the seeds' deadline is the
end of February), three departments propose, the office reads the merge suggestions and
merges the three into one joint plan (进一次门，查多项事), checks the ratios and publishes the
annual plan, recording an override where the demo's small registry leaves an item under
its floor.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

METHOD_NAMES = {"on_site": "实地核查", "documentary": "书面检查"}


class Driver(Protocol):
    """What the scenario offers this step."""

    http: Any
    urls: dict[str, str]
    run: str

    def say(self, text: str) -> None: ...

    def call(self, method: str, service: str, path: str, who: dict[str, str], **kw: Any) -> Any: ...

    def settle(self, timeout: float = 60.0) -> None: ...


def _proposal(dept: str, code: str, run: str, year: int, partners: list[str]) -> dict[str, Any]:
    return {
        "year": year,
        "department": dept,
        "title": f"{year}年度{dept}拟发起联合抽查（演示 {run}）",
        "item_codes": [code],
        "pool": {"region_prefixes": ["4202"]},
        "methods": ["on_site"],
        "starts_on": f"{year}-01-01",
        "ends_on": f"{year}-12-31",
        "ratios": {"A": 0.05, "B": 0.05},
        "partners": partners,
    }


def plan_the_year(
    driver: Driver, office: dict[str, str], ops: dict[str, dict[str, str]], codes: list[str]
) -> dict[str, Any]:
    """Proposals → merge → annual plan published; returns the published plan."""
    year = date.today().year
    region = "420200"
    driver.say("2. Plans: proposals, merging, numbers, ratios, the annual plan published")
    driver.call(
        "PUT",
        "planner",
        f"/v1/proposal-deadlines/{region}/{year}",
        office,
        json={"deadline": f"{year}-12-31", "reason": "演示环境：年度计划全年可报送"},
    )
    departments = list(ops)
    ids = []
    for dept, code in zip(departments, codes, strict=True):
        partners = [d for d in departments if d != dept]
        body = _proposal(dept, code, driver.run, year, partners)
        ids.append(driver.call("POST", "planner", "/v1/proposals", ops[dept], json=body)["id"])
    driver.say(f"   {len(ids)} departments proposed: {', '.join(departments)}")
    driver.settle()
    found = driver.call(
        "GET", "planner", "/v1/merge-suggestions", office, params={"year": year, "region": region}
    )["suggestions"]
    ours = [s for s in found if set(ids) <= {p["id"] for p in s["proposals"]}]
    if not ours:
        raise RuntimeError(f"no merge suggestion groups the demo's proposals: {found}")
    driver.say(f"   suggestion: {ours[0]['reason']}")
    plan = driver.call(
        "POST",
        "planner",
        "/v1/plans/compile",
        office,
        json={
            "proposal_ids": ids,
            "initiating_department": departments[0],
            "title": f"{year}年度跨部门联合双随机抽查（演示 {driver.run}）",
            "mode": "comprehensive",
            "content": {
                "organisation": "市双随机、一公开联席会议办公室统筹，发起部门牵头，参与部门配合",
                "disclosure": "抽查结果自检查结束之日起20个工作日内向社会公示",
            },
            "batches": [
                {
                    "name": "第一批次",
                    "pool": {"region_prefixes": ["4202"]},
                    "ratios": {"A": 0.05, "B": 0.05},
                    "directed": False,
                    "starts_on": f"{year}-01-01",
                    "ends_on": f"{year}-12-31",
                    "programme": {"coordination": "一次入户，多个部门同时完成各自事项检查"},
                }
            ],
        },
    )
    driver.say(f"   merged into plan {plan['number']}, task {plan['batches'][0]['task_number']}")
    coverage = driver.call("GET", "planner", f"/v1/plans/{plan['id']}/coverage", office)
    overrides = []
    for row in coverage["items"]:
        share = "—" if row["share"] is None else f"{row['share']:.2%}"
        driver.say(
            f"   {row['code']} ({row['category']}): {row['planned']} of {row['subjects']} "
            f"subjects, {share}" + ("  below its floor" if row["below_floor"] else "")
        )
        if row["below_floor"]:
            overrides.append({"item_code": row["code"], "reason": "演示数据量小，低于5%"})
    published = driver.call(
        "POST",
        "planner",
        f"/v1/annual-plans/{region}/{year}/publish",
        office,
        json={"floor_overrides": {plan["id"]: overrides} if overrides else {}},
    )
    driver.say(f"   annual plan published: {[p['number'] for p in published['plans']]}")
    driver.settle()
    return plan
