"""A snapshot loads once per REFRESH_SECONDS, whoever asks, and once for requests that
find it stale together (libs/common/snapshots.py)."""

from __future__ import annotations

import asyncio

import pytest

from libs.common import snapshots
from libs.common.snapshots import Snapshot


async def test_loads_once_a_second_and_once_for_concurrent_askers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(snapshots.time, "monotonic", lambda: now[0])
    loads: list[float] = []

    async def load() -> frozenset[str]:
        loads.append(now[0])
        await asyncio.sleep(0)  # the others arrive while this load runs
        return frozenset({f"v{len(loads)}"})

    snapshot = Snapshot(load, frozenset[str]())
    seen = await asyncio.gather(*(snapshot.current() for _ in range(5)))
    assert loads == [100.0] and set(seen) == {frozenset({"v1"})}
    now[0] += snapshots.REFRESH_SECONDS - 0.01
    assert await snapshot.current() == frozenset({"v1"})
    now[0] += 0.01
    assert await snapshot.current() == frozenset({"v2"})
    assert len(loads) == 2


async def test_a_snapshot_keeps_its_value_for_its_own_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [0.0]
    monkeypatch.setattr(snapshots.time, "monotonic", lambda: now[0])
    loads = [0]

    async def load() -> dict[str, float]:
        loads[0] += 1
        return {"pair": float(loads[0])}

    snapshot = Snapshot(load, dict[str, float](), refresh_seconds=300)
    assert await snapshot.current() == {"pair": 1.0}
    now[0] = 299.9
    assert await snapshot.current() == {"pair": 1.0}
    now[0] = 300.0
    assert await snapshot.current() == {"pair": 2.0}
