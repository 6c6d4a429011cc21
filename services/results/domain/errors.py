"""Domain errors of the results service; the API maps them to problem+json."""


class ResultError(Exception):
    """Base of result rule violations."""


class InvalidResult(ResultError):
    """The result breaks a rule (the message names it)."""


class NotInGroup(ResultError):
    """The caller is neither in the subject's inspection group nor an operator of the
    initiating department, so may not record or correct its result."""


class InvalidCalendar(ResultError):
    """A year's arrangement (or a deadline question) the calendar cannot take."""


class TaskStateError(ResultError):
    """The task is not in a state where this step can be taken (409)."""


class NotReviewer(ResultError):
    """The caller may not review this task: reviewers are of the implementing department
    and not of the inspection group."""
