"""Column headers operators use, in Chinese or English, mapped to field names."""

from __future__ import annotations

SUBJECT_COLUMNS: dict[str, tuple[str, ...]] = {
    "identifier": ("identifier", "uscc", "统一社会信用代码", "标识码", "对象标识"),
    "kind": ("kind", "主体类型", "对象类型"),
    "name": ("name", "名称", "主体名称", "企业名称"),
    "legal_form": ("legal_form", "组织形式", "企业类型"),
    "region_code": ("region_code", "行政区划代码", "区划代码"),
    "industry": ("industry", "行业", "行业代码", "国民经济行业"),
    "address": ("address", "住所", "地址", "经营场所"),
    "legal_representative": ("legal_representative", "法定代表人", "负责人"),
    "status": ("status", "登记状态", "状态"),
    "departments": ("departments", "监管部门"),
    "tags": ("tags", "标签"),
    "risk_class": ("risk_class", "信用风险分类", "风险等级"),
    "abnormal_operation": ("abnormal_operation", "经营异常名录"),
    "serious_violation": ("serious_violation", "严重违法失信名单"),
    # 所所交叉. Optional, and newer than the first templates: a file without the column
    # leaves the unit of existing records as it is; an empty cell clears it.
    "supervising_unit": ("supervising_unit", "日常监管单位", "监管所", "日常监管所", "属地监管所"),
}
SUBJECT_REQUIRED = ("identifier", "kind", "name", "region_code", "industry", "risk_class")

INSPECTOR_COLUMNS: dict[str, tuple[str, ...]] = {
    "department": ("department", "部门", "所属部门"),
    "certificate_no": ("certificate_no", "执法证号", "执法证件号"),
    "name": ("name", "姓名"),
    "level": ("level", "执法层级", "层级"),
    "region_code": ("region_code", "管辖区划", "行政区划代码"),
    "specialties": ("specialties", "专业特长", "专长"),
    "categories": ("categories", "可检查事项类别", "事项类别"),
    "status": ("status", "状态", "在岗状态"),
    "contact": ("contact", "联系方式", "电话"),
    "unit": ("unit", "所属单位", "执法机构", "所属执法机构"),  # optional, like supervising_unit
}
INSPECTOR_REQUIRED = ("department", "certificate_no", "name", "level", "region_code", "categories")

# Values operators type in Chinese, mapped to the codes the domain uses.
VALUE_ALIASES: dict[str, dict[str, str]] = {
    "kind": {"营利性": "for_profit", "非营利性": "non_profit", "非市场主体": "non_market"},
    "status": {
        "存续": "operating",
        "在业": "operating",
        "注销": "deregistered",
        "吊销": "revoked",
        "迁出": "moved_out",
        "撤销": "cancelled",
        "在岗": "active",
        "暂停": "suspended",
        "调离": "transferred",
    },
    "level": {
        "省": "province",
        "省级": "province",
        "市": "city",
        "市级": "city",
        "县": "county",
        "县级": "county",
    },
    "categories": {"一般": "general", "重点": "key"},
}


def header_map(headers: list[str], columns: dict[str, tuple[str, ...]]) -> dict[int, str]:
    """Position → field for every recognised header (case and spaces ignored)."""
    lookup = {
        alias.strip().lower(): field for field, aliases in columns.items() for alias in aliases
    }
    return {
        i: lookup[h.strip().lower()] for i, h in enumerate(headers) if h.strip().lower() in lookup
    }
