"""Public wording of the national disclosure system."""

from __future__ import annotations

from services.disclosure.domain.public import OUTCOME_TEXT, inspection_type, outcome_text
from services.results.domain.record import OUTCOMES


def test_every_result_code_has_its_public_wording() -> None:
    assert set(OUTCOME_TEXT) == set(OUTCOMES)
    assert outcome_text("refused") == "不配合检查情节严重"


def test_unknown_code_is_shown_as_it_is_rather_than_hidden() -> None:
    assert outcome_text("new_code") == "new_code"


def test_inspection_type_names_directed_and_undirected_draws() -> None:
    assert inspection_type(True) == "定向抽查"
    assert inspection_type(False) == "不定向抽查"
