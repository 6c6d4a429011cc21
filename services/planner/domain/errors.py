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
