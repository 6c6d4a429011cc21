"""The access matrix (访问控制矩阵): who may call every operation of the five services.

One row per operation (method and path template as the service's OpenAPI names it). A row
lists the caller classes that are let through; every other caller is refused: a caller
without a token (or with a faulty one) with 401, a caller with a valid token with the row's
``refused`` status (403, or 404 where the rule hides that the record exists), an operator
of another department with ``refused_other`` where that differs (422: a row error of a
file). docs/api.md "Access matrix" is generated from this table (``python -m
tests.access.matrix docs``), tests/access/test_matrix.py calls every cell against running
services, and tests/unit/test_access_doc.py keeps the two equal.

Caller classes, relative to the fixtures of department A (SAMR: an item, a subject, an
inspector, a plan it initiates, a draw of that plan, the inspection task (检查任务) of one
drawn subject, published, and a record of that subject from before tasks existed):

- ``anonymous``: no token;
- ``office``: 联席会议办公室 (role ``office``); ``auditor``: read-only oversight;
- ``operator:own`` / ``operator:other``: an operator of A / of another registered department
  that has nothing to do with the record;
- ``inspector:group``: an inspector of the draw's inspection group (检查组, token ``sub`` is
  their inspector id); ``inspector:own`` / ``inspector:other``: an inspector of A / of the
  other department who is not in the group;
- ``approver:own`` / ``approver:other``: a token holding the approver role (审批人) alone,
  of A / of the other department;
- ``reviewer:own`` / ``reviewer:other``: a token holding the reviewer role (审核人) alone, of
  A (the implementing department of the fixture task: its group leader's) / of the other
  department; reviewers read the tasks of their department and review them, nothing else;
- ``subject:own``: the drawn subject itself (检查对象, role ``subject``, token ``sub`` its
  USCC), which reads its own line of a draw's pool and nothing else.

A platform account (平台对接账号, role ``platform``) is a column of its own: the rows with
``platform=True`` (libs.common.auth.PLATFORM_OPERATIONS) let it through, every other one
refuses it with 403 (tests/access/test_platform_access.py).

"Let through" means the caller's request reaches the operation: the answer may still be
404, 409, 412 or 422 for reasons of the record, never 401 or 403. Lists marked *scoped*
answer every reader but leave out the records the reader may not read (see docs/api.md
"Who reads what").
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

CALLERS = (
    "anonymous",
    "office",
    "auditor",
    "operator:own",
    "operator:other",
    "inspector:group",
    "inspector:own",
    "inspector:other",
    "approver:own",
    "approver:other",
    "reviewer:own",
    "reviewer:other",
    "subject:own",
)
EVERYONE = frozenset(CALLERS)
# A token with the approver role alone approves replacements and reads nothing.
APPROVERS = frozenset({"approver:own", "approver:other"})
# A token with the reviewer role alone reads and reviews its department's tasks, nothing else.
REVIEWERS = frozenset({"reviewer:own", "reviewer:other"})
# A subject's token reads its own pool line and what is public, nothing else.
SUBJECTS = frozenset({"subject:own"})
READERS = EVERYONE - {"anonymous"} - APPROVERS - REVIEWERS - SUBJECTS
OVERSIGHT = frozenset({"office", "auditor"})
OFFICE = frozenset({"office"})
OWN_WRITERS = frozenset({"office", "operator:own"})
WRITERS = frozenset({"office", "operator:own", "operator:other"})
# Who records a task's result, corrects it and follows it up (Assignment.authorise).
GROUP_WRITERS = frozenset({"office", "operator:own", "inspector:group"})
# Who reads a task: the group, the departments taking part, the implementing department's
# reviewers, oversight.
TASK_READERS = frozenset({"office", "auditor", "operator:own", "inspector:group", "reviewer:own"})
# A task's files (证据, documents): the group and the reviewers; its case file also the
# auditors (the roles).
FILE_READERS = frozenset({"inspector:group", "reviewer:own"})
CASE_FILE_READERS = frozenset({*FILE_READERS, "auditor"})
SERVICES = ("registry", "planner", "draw", "results", "disclosure")
HEALTH = ("/healthz", "/readyz", "/metrics")


@dataclass(frozen=True)
class Rule:
    """Who may call one operation, and what a refused caller with a token gets."""

    service: str
    method: str
    path: str
    allowed: frozenset[str]
    refused: int = 403
    note: str = ""
    # What an operator of another department gets when that differs (an import's rows).
    refused_other: int | None = None
    # A scoped list: the callers who find the fixture record in it (the others, let
    # through, get the list without it).
    sees: frozenset[str] | None = None
    # A POST that reads (a query too large for a URL): no write, for any caller.
    reads: bool = False
    # A platform account (平台对接账号) may call it.
    platform: bool = False

    def refusal(self, caller: str) -> int:
        """The status a caller with a valid token who is not allowed gets."""
        if caller == "operator:other" and self.refused_other is not None:
            return self.refused_other
        return self.refused

    @property
    def key(self) -> tuple[str, str, str]:
        """(service, METHOD, path template), as the OpenAPI document names it."""
        return (self.service, self.method, self.path)

    @property
    def public(self) -> bool:
        """No token needed."""
        return "anonymous" in self.allowed

    @property
    def platform_allowed(self) -> bool:
        """Whether a platform account's token gets through."""
        return self.platform or self.public


def _rules() -> list[Rule]:
    r = Rule
    rows = [
        # registry: the department register and token revocations (the office's)
        r("registry", "POST", "/v1/departments", OFFICE),
        r("registry", "PATCH", "/v1/departments/{code}", OFFICE),
        r("registry", "GET", "/v1/departments/{code}", READERS),
        r("registry", "GET", "/v1/departments", READERS),
        r("registry", "POST", "/v1/tokens/revocations", OFFICE),
        r("registry", "GET", "/v1/tokens/revocations/{jti}", OVERSIGHT),
        # registry: items 抽查事项 (written by the department the item names)
        r("registry", "POST", "/v1/items", OWN_WRITERS, note="the item's department"),
        r("registry", "GET", "/v1/items/{code}", READERS),
        r("registry", "PATCH", "/v1/items/{code}", OWN_WRITERS),
        r("registry", "POST", "/v1/items/{code}/publish", OWN_WRITERS),
        r("registry", "POST", "/v1/items/{code}/withdraw", OWN_WRITERS),
        r("registry", "GET", "/v1/items", READERS),
        # registry: subjects 检查对象 (written by the departments supervising them)
        r("registry", "POST", "/v1/subjects", OWN_WRITERS, note="a department it names"),
        r("registry", "GET", "/v1/subjects/{identifier}", READERS),
        r("registry", "PATCH", "/v1/subjects/{identifier}", OWN_WRITERS, note="supervising"),
        r("registry", "POST", "/v1/subjects/{identifier}/status", OWN_WRITERS),
        r("registry", "POST", "/v1/subjects/{identifier}/risk-class", OWN_WRITERS),
        r("registry", "POST", "/v1/subjects/{identifier}/listings", OWN_WRITERS),
        r("registry", "GET", "/v1/subjects", READERS),
        r("registry", "GET", "/v1/subjects-count", READERS),
        r("registry", "POST", "/v1/subject-counts", READERS, reads=True),
        r("registry", "GET", "/v1/subjects/{identifier}/history", READERS),
        # registry: inspectors, experts, tags, conflicts of interest
        r("registry", "POST", "/v1/inspectors", OWN_WRITERS, note="the inspector's department"),
        r("registry", "POST", "/v1/inspectors/{inspector_id}/status", OWN_WRITERS),
        r("registry", "GET", "/v1/inspectors", READERS),
        r("registry", "POST", "/v1/experts", WRITERS, note="a shared pool: any department"),
        r("registry", "GET", "/v1/experts", READERS),
        r("registry", "POST", "/v1/tags", OWN_WRITERS, note="the tag's department"),
        r("registry", "GET", "/v1/tags", READERS),
        r("registry", "POST", "/v1/conflicts", OWN_WRITERS, note="the inspector's department"),
        r("registry", "POST", "/v1/conflicts/lift", OWN_WRITERS),
        r(
            "registry",
            "GET",
            "/v1/conflicts",
            READERS,
            note="scoped: the inspector's department, the inspector concerned, oversight",
            sees=OWN_WRITERS | {"auditor"},
        ),
        r(
            "registry",
            "POST",
            "/v1/imports/{kind}",
            OWN_WRITERS,
            refused_other=422,
            note="row by row: another department's row is a row error department_forbidden",
        ),
        # planner
        r("planner", "POST", "/v1/plans", OWN_WRITERS, note="the initiating department"),
        r("planner", "POST", "/v1/plans/{plan_id}/publish", OFFICE),
        r("planner", "GET", "/v1/plans", READERS),
        r("planner", "GET", "/v1/plans/{plan_id}", READERS),
        r("planner", "GET", "/v1/items", READERS),
        r("planner", "POST", "/v1/plans/compile", OFFICE),
        r("planner", "GET", "/v1/plans/{plan_id}/coverage", READERS),
        r("planner", "GET", "/v1/plans/{plan_id}/versions", READERS),
        r("planner", "POST", "/v1/plans/{plan_id}/adjustments", OFFICE),
        r("planner", "POST", "/v1/plans/{plan_id}/batch-order", OFFICE),
        r("planner", "POST", "/v1/plans/{plan_id}/batch-order/draw", OFFICE),
        r("planner", "POST", "/v1/plan-modes", OFFICE),
        r("planner", "GET", "/v1/plan-modes", READERS),
        # planner: proposals 部门拟发起的联合抽查 and the annual plan
        r("planner", "POST", "/v1/proposals", OWN_WRITERS, note="the proposing department"),
        r("planner", "PATCH", "/v1/proposals/{proposal_id}", OWN_WRITERS),
        r("planner", "POST", "/v1/proposals/{proposal_id}/withdraw", OWN_WRITERS),
        r("planner", "GET", "/v1/proposals/{proposal_id}", OWN_WRITERS | {"auditor"}),
        r(
            "planner",
            "GET",
            "/v1/proposals",
            OVERSIGHT | {"operator:own", "operator:other"},
            note="scoped: the office and auditors see every proposal, an operator its department's",
        ),
        r("planner", "PUT", "/v1/proposal-deadlines/{region}/{year}", OFFICE),
        r("planner", "GET", "/v1/proposal-deadlines/{region}/{year}", READERS),
        r("planner", "GET", "/v1/merge-suggestions", OVERSIGHT),
        r("planner", "GET", "/v1/annual-plans/{region}/{year}", READERS),
        r("planner", "POST", "/v1/annual-plans/{region}/{year}/publish", OFFICE),
        # draw
        r("draw", "POST", "/v1/draws", OWN_WRITERS, note="the batch's initiating department"),
        r("draw", "POST", "/v1/draws/{draw_id}/execute", OWN_WRITERS),
        r(
            "draw",
            "POST",
            "/v1/draws/{draw_id}/replacements",
            frozenset({"office", "approver:own"}),
            note="approved by a person: the approver role of the initiating department",
        ),
        r("draw", "POST", "/v1/draws/{draw_id}/void", OWN_WRITERS),
        r("draw", "GET", "/v1/batches/{batch_id}/draws", READERS),
        r("draw", "POST", "/v1/entropy-sources/{code}/drawings/check", READERS, reads=True),
        r("draw", "POST", "/v1/entropy-sources/{code}/numbers", READERS, reads=True),
        r(
            "draw",
            "GET",
            "/v1/draws/{draw_id}",
            READERS,
            note="replacements' typed reason and approver: the record's department and "
            "oversight; others get the public reason code",
            platform=True,
        ),
        r("draw", "GET", "/v1/draws/{draw_id}/proof", EVERYONE, note="public proof"),
        r(
            "draw",
            "GET",
            "/v1/draws/{draw_id}/proof/full",
            OVERSIGHT,
            note="the full proof: risk classes, units and conflicts of the whole pool",
        ),
        r(
            "draw",
            "GET",
            "/v1/draws/{draw_id}/proof/lines/{identifier}",
            frozenset({"office", "auditor", "operator:own", "subject:own"}),
            note="a subject's own pool line: the subject itself, the initiating department",
        ),
        r("draw", "GET", "/v1/draws/{draw_id}/chain", READERS, platform=True),
        r("draw", "POST", "/v1/entropy-sources", OFFICE, note="the office keeps the sources"),
        r("draw", "GET", "/v1/entropy-sources", READERS),
        r("draw", "GET", "/v1/entropy-sources/{code}", READERS),
        # results: inspection tasks (检查任务), one per drawn subject
        r(
            "results",
            "GET",
            "/v1/tasks",
            READERS | REVIEWERS,
            note="scoped: as one task",
            sees=TASK_READERS,
        ),
        r(
            "results",
            "GET",
            "/v1/tasks/{task}",
            TASK_READERS,
            note="the group, the departments taking part, the implementing department's "
            "reviewers, oversight",
        ),
        r("results", "GET", "/v1/tasks/{task}/verification", TASK_READERS),
        r("results", "GET", "/v1/tasks/{task}/files/{sha256}", FILE_READERS),
        r("results", "GET", "/v1/tasks/{task}/case-file", CASE_FILE_READERS),
        r(
            "results",
            "POST",
            "/v1/tasks/{task}/inspection",
            GROUP_WRITERS,
            note="the inspection group (检查组), the initiating department",
        ),
        r("results", "POST", "/v1/tasks/{task}/submission", GROUP_WRITERS),
        r(
            "results",
            "POST",
            "/v1/tasks/{task}/review",
            frozenset({"reviewer:own"}),
            note="a reviewer (审核人) of the implementing department, not of the group",
        ),
        r("results", "POST", "/v1/tasks/{task}/corrections", GROUP_WRITERS),
        r("results", "POST", "/v1/tasks/{task}/follow-up/order", GROUP_WRITERS),
        r("results", "POST", "/v1/tasks/{task}/follow-up/reinspection", GROUP_WRITERS),
        r("results", "POST", "/v1/tasks/{task}/follow-up/closure", GROUP_WRITERS),
        r("results", "POST", "/v1/evidence", GROUP_WRITERS, note="a file of the task"),
        # results: records of before tasks existed (read only)
        r(
            "results",
            "GET",
            "/v1/results",
            READERS,
            note="scoped: as one record",
            sees=frozenset({"office", "auditor", "operator:own", "inspector:group"}),
        ),
        r(
            "results",
            "GET",
            "/v1/results/{record_id}",
            frozenset({"office", "auditor", "operator:own", "inspector:group"}),
            note="the group, the initiating department or a member's, oversight",
        ),
        # results: the working calendar (工作日历): anyone asks, the office loads a year
        r("results", "GET", "/v1/calendar/deadline", EVERYONE),
        r("results", "GET", "/v1/calendar/{year}", EVERYONE),
        r("results", "PUT", "/v1/calendar/{year}", OFFICE),
        r("results", "GET", "/v1/results/{record_id}/verification", READERS, platform=True),
        r("results", "GET", "/v1/assignments", READERS),
        # disclosure: the public face (公示), no token
        r("disclosure", "GET", "/v1/public/items", EVERYONE),
        r("disclosure", "GET", "/v1/public/items/{department}/{code}/versions", EVERYONE),
        r("disclosure", "GET", "/v1/public/plans", EVERYONE),
        r("disclosure", "GET", "/v1/public/plans/{plan_id}/versions", EVERYONE),
        r("disclosure", "GET", "/v1/public/draws", EVERYONE),
        r("disclosure", "GET", "/v1/public/draws/{draw_id}", EVERYONE),
        r("disclosure", "GET", "/v1/public/results", EVERYONE),
        r("disclosure", "GET", "/v1/public/results/{record_id}", EVERYONE),
        r("disclosure", "GET", "/v1/public/overdue", EVERYONE),
        # disclosure: 报送 to the national system (a file per period, its hash an event)
        r("disclosure", "POST", "/v1/exports", OVERSIGHT),
        r("disclosure", "GET", "/v1/exports/{export_id}", OVERSIGHT, platform=True),
    ]
    for service in SERVICES:
        rows.extend(
            r(
                service,
                "GET",
                path,
                EVERYONE,
                note="details to oversight only" * (path == "/readyz"),
            )
            for path in HEALTH
        )
    return rows


RULES: tuple[Rule, ...] = tuple(_rules())
BY_KEY: dict[tuple[str, str, str], Rule] = {rule.key: rule for rule in RULES}

if __name__ == "__main__":
    from tests.access.matrix_docs import markdown, write_docs

    if sys.argv[1:] == ["docs"]:
        write_docs()
    else:
        sys.stdout.write(markdown() + "\n")
