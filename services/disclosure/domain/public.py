"""Public wording and field rules (公示字段) — pure functions, no I/O."""

from __future__ import annotations

# 检查结果 as the national enterprise credit disclosure system words them.
OUTCOME_TEXT: dict[str, str] = {
    "no_problem": "未发现问题",
    "problem_corrected": "发现问题已责令改正",
    "problem_pending": "发现问题待后续处理",
    "unreachable": "通过登记的住所（经营场所）无法联系",
    "refused": "不配合检查情节严重",
    "no_activity": "未发现开展本次抽查涉及的经营活动",
    "closed": "已关闭停业或正在组织清算",
}

MODE_TEXT: dict[str, str] = {
    "comprehensive": "综合大联查",
    "risk_based": "风险分类联查",
    "special": "专项整治联查",
}


def outcome_text(code: str) -> str:
    """Chinese wording of a result code; unknown codes are shown as they are."""
    return OUTCOME_TEXT.get(code, code)


def inspection_type(directed: bool) -> str:
    """抽查类型: 定向 (directed) or 不定向 (undirected)."""
    return "定向抽查" if directed else "不定向抽查"
