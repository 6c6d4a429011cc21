"""GB/T 4754-2017 industry classification (国民经济行业分类): sections and divisions."""

from __future__ import annotations

import re

from services.registry.domain.errors import InvalidRecord

# Section letter → first and last two-digit division it contains.
SECTIONS: dict[str, tuple[int, int]] = {
    "A": (1, 5),  # 农、林、牧、渔业
    "B": (6, 12),  # 采矿业
    "C": (13, 43),  # 制造业
    "D": (44, 46),  # 电力、热力、燃气及水生产和供应业
    "E": (47, 50),  # 建筑业
    "F": (51, 52),  # 批发和零售业
    "G": (53, 60),  # 交通运输、仓储和邮政业
    "H": (61, 62),  # 住宿和餐饮业
    "I": (63, 65),  # 信息传输、软件和信息技术服务业
    "J": (66, 69),  # 金融业
    "K": (70, 70),  # 房地产业
    "L": (71, 72),  # 租赁和商务服务业
    "M": (73, 75),  # 科学研究和技术服务业
    "N": (76, 79),  # 水利、环境和公共设施管理业
    "O": (80, 82),  # 居民服务、修理和其他服务业
    "P": (83, 83),  # 教育
    "Q": (84, 85),  # 卫生和社会工作
    "R": (86, 90),  # 文化、体育和娱乐业
    "S": (91, 97),  # 公共管理、社会保障和社会组织
    "T": (98, 98),  # 国际组织
}
_CODE = re.compile(r"^([A-T])(\d{2})?$")


def require_industry(code: str) -> str:
    """A section letter, or a section letter with one of its divisions (e.g. ``F52``)."""
    match = _CODE.match(code)
    if not match:
        raise InvalidRecord(f"industry {code!r} must be a GB/T 4754 section (A-T) [+ division]")
    section, division = match.group(1), match.group(2)
    if division is not None:
        low, high = SECTIONS[section]
        if not low <= int(division) <= high:
            raise InvalidRecord(
                f"division {division} is not in section {section} ({low:02d}-{high:02d})"
            )
    return code
