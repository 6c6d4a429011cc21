"""The cyclic garbage collector set up for consumers (:func:`tune_gc`), once per process."""

from __future__ import annotations

import gc

# Young-generation threshold of the cyclic garbage collector once consumers run (CPython's
# default is 700 allocations).
GC_GEN0_THRESHOLD = 50_000
_gc_tuned = False


def tune_gc() -> None:
    """Set the process's cyclic garbage collector up for consumers, once per process:
    freeze what exists when the first consumer starts, and collect the youngest
    generation every GC_GEN0_THRESHOLD allocations rather than every 700.

    A consumer holds the batch being applied and the next one, parsed: thousands of small
    dicts and lists that live a few tens of milliseconds. With CPython's defaults they
    survive enough young collections to reach the oldest generation, and every few
    thousand events a full collection walks the whole heap (modules, the app, code
    tables). On the registry's bulk import (``make bench-pipeline``, 200,000 events) that
    was a fifth of the consumer's CPU: 40 µs an event without this, 32 with it.

    Frozen objects (those alive now, which live as long as the process) are still freed
    when their last reference goes; only a reference cycle among them would no longer be
    collected. A larger young generation lets most events die by reference counting before
    a collection sees them, at the cost of a few megabytes of cyclic garbage waiting a
    little longer. A process that disabled the collector is left alone.
    """
    global _gc_tuned
    if _gc_tuned or not gc.isenabled():
        return
    _gc_tuned = True
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GC_GEN0_THRESHOLD), gen1, gen2)
