"""Crash points for the crash-proof tests: ``SSJ_CRASH_AT=relay.after_publish`` (optionally
``@N`` for the N-th pass) makes the process die there, as a kill -9 would, with no cleanup.
Unset in production, where a crash point costs one dictionary lookup."""

from __future__ import annotations

import os
from collections import Counter

CRASH_EXIT_CODE = 86
_passes: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Die here if the environment asks for it."""
    spec = os.environ.get("SSJ_CRASH_AT")
    if not spec:
        return
    target, _, nth = spec.partition("@")
    if target != name:
        return
    _passes[name] += 1
    if _passes[name] >= int(nth or 1):
        os._exit(CRASH_EXIT_CODE)
