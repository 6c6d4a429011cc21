"""Request bodies of the planner's API: what a caller may send, validated before anything
touches the database (lengths, ranges, patterns; the domain checks the planning rules)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from libs.common.commands import Command, Part
from libs.common.text import Code, Identifier, Line, Name, Text, line
from services.planner.domain.batches import MAX_FULL_LIST

# 检查方式 of the item list: 实地核查, 书面检查, 网络检查, 抽样检测, 委托专业机构,
# 采信其他部门结论.
Method = Literal["on_site", "documentary", "online", "sampling", "expert", "other_department"]

RiskClass = Literal["A", "B", "C", "D"]
SubjectStatus = Literal["operating", "deregistered", "revoked", "moved_out", "cancelled"]
SubjectFlag = Literal["abnormal_operation", "serious_violation"]
TagCode = Code
RegionPrefix = Annotated[str, Field(pattern=r"^[0-9]{2,6}$")]
IndustryCode = Annotated[str, Field(pattern=r"^[A-Z][0-9]{0,2}$")]
# Region prefixes of one pool: a province's counties (Hubei has 103) with room to spare.
MAX_POOL_REGIONS = 300
# GB/T 4754 has 97 divisions; a pool naming every one of them is the widest there is.
MAX_POOL_INDUSTRIES = 120
# Tags of one pool (标签): a handful in practice.
MAX_POOL_TAGS = 100
# Batches of one plan (批次): a weekly batch all year is 52; a daily one would be 366.
MAX_BATCHES = 400
# Items of one plan: a comprehensive joint plan (综合大联查) of many departments.
MAX_PLAN_ITEMS = 100
# Departments taking part in a joint plan: every member of a joint-meeting (联席会议).
MAX_PARTICIPANTS = 100
# Subjects drawn by count from one risk class: the largest pools have about a million.
MAX_COUNT = 10_000_000
# Inspectors in one group (检查组): two at least, a handful in practice.
MAX_GROUP_SIZE = 20
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
ModeCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
# Proposals merged into one plan: a comprehensive joint plan of every member department.
MAX_MERGED = 100


class PoolFilter(Part):
    """抽查对象范围 — which subjects a batch draws from; an empty list restricts nothing
    (except ``statuses``, where empty means operating subjects only)."""

    region_prefixes: list[RegionPrefix] = Field(
        default_factory=list,
        max_length=MAX_POOL_REGIONS,
        description="区域: GB/T 2260 prefixes, e.g. 42 or 4202",
    )
    kinds: list[Literal["for_profit", "non_profit", "non_market"]] = Field(
        default_factory=list,
        max_length=3,
        description="主体类型: 营利性 for_profit, 非营利性 non_profit, 非市场主体 non_market",
    )
    industries: list[IndustryCode] = Field(
        default_factory=list,
        max_length=MAX_POOL_INDUSTRIES,
        description="行业: GB/T 4754 sections or divisions, e.g. F52",
    )
    risk_classes: list[RiskClass] = Field(
        default_factory=list, max_length=4, description="信用风险分类: only these classes are drawn"
    )
    tags: list[TagCode] = Field(
        default_factory=list,
        max_length=MAX_POOL_TAGS,
        description="标签: codes of the tag dictionary (标签字库); a subject qualifies if it "
        "has any of them",
    )
    statuses: list[SubjectStatus] = Field(
        default_factory=list,
        max_length=5,
        description="登记状态: 存续 operating, 注销 deregistered, 吊销 revoked, 迁出 moved_out, "
        "撤销 cancelled; empty means operating (存续) subjects only",
    )
    flags: list[SubjectFlag] = Field(
        default_factory=list,
        max_length=2,
        description="名录: 经营异常名录 abnormal_operation, 严重违法失信名单 serious_violation; "
        "a subject qualifies if it is on any of them",
    )


class ProgrammeIn(Part):
    """工作方案 of a batch (002 第十三条): its scope, count, schedule, coordination and
    requirements, as text."""

    scope: Text = Field(default="", description="抽查范围")
    count: Text = Field(default="", description="抽查数量")
    schedule: Text = Field(default="", description="时间安排")
    coordination: Text = Field(default="", description="工作协同")
    requirements: Text = Field(default="", description="工作要求")


class ContentIn(Part):
    """What a plan sets out besides its batches (000), as text."""

    organisation: Text = Field(default="", description="组织领导")
    procedure: Text = Field(default="", description="抽查程序")
    methods: Text = Field(default="", description="检查方式")
    checks: Text = Field(default="", description="检查内容")
    handling: Text = Field(default="", description="处理程序")
    disclosure: Text = Field(default="", description="抽查结果公开")
    follow_up: Text = Field(default="", description="后续监管衔接")


class BatchIn(Part):
    """批次 — one round of drawing and inspecting within the plan year."""

    name: Annotated[str, line(100, min_length=1)]
    pool: PoolFilter = Field(default_factory=PoolFilter)
    ratios: dict[RiskClass, Share] = Field(
        default_factory=dict,
        description="抽查比例: share per credit-risk class; defaults A 0.01, B 0.03, C 0.10, "
        "D 0.20",
    )
    counts: dict[RiskClass, Annotated[int, Field(ge=0, le=MAX_COUNT)]] = Field(
        default_factory=dict,
        description='抽查数量: fixed number of subjects per credit-risk class, e.g. {"D": 5}; '
        "a class given here is drawn by count instead of by ratio",
    )
    full_list: list[Identifier] = Field(
        default_factory=list,
        max_length=MAX_FULL_LIST,
        description="全覆盖/重点检查对象: identifiers (USCC 统一社会信用代码, or PREFIX-local-id "
        "of non-market subjects) inspected at 100 %, each once; always included, outside the "
        "random strata; at most 20 000 in all the batches of a plan",
    )
    directed: bool = Field(False, description="定向抽查 (true) or 不定向抽查 (false)")
    complaint_referral: bool = Field(
        False,
        description="投诉举报、转办交办: subjects already inspected this year for the same "
        "general item are not excluded",
    )
    cross_jurisdiction: bool = Field(
        False,
        description="所所交叉: no inspector from the unit that routinely supervises the subject "
        "(日常监管单位)",
    )
    avoid_previous_inspectors: bool = Field(
        True, description="回避上次检查人员: nobody who inspected the same subject last time"
    )
    min_group_size: int = Field(
        2,
        ge=2,
        le=MAX_GROUP_SIZE,
        description="检查组人数: at least this many inspectors on each subject",
    )
    starts_on: date
    ends_on: date
    programme: ProgrammeIn = Field(default_factory=ProgrammeIn, description="工作方案")


class PlanIn(Command):
    """抽查计划 to file: a department's own plan, or a joint plan (联合抽查计划)."""

    # The full lists travel in PlanCreated: 20 000 USCCs are about 420 kB (see MAX_FULL_LIST);
    # with the items' names the plan copies it stays under NATS's 1 MiB.
    max_bytes = 512 * 1024

    year: int = Field(ge=2000, le=2100)
    title: Name
    mode: ModeCode = Field(
        description="a mode the office keeps (GET /v1/plan-modes): 综合大联查 comprehensive, "
        "风险分类联查 risk_based, 专项整治联查 special, and those the office adds"
    )
    programme: Line = Field(
        "",
        description="工作方案: the work programme a plan of a mode that needs one (专项整治) "
        "carries out",
    )
    initiating_department: Code
    participating_departments: list[Code] = Field([], max_length=MAX_PARTICIPANTS)
    item_codes: list[Code] = Field(
        min_length=1, max_length=MAX_PLAN_ITEMS, description="codes of published items"
    )
    batches: list[BatchIn] = Field(min_length=1, max_length=MAX_BATCHES)
    content: ContentIn = Field(default_factory=ContentIn)


class ModeIn(Command):
    """联查模式 to add to the list the office keeps."""

    code: ModeCode = Field(description="lower-case letters, digits and _, e.g. market_order")
    name: Name = Field(description="e.g. 市场秩序联查")
    needs_programme: bool = Field(
        False, description="whether its plans must name their work programme (工作方案)"
    )


class FloorOverride(Part):
    """An override of a general item's 5 % floor, with the reason disclosed with the plan."""

    item_code: Code
    reason: Annotated[str, line(500, min_length=2)]


class PublishIn(Command):
    """发布: the overrides the office records, if the plan needs any."""

    floor_overrides: list[FloorOverride] = Field([], max_length=MAX_PLAN_ITEMS)


class BatchChange(Part):
    """Changes to one batch; a drawn batch may only extend ``ends_on`` (and complete its
    ``programme``)."""

    batch_id: Annotated[str, Field(pattern=r"^[0-9a-f-]{36}$")]
    name: Annotated[str, line(100, min_length=1)] | None = None
    pool: PoolFilter | None = None
    ratios: dict[RiskClass, Share] | None = None
    counts: dict[RiskClass, Annotated[int, Field(ge=0, le=MAX_COUNT)]] | None = None
    full_list: list[Identifier] | None = Field(None, max_length=MAX_FULL_LIST)
    directed: bool | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    programme: ProgrammeIn | None = None


class AdjustmentIn(Command):
    """调整 of a published plan: why, who approved it, and what changes."""

    max_bytes = 512 * 1024

    reason: Annotated[str, line(500, min_length=2)] = Field(description="调整原因 (public)")
    approved_by: Name = Field(
        description="the body that approved it (批准机关/会议, e.g. 联席会议第3次会议): public"
    )
    title: Name | None = None
    programme: Line | None = None
    content: ContentIn | None = None
    change_batches: list[BatchChange] = Field([], max_length=MAX_BATCHES)
    remove_batches: list[Annotated[str, Field(pattern=r"^[0-9a-f-]{36}$")]] = Field(
        [], max_length=MAX_BATCHES
    )
    add_batches: list[BatchIn] = Field([], max_length=MAX_BATCHES)
    add_participants: list[Code] = Field([], max_length=MAX_PARTICIPANTS)
    add_item_codes: list[Code] = Field([], max_length=MAX_PLAN_ITEMS)
    floor_overrides: list[FloorOverride] = Field([], max_length=MAX_PLAN_ITEMS)


class ProposalIn(Command):
    """部门拟发起的年度联合抽查计划 — what a department proposes for a year."""

    year: int = Field(ge=2000, le=2100)
    department: Code
    title: Name
    item_codes: list[Code] = Field(
        min_length=1, max_length=MAX_PLAN_ITEMS, description="the department's published items"
    )
    pool: PoolFilter = Field(default_factory=PoolFilter, description="检查对象范围")
    methods: list[Method] = Field(
        min_length=1, max_length=6, description="检查方式, among its items' methods"
    )
    starts_on: date = Field(description="proposed timing: from")
    ends_on: date = Field(description="proposed timing: to")
    ratios: dict[RiskClass, Share] = Field(default_factory=dict, description="proposed ratios")
    counts: dict[RiskClass, Annotated[int, Field(ge=0, le=MAX_COUNT)]] = Field(default_factory=dict)
    partners: list[Code] = Field(
        [], max_length=MAX_PARTICIPANTS, description="departments it would like with it"
    )
    note: Text = ""
    late_reason: Annotated[str, line(500)] = Field(
        "", description="required after the office's deadline: why the proposal is late"
    )


class ProposalChanges(Command):
    """修改 — the fields to change; the rest stay."""

    title: Name | None = None
    item_codes: list[Code] | None = Field(None, min_length=1, max_length=MAX_PLAN_ITEMS)
    pool: PoolFilter | None = None
    methods: list[Method] | None = Field(None, min_length=1, max_length=6)
    starts_on: date | None = None
    ends_on: date | None = None
    ratios: dict[RiskClass, Share] | None = None
    counts: dict[RiskClass, Annotated[int, Field(ge=0, le=MAX_COUNT)]] | None = None
    partners: list[Code] | None = Field(None, max_length=MAX_PARTICIPANTS)
    note: Text | None = None
    late_reason: Annotated[str, line(500)] = ""


class WithdrawalIn(Command):
    """撤回, with the reason."""

    reason: Annotated[str, line(500, min_length=2)]
    late_reason: Annotated[str, line(500)] = ""


class DeadlineIn(Command):
    """报送截止日期 of a region's proposals for a year."""

    deadline: date
    reason: Annotated[str, line(500)] = ""


class CompileIn(Command):
    """合并安排 — one plan compiled from proposals (one proposal: a department plan)."""

    max_bytes = 512 * 1024

    proposal_ids: list[UUID] = Field(min_length=1, max_length=MAX_MERGED)
    initiating_department: Code = Field(description="发起部门, one of the proposing departments")
    title: Name
    mode: ModeCode
    programme: Line = ""
    content: ContentIn = Field(default_factory=ContentIn)
    batches: list[BatchIn] = Field(
        [],
        max_length=MAX_BATCHES,
        description="the plan's batches; none: one batch from the proposals (their overlap)",
    )


class AnnualPublishIn(Command):
    """汇总公示: overrides per plan, if some need them."""

    floor_overrides: dict[
        Annotated[str, Field(pattern=r"^[0-9a-f-]{36}$")], list[FloorOverride]
    ] = Field(default_factory=dict, max_length=MAX_MERGED)
