"""批次 — the batches of a plan: when they run, which subjects they draw from, and at
which share per credit-risk class."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from services.planner.domain.errors import InvalidPlan

# Default share of each credit-risk class to inspect (seeds: A 1 %, B 3 %, C 10 %, D 20 %).
DEFAULT_RATIOS: dict[str, float] = {"A": 0.01, "B": 0.03, "C": 0.10, "D": 0.20}
SUBJECT_KINDS = ("for_profit", "non_profit", "non_market")
POOL_KEYS = ("region_prefixes", "kinds", "industries", "risk_classes")
_REGION_PREFIX = re.compile(r"^\d{2}(\d{2}){0,2}$")  # province, city or county (GB/T 2260)
_INDUSTRY = re.compile(r"^[A-T](\d{2})?$")  # GB/T 4754 section [+ division]


def _parse_day(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidPlan(f"{where}: {value!r} is not a YYYY-MM-DD date") from exc


def check_pool(pool: Mapping[str, Any] | None, where: str) -> dict[str, list[str]]:
    """抽查对象范围 — which subjects a batch draws from; an empty list restricts nothing."""
    pool = pool or {}
    unknown = sorted(set(pool) - set(POOL_KEYS))
    if unknown:
        raise InvalidPlan(f"{where}.pool: unknown filters {unknown}; known: {list(POOL_KEYS)}")
    out = {key: [str(v) for v in (pool.get(key) or [])] for key in POOL_KEYS}
    rules: tuple[tuple[str, Any], ...] = (
        ("region_prefixes", _REGION_PREFIX.match),
        ("kinds", SUBJECT_KINDS.__contains__),
        ("industries", _INDUSTRY.match),
        ("risk_classes", DEFAULT_RATIOS.__contains__),
    )
    for key, valid in rules:
        bad = [v for v in out[key] if not valid(v)]
        if bad:
            raise InvalidPlan(f"{where}.pool.{key}: invalid values {bad}")
    return out


def check_ratios(ratios: Mapping[str, Any] | None, where: str) -> dict[str, float]:
    """Share of each credit-risk class (A–D) to draw; the defaults fill what is not given."""
    merged = {**DEFAULT_RATIOS, **(ratios or {})}
    for risk_class, ratio in merged.items():
        if risk_class not in DEFAULT_RATIOS:
            raise InvalidPlan(f"{where}.ratios: unknown risk class {risk_class!r}")
        if not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
            raise InvalidPlan(f"{where}.ratios.{risk_class}: {ratio!r} is not in (0, 1]")
    return {k: float(v) for k, v in merged.items()}


def check_batch(year: int, batch: Mapping[str, Any], index: int) -> dict[str, Any]:
    """Validate one batch (批次) and return it in the form ``PlanCreated`` carries.

    The batch id is made here, once, so that it is fixed by the event: draws refer to it.
    """
    where = f"batches[{index}]"
    name = str(batch.get("name") or "").strip()
    if not name:
        raise InvalidPlan(f"{where}.name must not be empty")
    starts = _parse_day(batch.get("starts_on"), f"{where}.starts_on")
    ends = _parse_day(batch.get("ends_on"), f"{where}.ends_on")
    if ends < starts:
        raise InvalidPlan(f"{where}: ends_on {ends} is before starts_on {starts}")
    if starts.year != year or ends.year != year:
        raise InvalidPlan(f"{where}: {starts}–{ends} does not lie within the plan year {year}")
    pool = check_pool(batch.get("pool"), where)
    directed = bool(batch.get("directed", False))
    # 定向抽查 draws from subjects meeting stated conditions; without any it is undirected.
    if directed and not any(pool.values()):
        raise InvalidPlan(f"{where}: a directed batch (定向抽查) needs at least one pool filter")
    return {
        "batch_id": str(uuid.uuid4()),
        "name": name,
        "pool": pool,
        "ratios": check_ratios(batch.get("ratios"), where),
        "directed": directed,
        "starts_on": starts.isoformat(),
        "ends_on": ends.isoformat(),
    }


def check_batches(year: int, batches: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """At least one batch; names unique within the plan."""
    if not batches:
        raise InvalidPlan("a plan needs at least one batch")
    checked = [check_batch(year, b, n) for n, b in enumerate(batches)]
    names = [b["name"] for b in checked]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidPlan(f"batch names must be unique within a plan: {repeated}")
    return checked
