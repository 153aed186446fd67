"""The customer's own time on their message in Intercom, and the line a late message carries."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.conversations.customer_time import LATE_AFTER_SECONDS, customer_time
from tests.helpers import inbound_sms

SENT = datetime(2026, 11, 23, 14, 2, tzinfo=UTC)


def at(hour: int, minute: int, *, day: int = 23) -> float:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC).timestamp()


def test_a_message_on_time_carries_its_time_and_no_line():
    time = customer_time(inbound_sms(received_at=SENT), now=SENT.timestamp() + LATE_AFTER_SECONDS, oldest=0)
    assert time.created_at == int(SENT.timestamp())
    assert time.late_line is None


def test_a_late_message_says_when_it_was_sent_and_received():
    time = customer_time(inbound_sms(received_at=SENT), now=at(16, 10), oldest=0)
    assert time.created_at == int(SENT.timestamp())
    assert time.late_line == "(sent 14:02, received 16:10 UTC)"


def test_a_message_received_another_day_says_the_dates():
    time = customer_time(inbound_sms(received_at=SENT), now=at(9, 30, day=24), oldest=0)
    assert time.late_line == "(sent 2026-11-23 14:02, received 2026-11-24 09:30 UTC)"


def test_a_time_ahead_of_the_clock_is_now_and_one_older_than_believable_is_not_used():
    ahead = customer_time(inbound_sms(received_at=SENT), now=at(13, 0), oldest=0)
    assert ahead.created_at == int(at(13, 0)) and ahead.late_line is None
    wrong = customer_time(inbound_sms(received_at=SENT), now=at(16, 10), oldest=at(15, 0))
    assert (wrong.created_at, wrong.late_line) == (None, None)
