"""Signed times: accepted within the window, refused outside it, and never past what ledgers keep."""

from __future__ import annotations

import pytest

from bridge.core import freshness
from bridge.core.errors import SignatureInvalid, SignatureOutOfWindow
from bridge.core.settings import Settings

NOW = 1_800_000_000.0
DAY = 86400.0


def settings(retention_days: int = 14) -> Settings:
    return Settings(_env_file=None, retention_days=retention_days)


@pytest.mark.parametrize(
    ("signed_in", "accepted"),
    [
        (0, True),
        (freshness.CLOCK_SKEW_SECONDS, True),  # our clock a little behind the provider's
        (freshness.CLOCK_SKEW_SECONDS + 1, False),
        (-13 * DAY, True),  # a provider's retries, a late webhook
        (-14 * DAY + freshness.LEDGER_GRACE_SECONDS, True),
        (-14 * DAY + freshness.LEDGER_GRACE_SECONDS - 1, False),
        (-15 * DAY, False),
        (float("nan"), False),
    ],
)
def test_a_signed_time_is_accepted_only_within_the_window(signed_in: float, accepted: bool) -> None:
    problem = freshness.out_of_window(
        NOW + signed_in, now=NOW, window=freshness.acceptance_window(settings())
    )
    assert (problem is None) is accepted


@pytest.mark.parametrize("retention_days", [1, 14, 365])
def test_a_ledger_entry_outlives_every_copy_accepted_after_it(retention_days: int) -> None:
    # The first copy may arrive CLOCK_SKEW_SECONDS before its signed time, and its entry lives the
    # retention from then; the last copy accepted arrives the window after the signed time.
    config = settings(retention_days)
    earliest_entry_end = -freshness.CLOCK_SKEW_SECONDS + freshness.retention_seconds(config)
    assert freshness.acceptance_window(config) < earliest_entry_end


def test_a_time_outside_the_window_is_refused_like_a_bad_signature() -> None:
    with pytest.raises(SignatureOutOfWindow, match="iat is 15.0 days old") as refused:
        freshness.check_signed_time(NOW - 15 * DAY, now=NOW, settings=settings(), what="iat")
    assert isinstance(refused.value, SignatureInvalid) and refused.value.status == 403


@pytest.mark.parametrize("value", ["yesterday", "", None, True, "inf", [1]])
def test_a_signed_time_that_is_not_unix_seconds_is_refused(value: object) -> None:
    with pytest.raises(SignatureInvalid, match="not a unix time"):
        freshness.signed_time(value, what="timestamp")


@pytest.mark.parametrize(("value", "seconds"), [("1719823259", 1719823259.0), (1719823259, 1719823259.0)])
def test_a_signed_time_is_read_from_its_text_or_number(value: object, seconds: float) -> None:
    assert freshness.signed_time(value, what="timestamp") == seconds
