"""How the relay reads JetStream's answers to a batch: what counts as stored."""

from __future__ import annotations

from libs.common.relay_batch import WRONG_LAST_SEQUENCE, Ack, BatchOutcome


def test_the_stored_prefix_ends_at_the_first_refusal() -> None:
    refused = Ack.parse(b'{"error": {"code": 400, "err_code": 10054, "description": "too big"}}')
    outcome = BatchOutcome([11, 12, refused, None], sent=4, failure="not sent", base=10)
    assert outcome.stored == 2
    assert outcome.failure == refused
    assert refused.answered and refused.err_code == 10054


def test_a_duplicate_of_a_message_after_the_stream_head_counts_as_stored() -> None:
    # Another relay stored it after this one read the head (sequence 10).
    duplicate = Ack.parse(b'{"stream": "S", "seq": 11, "duplicate": true}')
    outcome = BatchOutcome([duplicate, 12], sent=2, failure="not sent", base=10)
    assert (outcome.stored, outcome.failure, outcome.forgotten) == (2, None, None)


def test_a_duplicate_of_a_message_the_stream_no_longer_holds_is_not_stored() -> None:
    # The duplicate window remembers the id at sequence 3; the stream was purged after 10.
    duplicate = Ack.parse(b'{"stream": "S", "seq": 3, "duplicate": true}')
    outcome = BatchOutcome([duplicate, 12], sent=2, failure="not sent", base=10)
    assert outcome.stored == 0
    assert outcome.forgotten == duplicate
    failure = outcome.failure
    assert failure is not None and "no longer holds" in (failure.error or "")


def test_unanswered_and_unsent_messages_are_not_the_servers_refusals() -> None:
    outcome = BatchOutcome([5, None, None], sent=2, failure="not sent", base=4, too_large=0)
    assert outcome.stored == 1
    assert outcome.ack(1) == Ack(error="no acknowledgement")
    assert outcome.ack(2) == Ack(error="not sent")
    assert not outcome.ack(1).answered
    wrong = Ack.parse(b'{"error": {"code": 400, "err_code": 10071, "description": "wrong"}}')
    assert wrong.err_code == WRONG_LAST_SEQUENCE
