"""检查结果 categories of the national disclosure system (国家企业信用信息公示系统), and the
other closed lists a result is recorded in: methods, advance notice, non-cooperation,
check-point states. Codes are English; the Chinese wording is the one the public reads.
"""

from __future__ import annotations

# 检查结果, all of them: the results of an inspection, and the registration outcomes found
# when the subject no longer exists as registered.
CATEGORIES: dict[str, str] = {
    "no_problem": "未发现问题",
    "problem_corrected": "发现问题已责令改正",
    "problem_pending": "发现问题待后续处理",
    "no_activity": "未发现开展本次抽查涉及的经营活动",
    "unreachable": "通过登记的住所（经营场所）无法联系",
    "closed": "已关闭停业或正在组织清算",
    "refused": "不配合检查情节严重",
    "deregistered": "已注销",
    "licence_revoked": "已被吊销营业执照",
    "moved_out": "已迁出",
    "registration_cancelled": "已撤销登记",
}
# Categories saying problems were found: they open a follow-up (后续处置), and are
# disclosed within 20 working days of the handling decision, not of the inspection (003).
PROBLEM_CATEGORIES = frozenset({"problem_corrected", "problem_pending"})
# Categories of a subject that was inspected: every check point of every item is recorded.
INSPECTED_CATEGORIES = frozenset({"no_problem", *PROBLEM_CATEGORIES})
# 发现问题待后续处理 — how it is to be handled (002 第十七条).
PENDING_KINDS: dict[str, str] = {
    "correction_ordered": "责令限期改正，待复查",
    "case_filed": "涉嫌违法，立案查处",
    "transferred": "不属本部门管辖，移交有管辖权的部门",
    "referred": "涉嫌犯罪，移送司法机关",
}
# 检查方式 (002 第十六条, 003): the item list's method codes. ``other_department`` reuses a
# conclusion of another department or a professional body, referenced, not retyped.
METHODS: dict[str, str] = {
    "on_site": "实地核查",
    "documentary": "书面检查",
    "online": "网络检查",
    "sampling": "抽样检测",
    "expert": "委托专业机构检查",
    "other_department": "采用其他部门或专业机构的结论",
}
REUSE_METHOD = "other_department"
# 告知 — how the subject was told of the inspection beforehand (002 第十六条（二）).
NOTICE_WAYS: dict[str, str] = {
    "phone": "电话",
    "fax": "传真",
    "email": "邮件",
    "sms": "短信",
    "letter": "书面通知",
    "platform": "协同监管平台",
}
# 不配合检查情节严重 — the five cases of 002 第十八条.
NON_COOPERATION: dict[str, str] = {
    "denied_entry": "拒绝、阻扰、妨碍检查人员或其委托的专业机构进入检查场所",
    "refused_inquiry": "拒绝接受、阻扰、妨碍询问调查",
    "withheld_materials": (
        "拒绝向检查人员或其委托的专业机构提供会计资料、审计报告、行政许可证明、"
        "行政处罚决定书、场所使用证明等相关材料"
    ),
    "false_information": "不如实或不按要求提供情况或相关材料",
    "other_obstruction": "其他阻扰、妨碍检查工作情节严重",
}
# The state of one check point (检查要点).
POINT_STATES: dict[str, str] = {
    "conforming": "符合",
    "not_conforming": "不符合",
    "not_applicable": "不适用",
}
# Severity a credit platform reads (信用记录): none < notice < minor < serious < severe.
SEVERITIES = ("none", "notice", "minor", "serious", "severe")
CATEGORY_SEVERITY: dict[str, str] = {
    "no_problem": "none",
    "no_activity": "none",
    "problem_corrected": "minor",
    "problem_pending": "serious",
    "unreachable": "notice",
    "closed": "notice",
    "refused": "serious",
    "deregistered": "notice",
    "licence_revoked": "notice",
    "moved_out": "notice",
    "registration_cancelled": "notice",
}
# 后续处置 outcomes, with their severity for the credit record.
FOLLOW_UP_OUTCOMES: dict[str, tuple[str, str]] = {
    "corrected": ("复查已改正", "minor"),
    "case_filed": ("逾期未改正或涉嫌违法，立案查处", "serious"),
    "transferred": ("移交有管辖权的部门", "serious"),
    "referred": ("涉嫌犯罪，移送司法机关", "severe"),
}
