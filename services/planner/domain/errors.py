"""Domain errors of the planner; the API maps them to problem+json."""


class PlanError(Exception):
    """Base of planning rule violations."""


class InvalidPlan(PlanError):
    """The plan breaks a planning rule (the message names it)."""


class UnknownItem(PlanError):
    """An item code the planner has never seen in the registry's item list."""


class ItemNotPublished(PlanError):
    """抽查事项 not (or no longer) published: plans may use published items only."""


class PlanStateError(PlanError):
    """The plan is not in a state that allows this change (e.g. published twice)."""


class UnknownDepartment(PlanError):
    """A plan names a department that is not (or no longer) in the registry's department
    register (部门名录); ``field`` is the request field that named it."""

    def __init__(self, field: str, codes: list[str]) -> None:
        self.field = field
        self.codes = sorted(codes)
        super().__init__(
            f"{field} names departments not active in the department register (部门名录): "
            f"{self.codes}"
        )

    @property
    def problem_extensions(self) -> dict[str, object]:
        """The field-by-field form of the problem+json answer."""
        return {
            "errors": [
                {
                    "field": self.field,
                    "in": "body",
                    "code": "unknown_department",
                    "message": str(self),
                    "departments": self.codes,
                }
            ]
        }
