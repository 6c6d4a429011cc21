"""Domain errors of the results service; the API maps them to problem+json."""


class ResultError(Exception):
    """Base of result rule violations."""


class InvalidResult(ResultError):
    """The result breaks a rule (the message names it)."""
