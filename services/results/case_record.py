"""What a case file's ``record.json`` must say, read off its events (standard library only).

An independent replay of the task's mutators (domain/task.py) for ``ssj results
verify-case`` (caseverify.py): every field of the record as the service writes it
(``task_view``) is recomputed from the events alone, so a record rewritten under a resealed
manifest is named field by field. ``entrants`` is not compared: the record writes that set
as Python text, in no fixed order.
"""

from __future__ import annotations

import copy
from typing import Any

# The published result as ResultPublished sets it.
PUBLISHED = [
    *("category", "category_text", "severity", "pending_kind", "non_cooperation_case"),
    *("inspected_to", "items", "edition", "decided_on", "published_on"),
    *("publication_due", "publication_due_provisional", "late"),
]
DISPATCHED = [
    *("draw_id", "subject_id", "batch_id", "plan_id", "subject_identifier", "subject_name"),
    *("implementing_department", "initiating_department", "group", "forms", "ends_on"),
    *("due_on", "dispatched_on"),
]
RECOUNTED = [
    *("year", "due_on", "due_on_provisional", "publication_due", "publication_due_provisional")
]
NOT_COMPARED = frozenset({"id", "version", "entrants"})


def _follow_up() -> dict[str, Any]:
    return {
        "state": "none",
        "decided_on": None,
        "deadline": None,
        "corrected": None,
        "reinspected_on": None,
        "outcome": None,
        "closed_on": None,
        "steps": [],
    }


class RecordReplica:
    """The task as its events make it, one event at a time (:meth:`apply`)."""

    def __init__(self) -> None:
        self.task: dict[str, Any] = {}

    def apply(self, name: str, body: dict[str, Any]) -> None:
        """One event (its kind and fields checked by the caller)."""
        t, b = self.task, copy.deepcopy(body)
        if name == "TaskDispatched":
            t.update({k: b[k] for k in DISPATCHED})
            t.update(
                state="dispatched",
                report=None,
                files={},
                submitted_on=None,
                late=False,
                returns=[],
                reviewed_on=None,
                published=None,
                pending_correction=None,
                corrections=[],
                follow_up=_follow_up(),
                previous_case=None,
                recounted=None,
            )
        elif not t:
            return  # nothing to apply to: the caller reports the missing first event
        elif name == "DeadlinesRecounted":
            t["due_on"] = b["due_on"]
            t["recounted"] = {k: b[k] for k in RECOUNTED}
        elif name == "InspectionRecorded":
            t.update(report=b["report"], state="inspected")
        elif name == "EvidenceAttached":
            t["files"][b["sha256"]] = {k: b[k] for k in ("name", "media_type", "size", "purpose")}
        elif name == "ResultSubmitted":
            t.update(state="submitted", submitted_on=b["submitted_on"], late=b["late"])
        elif name == "TaskWithdrawn":
            t["state"] = "withdrawn"
        elif name == "ResultReturned":
            t["state"] = "returned"
            t["returns"].append({"reason": b["reason"], "returned_on": b["returned_on"]})
        elif name == "ResultApproved":
            t.update(state="reviewed", reviewed_on=b["reviewed_on"])
        elif name == "ResultPublished":
            t["previous_case"] = (t["published"] or {}).get("non_cooperation_case")
            t.update(state="published", published={k: b[k] for k in PUBLISHED})
        else:
            self._correction_or_follow_up(name, b)

    def _correction_or_follow_up(self, name: str, b: dict[str, Any]) -> None:
        t, follow_up = self.task, self.task["follow_up"]
        if name == "CorrectionSubmitted":
            t["pending_correction"] = {"report": b["report"], "reason": b["reason"]}
        elif name == "CorrectionReturned":
            t["pending_correction"] = None
        elif name == "CorrectionApproved":
            pending = t["pending_correction"] or {"report": t["report"], "reason": ""}
            t["corrections"].append(
                {
                    "from": (t["report"] or {}).get("category"),
                    "to": (pending["report"] or {}).get("category"),
                    "reason": pending["reason"],
                    "reviewed_on": b["reviewed_on"],
                }
            )
            t.update(
                report=pending["report"],
                pending_correction=None,
                state="reviewed",
                reviewed_on=b["reviewed_on"],
            )
        elif name == "CorrectionOrdered":
            follow_up.update(state="ordered", deadline=b["deadline"])
            follow_up["decided_on"] = follow_up["decided_on"] or b["decided_on"]
            step = {"step": "ordered", "on": b["decided_on"], "documents": b["documents"]}
            follow_up["steps"].append(step)
        elif name == "Reinspected":
            follow_up.update(
                state="reinspected", corrected=b["corrected"], reinspected_on=b["reinspected_on"]
            )
            step = {"step": "reinspected", "on": b["reinspected_on"], "documents": b["documents"]}
            follow_up["steps"].append(step)
        elif name == "FollowUpClosed":
            follow_up.update(state="closed", outcome=b["outcome"], closed_on=b["decided_on"])
            follow_up["decided_on"] = follow_up["decided_on"] or b["decided_on"]
            step = {"step": b["outcome"], "on": b["decided_on"], "documents": b["documents"]}
            follow_up["steps"].append(step)

    def differences(self, record: dict[str, Any]) -> list[str]:
        """The fields of ``record`` (``record.json``) that are not what the events say,
        and those it has that no task has."""
        if not self.task:
            return []
        keys = (set(self.task) | set(record)) - NOT_COMPARED
        return sorted(k for k in keys if record.get(k) != self.task.get(k))
