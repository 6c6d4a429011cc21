"""The whole 双随机、一公开 cycle through the services' HTTP APIs (``make demo``).

Registers 3 departments in the department register (部门名录, as the office), then 3 items,
200 subjects across risk classes A–D and 20 inspectors in those departments; the three
departments propose, the office merges their proposals into one joint plan and publishes the
annual plan (tests/e2e/planning.py); draws; inspects, submits, reviews and publishes a result
for every drawn subject but two, one problem followed to closure (tests/e2e/results_flow.py);
then reads the disclosed results from the public API. Exits non-zero unless every recorded
result is disclosed.
"""

from __future__ import annotations

import os
import random
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx

from libs.common.auth import issue_token
from libs.common.settings import SERVICE_PORTS, CommonSettings
from tests.builders import (
    ONSITE_ENTROPY,
    ONSITE_SOURCE,
    department_payload,
    entropy_choice,
    inspector_payload,
    item_payload,
    subject_payload,
    wait_for_entropy,
)
from tests.e2e.planning import plan_the_year
from tests.e2e.results_flow import credit_events, inspect_and_publish

DEPARTMENTS = ("SAMR", "TAX", "EPB")  # 市场监管局, 税务局, 生态环境局
RISK_MIX = {"A": 120, "B": 50, "C": 20, "D": 10}
INSPECTORS_PER_DEPT = {"SAMR": 8, "TAX": 6, "EPB": 6}


@dataclass
class Endpoints:
    """Base URLs of the five services."""

    urls: dict[str, str]

    @classmethod
    def from_env(cls) -> Endpoints:
        """``SSJ_<SERVICE>_URL`` or the default local ports."""
        return cls(
            {
                name: os.environ.get(f"SSJ_{name.upper()}_URL", f"http://127.0.0.1:{port}")
                for name, port in SERVICE_PORTS.items()
            }
        )


class Scenario:
    """Drives the cycle; every step is a real HTTP call."""

    def __init__(self, endpoints: Endpoints, settings: CommonSettings, out: Any = sys.stdout):
        self.urls = endpoints.urls
        self.settings = settings
        self.out = out
        self.http = httpx.Client(timeout=30)
        self.rng = random.Random(20261122)
        self.run = f"{int(time.time()) % 100000:05d}"

    def say(self, text: str) -> None:
        """Progress line."""
        print(text, file=self.out, flush=True)

    def auth(self, sub: str, dept: str, *roles: str) -> dict[str, str]:
        """Authorization header for a caller."""
        token = issue_token(self.settings, sub=sub, dept=dept, roles=roles)
        return {"Authorization": f"Bearer {token}"}

    def call(self, method: str, service: str, path: str, who: dict[str, str], **kw: Any) -> Any:
        """One request; a non-2xx answer stops the scenario with the problem text."""
        response = self.http.request(method, self.urls[service] + path, headers=who, **kw)
        if response.status_code >= 300:
            raise RuntimeError(
                f"{method} {service}{path} -> {response.status_code}: {response.text}"
            )
        return response.json()

    def ensure_subject(self, body: dict[str, Any], who: dict[str, str]) -> None:
        """Register a subject; one an earlier run registered (same USCC, 409) is kept, so
        the demo runs again on the same database."""
        url = self.urls["registry"]
        response = self.http.post(f"{url}/v1/subjects", headers=who, json=body)
        if response.status_code == 409:
            known = self.http.get(f"{url}/v1/subjects/{body['identifier']}", headers=who)
            if known.status_code == 200:
                return
        if response.status_code >= 300:
            raise RuntimeError(
                f"POST registry/v1/subjects -> {response.status_code}: {response.text}"
            )

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until every relay has published and every consumer has caught up."""
        deadline = time.monotonic() + timeout
        quiet = 0
        # /readyz shows its lags to the office and auditors only.
        auditor = self.auth("demo-auditor", "OFFICE", "auditor")
        while time.monotonic() < deadline:
            lags = []
            for url in self.urls.values():
                checks = self.http.get(f"{url}/readyz", headers=auditor).json()["checks"]
                lags.append(checks.get("relay_lag", 1))
                lags.extend(checks.get("consumer_lag", {}).values())
            quiet = quiet + 1 if not any(lags) else 0
            if quiet >= 2:
                return
            time.sleep(0.2)
        raise TimeoutError("events did not settle")

    def ensure_department(self, office: dict[str, str], dept: str) -> None:
        """Register ``dept``; one registered by an earlier run on this database stays, and
        is reactivated if someone (a fuzz run as the office) deactivated it."""
        url = f"{self.urls['registry']}/v1/departments"
        response = self.http.post(url, headers=office, json=department_payload(dept))
        if response.status_code == 201:
            return
        if response.status_code != 409:
            raise RuntimeError(f"registering {dept} -> {response.status_code}: {response.text}")
        current = self.http.get(f"{url}/{dept}", headers=office)
        if not current.json()["active"]:
            headers = {**office, "If-Match": current.headers["etag"]}
            path = f"/v1/departments/{dept}"
            self.call("PATCH", "registry", path, headers, json={"active": True})

    def run_cycle(self) -> dict[str, Any]:
        """Run every step; return what the public sees."""
        office = self.auth("office-1", "OFFICE", "office")
        ops = {d: self.auth(f"op-{d.lower()}", d, "operator") for d in DEPARTMENTS}

        self.say("0. 部门名录: the office registers the departments (once per database)")
        for dept in DEPARTMENTS:
            self.ensure_department(office, dept)

        self.say("1. 一单两库: registering items, subjects and inspectors")
        codes = []
        for n, dept in enumerate(DEPARTMENTS):
            code = f"{dept}-{self.run}-{n + 1}"
            extra = {"category": "key", "ratio": 0.2} if dept == "EPB" else {}
            self.call(
                "POST", "registry", "/v1/items", ops[dept], json=item_payload(code, dept, **extra)
            )
            self.call("POST", "registry", f"/v1/items/{code}/publish", ops[dept])
            codes.append(code)
        for risk_class, count in RISK_MIX.items():
            for _ in range(count):
                body = subject_payload(
                    self.rng, risk_class, region_code="42020" + str(self.rng.randrange(2, 6))
                )
                self.ensure_subject(body, ops["SAMR"])
        for dept, count in INSPECTORS_PER_DEPT.items():
            for n in range(count):
                body = inspector_payload(dept, int(self.run) * 100 + n, region_code="420200")
                self.call("POST", "registry", "/v1/inspectors", ops[dept], json=body)
        self.say(
            f"   {len(codes)} items, {sum(RISK_MIX.values())} subjects, "
            f"{sum(INSPECTORS_PER_DEPT.values())} inspectors"
        )
        self.settle()

        plan = plan_the_year(self, office, {d: ops[d] for d in DEPARTMENTS}, codes)
        batch_id = plan["batches"][0]["batch_id"]

        self.say("3. Draw: announce (pool frozen, secret committed), then execute with entropy")
        # The office registers the on-site drawing (现场摇号) as a source, once.
        response = self.http.post(
            self.urls["draw"] + "/v1/entropy-sources", headers=office, json=ONSITE_SOURCE
        )
        if response.status_code not in (201, 409):
            raise RuntimeError(f"POST draw/v1/entropy-sources -> {response.text}")
        announced = self.call(
            "POST",
            "draw",
            "/v1/draws",
            ops["SAMR"],
            json={"batch_id": batch_id, "entropy": entropy_choice()},
        )
        self.say(
            f"   announced {announced['id']}: pool {announced['pool_size']} "
            f"(hash {announced['pool_hash'][:16]}…), commitment {announced['commitment'][:16]}…"
            f", drawing {announced['entropy_source']} at {announced['entropy_not_before']}"
        )
        wait_for_entropy(announced)  # the numbers exist only after the announcement
        draw = self.call(
            "POST",
            "draw",
            f"/v1/draws/{announced['id']}/execute",
            ops["SAMR"],
            json={"entropy": ONSITE_ENTROPY},
        )
        strata = ", ".join(
            f"{k} {v['count']}/{v['pool']}"
            for k, v in draw["executed"]["strata"].items()
            if v["pool"]
        )
        self.say(
            f"   executed: {len(draw['subjects'])} subjects ({strata}), "
            f"seed {draw['executed']['seed'][:16]}…"
        )
        self.settle()

        self.say(
            "4. Results: one per drawn subject but the last two, submitted by the group "
            "leader, reviewed by the department's reviewer, published"
        )
        # The last two are still being inspected (their subjects and groups may still be
        # replaced, 递补; the others no longer can).
        recorded = inspect_and_publish(self, draw)
        self.settle()
        credit = [
            e
            for e in credit_events(self)
            if e["data"]["task_id"] in {task for task, _ in recorded.values()}
        ]
        self.say(f"   credit events for other platforms: {len(credit)}")
        for event in credit[:5]:
            d = event["data"]
            self.say(
                f"   {event['type']}  {d['subject_identifier']}  {d['kind']}  {d['decision']}  "
                f"{d['severity']}  {d['decided_on']}"
            )

        self.say("5. Disclosure: what the public sees")
        public = self.http.get(
            f"{self.urls['disclosure']}/v1/public/results",
            params={"draw_id": draw["id"], "limit": 1000},
        ).json()["items"]
        for row in public:
            self.say(
                f"   {row['subject_identifier']}  {row['subject_name']}  {row['inspection_type']}  "
                f"{row['inspected_on']}  {row['outcome_text']}"
            )
        self.say(
            f"   the portal: {self.urls['disclosure']}/draws/{draw['id']} "
            "(verify the draw in your browser there)"
        )
        disclosed = {r["subject_identifier"]: r["outcome"] for r in public}
        missing = [i for i, (_, outcome) in recorded.items() if disclosed.get(i) != outcome]
        return {
            "draw": draw,
            "plan": plan,
            "recorded": recorded,
            "public": public,
            "missing": missing,
        }


def main() -> int:
    """Run the scenario against running services (``make run``)."""
    scenario = Scenario(Endpoints.from_env(), CommonSettings())
    try:
        outcome = scenario.run_cycle()
    except (httpx.HTTPError, RuntimeError, TimeoutError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    if outcome["missing"]:
        print(f"NOT disclosed: {outcome['missing']}", file=sys.stderr)
        return 1
    print(f"\nall {len(outcome['recorded'])} recorded results are disclosed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
