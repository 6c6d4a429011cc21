"""docs/api.md's access matrix is the one the access tests check."""

from __future__ import annotations

from tests.access.matrix import CALLERS, RULES
from tests.access.matrix_docs import DOC_BEGIN, DOC_END, DOCS, markdown


def test_docs_api_md_access_matrix_is_up_to_date() -> None:
    text = DOCS.read_text(encoding="utf-8")
    generated = text[text.index(DOC_BEGIN) : text.index(DOC_END) + len(DOC_END)]
    assert generated == markdown(), "run: python -m tests.access.matrix docs"


def test_every_row_names_known_callers_once() -> None:
    keys = [rule.key for rule in RULES]
    assert len(keys) == len(set(keys))
    assert all(rule.allowed <= set(CALLERS) and rule.allowed for rule in RULES)
    assert all(rule.refused in (403, 404, 422) for rule in RULES)
