"""Answers: the JSON bodies routes send, declared field by field in the OpenAPI document.

A route names its answer's model (``response_model=``), so the document says what the
route sends and schemathesis (``make fuzz``) holds every answer to it. FastAPI validates
what a route returns against that model before sending it; an :class:`Answer` refuses a
key it does not declare, so a field added to a view but not to its answer fails the tests
that reach it (a 500) instead of silently disappearing from the body.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Answer(BaseModel):
    """A JSON answer (or a part of one): every key declared, no other key sent."""

    model_config = ConfigDict(extra="forbid")
