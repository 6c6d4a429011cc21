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


class ModeExists(PlanError):
    """A mode of joint inspection (联查模式) with this code is defined already."""


class RuleRefusal(PlanError):
    """A step the planning rules refuse; ``rule`` names the rule (in the problem+json
    answer as ``rule``), so a caller can tell one refusal from another without parsing."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(message)

    @property
    def problem_extensions(self) -> dict[str, object]:
        """The rule, for the problem+json answer."""
        return {"rule": self.rule}


class DeadlinePassed(RuleRefusal):
    """The office's deadline for proposals of the year has passed and no reason was given
    for the late step (报送截止)."""


class ProposalClosed(RuleRefusal):
    """The proposal was withdrawn or merged into a plan: it changes no more."""


class BelowFloor(RuleRefusal):
    """Publishing would leave a general item under its floor without a recorded override."""


class BatchDrawn(RuleRefusal):
    """An adjustment would change what a drawn batch drew by (pool, ratios, items)."""


class BatchOrderRefused(RuleRefusal):
    """The random order of a plan's batches cannot be announced or drawn (yet)."""
