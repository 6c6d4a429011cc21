"""DisclosureApplication — the disclosure service's own event store.

It records nothing yet: publication records and the deadline watch (issue of their own)
will live here. The public read models are built from the other services' events.
"""

from __future__ import annotations

from libs.common.eventstore import EventStoreApp


class DisclosureApplication(EventStoreApp):
    """Publication records of 一公开 (none written by the foundation)."""

    service = "disclosure"
