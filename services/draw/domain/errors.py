"""Domain errors of the draw; the API maps them to problem+json."""

from services.draw.protocol.groups import NoValidGroup as NoValidGroup
from services.draw.protocol.proof import ReplacementError


class DrawError(Exception):
    """Base of draw rule violations."""


class PoolEmpty(DrawError):
    """No subject is eligible for the batch."""


class InvalidDraw(DrawError):
    """The batch or request cannot be drawn as given (the message says why)."""


class BatchNotDrawable(DrawError):
    """The batch is unknown or not published."""


class AlreadyAnnounced(DrawError):
    """The batch has its draw already; a draw is never silently re-run."""


class AlreadyExecuted(DrawError):
    """The draw was executed already; a second execution is rejected."""


class NotExecuted(DrawError):
    """The draw has not been executed yet (replacements need a result)."""


class EntropyNotYetAvailable(DrawError):
    """The announced public entropy is not due yet, so it cannot be supplied."""


class InvalidEntropy(DrawError):
    """The typed entropy is not the announced source's numbers (the message says why)."""


class CommitmentMismatch(DrawError):
    """The draw's secret does not hash to the commitment it published: nothing is drawn."""


class DrawVoided(DrawError):
    """The draw was voided before its entropy time: nothing more happens to it."""


class TooLateToVoid(DrawError):
    """The entropy was due already: the draw can only be executed now."""


class SourceExists(DrawError):
    """An entropy source with this code is registered already."""


class UnknownSource(DrawError):
    """No entropy source has this code."""


class NoLineProof(DrawError):
    """The subject is not in the draw's pool, or the draw has no line proofs (announced
    before ssj-draw-3 was complete)."""


class InvalidReplacement(DrawError, ReplacementError):
    """A replacement (递补) that cannot be made as asked."""


__all__ = [
    "AlreadyAnnounced",
    "AlreadyExecuted",
    "BatchNotDrawable",
    "CommitmentMismatch",
    "DrawError",
    "DrawVoided",
    "EntropyNotYetAvailable",
    "InvalidDraw",
    "InvalidEntropy",
    "InvalidReplacement",
    "NoLineProof",
    "NoValidGroup",
    "NotExecuted",
    "PoolEmpty",
    "SourceExists",
    "TooLateToVoid",
    "UnknownSource",
]
