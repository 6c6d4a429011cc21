"""Domain errors of the draw; the API maps them to problem+json."""


class DrawError(Exception):
    """Base of draw rule violations."""


class PoolEmpty(DrawError):
    """No subject is eligible for the batch."""


class NoValidGroup(DrawError):
    """No inspector group satisfies the rules; the message names the rule."""


class BatchNotDrawable(DrawError):
    """The batch is unknown or not published."""


class AlreadyDrawn(DrawError):
    """The batch was drawn already; a draw is never silently re-run."""
