"""批次 — the batches of a plan: when they run, which subjects they draw from, how many of
each credit-risk class, which subjects are always inspected, and the rules the draw must
follow when it assigns inspectors.

A batch is fixed by the ``PlanCreated`` event that carries it. Keys were added to batches
after the first plans were stored; :func:`batch_with_defaults` gives an old batch the
defaults of the keys it lacks whenever one is read (stored events are never rewritten).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from stdnum.cn import uscc
from stdnum.exceptions import ValidationError

from services.planner.domain.errors import InvalidPlan

# Default share of each credit-risk class to inspect (seeds: A 1 %, B 3 %, C 10 %, D 20 %).
DEFAULT_RATIOS: dict[str, float] = {"A": 0.01, "B": 0.03, "C": 0.10, "D": 0.20}
SUBJECT_KINDS = ("for_profit", "non_profit", "non_market")
# Registration statuses of the registry: 存续, 注销, 吊销, 迁出, 撤销.
SUBJECT_STATUSES = ("operating", "deregistered", "revoked", "moved_out", "cancelled")
# 经营异常名录, 严重违法失信名单.
SUBJECT_FLAGS = ("abnormal_operation", "serious_violation")
POOL_KEYS = (
    "region_prefixes",
    "kinds",
    "industries",
    "risk_classes",
    "tags",
    "statuses",
    "flags",
)
# Pool filters added later: a value may not be listed twice.
_UNIQUE_POOL_KEYS = ("tags", "statuses", "flags")
MIN_GROUP_SIZE = 2  # 检查组 of at least two inspectors
# Subjects the full lists of one plan may name in all: ``PlanCreated`` carries them and has
# to fit one NATS message (1 MB by default; 20 000 USCCs are about 420 kB).
MAX_FULL_LIST = 20_000
_REGION_PREFIX = re.compile(r"^\d{2}(\d{2}){0,2}$")  # province, city or county (GB/T 2260)
_INDUSTRY = re.compile(r"^[A-T](\d{2})?$")  # GB/T 4754 section [+ division]
_TAG = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # code of the registry's tag dictionary 标签字库
# 工作方案 of a batch (002 第十三条: 抽查范围、数量、时间安排、工作协同及工作要求).
PROGRAMME_KEYS = ("scope", "count", "schedule", "coordination", "requirements")
_NON_MARKET_ID = re.compile(r"^[A-Z]{2,10}-[0-9A-Za-z-]{4,40}$")  # as the registry has it


def _batch_defaults() -> dict[str, Any]:
    """Values of the keys a batch may lack (fresh objects each time)."""
    return {
        "counts": {},
        "full_list": [],
        "complaint_referral": False,
        "cross_jurisdiction": False,
        "avoid_previous_inspectors": True,
        "min_group_size": MIN_GROUP_SIZE,
        "task_number": "",
        "programme": {},
    }


def batch_with_defaults(batch: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a stored batch with every key, defaults filling those it lacks.

    Batches of plans created before a key existed do not carry it; read them through this.
    """
    out = dict(batch)
    for key, value in _batch_defaults().items():
        out.setdefault(key, value)
    out["pool"] = dict(batch.get("pool") or {})
    for key in POOL_KEYS:
        out["pool"].setdefault(key, [])
    return out


def _parse_day(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidPlan(f"{where}: {value!r} is not a YYYY-MM-DD date") from exc


def _strings(value: Any, where: str) -> list[str]:
    """A list of strings; absent (None) is the empty list."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise InvalidPlan(f"{where}: must be a list, not {value!r}")
    return [str(v) for v in value]


def _repeated(values: list[str]) -> list[str]:
    return sorted({v for v in values if values.count(v) > 1})


def _flag(batch: Mapping[str, Any], key: str, where: str) -> bool:
    value = batch.get(key)
    if value is None:
        return bool(_batch_defaults()[key])
    if not isinstance(value, bool):
        raise InvalidPlan(f"{where}.{key}: {value!r} is not true or false")
    return value


def check_pool(pool: Mapping[str, Any] | None, where: str) -> dict[str, list[str]]:
    """抽查对象范围 — which subjects a batch draws from.

    An empty list restricts nothing, except ``statuses``: empty means the draw takes
    operating (存续) subjects only. ``tags`` and ``flags`` match subjects that have any of
    the listed values.
    """
    pool = pool or {}
    if not isinstance(pool, Mapping):
        raise InvalidPlan(f"{where}.pool: must be an object, not {pool!r}")
    unknown = sorted(set(pool) - set(POOL_KEYS))
    if unknown:
        raise InvalidPlan(f"{where}.pool: unknown filters {unknown}; known: {list(POOL_KEYS)}")
    out = {key: _strings(pool.get(key), f"{where}.pool.{key}") for key in POOL_KEYS}
    rules: tuple[tuple[str, Any], ...] = (
        ("region_prefixes", _REGION_PREFIX.match),
        ("kinds", SUBJECT_KINDS.__contains__),
        ("industries", _INDUSTRY.match),
        ("risk_classes", DEFAULT_RATIOS.__contains__),
        ("tags", _TAG.match),
        ("statuses", SUBJECT_STATUSES.__contains__),
        ("flags", SUBJECT_FLAGS.__contains__),
    )
    for key, valid in rules:
        bad = [v for v in out[key] if not valid(v)]
        if bad:
            raise InvalidPlan(f"{where}.pool.{key}: invalid values {bad}")
    for key in _UNIQUE_POOL_KEYS:
        repeated = _repeated(out[key])
        if repeated:
            raise InvalidPlan(f"{where}.pool.{key}: values listed more than once {repeated}")
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


def check_counts(
    counts: Mapping[str, Any] | None, risk_classes: list[str], where: str
) -> dict[str, int]:
    """Fixed number of subjects per credit-risk class, drawn instead of that class's ratio.

    Only the classes given are drawn by count; a class the pool excludes cannot have one.
    """
    counts = counts or {}
    if not isinstance(counts, Mapping):
        raise InvalidPlan(f"{where}.counts: must be an object, not {counts!r}")
    out: dict[str, int] = {}
    for risk_class, count in counts.items():
        if risk_class not in DEFAULT_RATIOS:
            raise InvalidPlan(f"{where}.counts: unknown risk class {risk_class!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidPlan(f"{where}.counts.{risk_class}: {count!r} is not an integer ≥ 0")
        if risk_classes and risk_class not in risk_classes:
            raise InvalidPlan(
                f"{where}.counts.{risk_class}: the pool's risk_classes {risk_classes} "
                f"exclude class {risk_class}"
            )
        out[str(risk_class)] = count
    return {k: out[k] for k in sorted(out)}


def check_identifier(value: str, where: str) -> str:
    """A subject identifier in the registry's form: a USCC (统一社会信用代码, check digit
    verified, returned compact and in upper case) or a non-market ``PREFIX-local-id``."""
    text = value.strip()
    if _NON_MARKET_ID.match(text):
        return text
    try:
        return str(uscc.validate(text))
    except ValidationError as exc:
        raise InvalidPlan(
            f"{where}: {value!r} is neither a valid USCC ({exc}) nor a PREFIX-local-id"
        ) from exc


def check_full_list(full_list: Any, where: str) -> list[str]:
    """全覆盖/重点检查对象 — subjects inspected at 100 %, each listed once."""
    values = _strings(full_list, f"{where}.full_list")
    out = [check_identifier(v, f"{where}.full_list[{n}]") for n, v in enumerate(values)]
    repeated = _repeated(out)
    if repeated:
        raise InvalidPlan(f"{where}.full_list: subjects listed more than once {repeated}")
    return out


def check_min_group_size(value: Any, where: str) -> int:
    """Inspectors per subject (检查组), at least two."""
    if value is None:
        return MIN_GROUP_SIZE
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_GROUP_SIZE:
        raise InvalidPlan(f"{where}.min_group_size: {value!r} is not an integer ≥ {MIN_GROUP_SIZE}")
    return value


def check_programme(value: Any, where: str) -> dict[str, str]:
    """工作方案 of a batch: text under the keys of :data:`PROGRAMME_KEYS`, all optional."""
    value = value or {}
    if not isinstance(value, Mapping):
        raise InvalidPlan(f"{where}.programme: must be an object, not {value!r}")
    unknown = sorted(set(value) - set(PROGRAMME_KEYS))
    if unknown:
        raise InvalidPlan(f"{where}.programme: unknown keys {unknown}; known: {PROGRAMME_KEYS}")
    return {k: str(value[k]).strip() for k in PROGRAMME_KEYS if str(value.get(k) or "").strip()}


def check_batch(year: int, batch: Mapping[str, Any], index: int) -> dict[str, Any]:
    """Validate one batch (批次) and return it in the form ``PlanCreated`` carries.

    The batch id is made here, once, so that it is fixed by the event: draws refer to it
    (a batch changed by an adjustment keeps its id: ``batch_id`` given is kept). Its task
    number (任务编号) is given by the plan.
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
        "batch_id": str(batch.get("batch_id") or uuid.uuid4()),
        "name": name,
        "pool": pool,
        "ratios": check_ratios(batch.get("ratios"), where),
        "counts": check_counts(batch.get("counts"), pool["risk_classes"], where),
        "full_list": check_full_list(batch.get("full_list"), where),
        "directed": directed,
        "complaint_referral": _flag(batch, "complaint_referral", where),
        "cross_jurisdiction": _flag(batch, "cross_jurisdiction", where),
        "avoid_previous_inspectors": _flag(batch, "avoid_previous_inspectors", where),
        "min_group_size": check_min_group_size(batch.get("min_group_size"), where),
        "starts_on": starts.isoformat(),
        "ends_on": ends.isoformat(),
        "programme": check_programme(batch.get("programme"), where),
        "task_number": str(batch.get("task_number") or ""),
    }


def check_batches(year: int, batches: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """At least one batch; names unique within the plan; full lists within the limit."""
    if not batches:
        raise InvalidPlan("a plan needs at least one batch")
    checked = [check_batch(year, b, n) for n, b in enumerate(batches)]
    names = [b["name"] for b in checked]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidPlan(f"batch names must be unique within a plan: {repeated}")
    listed = sum(len(b["full_list"]) for b in checked)
    if listed > MAX_FULL_LIST:
        raise InvalidPlan(
            f"the batches' full_list name {listed} subjects in all; a plan may name at most "
            f"{MAX_FULL_LIST}"
        )
    return checked
