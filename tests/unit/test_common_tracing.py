"""The statements' spans outside requests (libs/common/tracing.py), and the switch back."""

from __future__ import annotations

import pytest
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from libs.common.tracing import quiet_statements


def test_statement_spans_are_left_out_inside_and_back_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSJ_TRACE_STATEMENTS", raising=False)
    with quiet_statements():
        assert not is_instrumentation_enabled()
    assert is_instrumentation_enabled()


@pytest.mark.parametrize("value", ["all", " ALL "])
def test_an_operator_can_trace_every_statement(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SSJ_TRACE_STATEMENTS", value)
    with quiet_statements():
        assert is_instrumentation_enabled()
