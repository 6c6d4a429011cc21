"""Domain errors of the planner; the API maps them to problem+json."""


class PlanError(Exception):
    """Base of planning rule violations."""


class InvalidPlan(PlanError):
    """The plan breaks a planning rule (the message names it)."""


class PlanStateError(PlanError):
    """The plan is not in a state that allows this change (e.g. published twice)."""
