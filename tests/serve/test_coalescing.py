"""The streamed reply's hand-over to the event loop: batched by time, never held at the ends."""

from __future__ import annotations

import pytest

from roleplay.serve.coalescing import CoalescingSink, joined_texts
from roleplay.serve.errors import ApiError
from roleplay.serve.turns import Failed, Finished, GenerationEnded, Started, TurnEvent


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _sink(interval_s: float) -> tuple[CoalescingSink, list[list[TurnEvent]], Clock]:
    batches: list[list[TurnEvent]] = []
    clock = Clock()
    return CoalescingSink(batches.append, interval_s, clock), batches, clock


def _finished() -> Finished:
    return Finished("s", 1, "a b c", 10, 3, "stop")


def test_first_piece_goes_at_once_and_later_ones_wait_for_the_interval() -> None:
    sink, batches, clock = _sink(0.05)
    sink(Started("s", 10))
    sink("Hello")
    assert batches == [[Started("s", 10)], ["Hello"]]  # time to first token is not delayed
    clock.now += 0.01
    sink(",")
    clock.now += 0.01
    sink(" there")
    assert len(batches) == 2  # held: the interval has not passed
    clock.now += 0.04
    sink(" friend")
    assert batches[2] == [", there friend"]  # together, in order, as one chunk's text


def test_the_end_of_generation_sends_what_waits_before_the_reply_is_stored() -> None:
    sink, batches, clock = _sink(0.05)
    sink("One")
    clock.now += 0.01
    sink(" two")
    sink(GenerationEnded())
    assert batches == [["One"], [" two"]]
    sink(GenerationEnded())  # nothing waits: nothing is sent, the marker never is
    assert batches == [["One"], [" two"]]


@pytest.mark.parametrize(
    "final", [_finished(), Failed(ApiError(500, "boom"))], ids=["finished", "failed"]
)
def test_a_final_event_flushes_the_pieces_before_it(final: TurnEvent) -> None:
    sink, batches, clock = _sink(0.05)
    sink("One")
    clock.now += 0.01
    sink(" two")
    sink(final)
    assert batches == [["One"], [" two", final]]


def test_pieces_are_joined_only_where_adjacent() -> None:
    final = _finished()
    assert joined_texts(["a", "b", final, "c"]) == ["ab", final, "c"]
    assert joined_texts([Started("s", 1), "x", "y"]) == [Started("s", 1), "xy"]
    assert joined_texts([]) == []


def test_a_slow_model_streams_every_token_as_it_comes() -> None:
    sink, batches, clock = _sink(0.05)
    for piece in ["a", "b", "c"]:
        sink(piece)
        clock.now += 0.3  # slower than the interval: nothing is ever held
    assert batches == [["a"], ["b"], ["c"]]


def test_interval_zero_hands_over_every_piece() -> None:
    sink, batches, _ = _sink(0.0)
    for piece in ["a", "b", "c"]:
        sink(piece)
    assert batches == [["a"], ["b"], ["c"]]


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CoalescingSink(lambda batch: None, -0.1)
