"""Settings come from the contract's variable names, typed, with secrets hidden."""

from __future__ import annotations

import pytest

from bridge.core.errors import ConfigurationError
from bridge.core.settings import Settings, env_name, parse_delays, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("30m", 1800),
        ("1h", 3600),
        ("24h", 86400),
        ("14d", 14 * 86400),
        ("2w", 1209600),
    ],
)
def test_durations_read_as_octopods_buffers_are_written(text, seconds):
    assert parse_duration(text) == seconds


def test_a_duration_that_means_nothing_is_refused():
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_retry_delays_are_a_comma_separated_list():
    assert parse_delays("5,30,120,600") == (5, 30, 120, 600)
    assert parse_delays("0,0") == (0, 0)
    assert parse_delays("") == ()


def test_settings_are_read_from_the_contract_names(monkeypatch):
    monkeypatch.setenv("BRIDGE_RETRY_DELAYS", "1,2,3")
    monkeypatch.setenv("BRIDGE_NEW_CONVERSATION_AFTER", "1h")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "s3cret-value")
    monkeypatch.setenv("BRIDGE_DEFAULT_REGION", "IE")
    settings = Settings(_env_file=None)
    assert settings.retry_delays == (1, 2, 3)
    assert settings.new_conversation_after == 3600
    assert settings.default_region == "IE"
    assert settings.secret("twilio_auth_token") == "s3cret-value"


def test_secrets_never_show_in_repr(monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "s3cret-value")
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "another-secret")
    text = repr(Settings(_env_file=None))
    assert "s3cret-value" not in text and "another-secret" not in text


def test_a_missing_setting_is_named_by_its_variable(monkeypatch):
    monkeypatch.delenv("INTERCOM_ACCESS_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="INTERCOM_ACCESS_TOKEN is not set"):
        Settings(_env_file=None).require("intercom_access_token")


def test_every_field_maps_to_its_contract_variable():
    assert env_name("public_url") == "BRIDGE_PUBLIC_URL"
    assert env_name("redis_url") == "REDIS_URL"
    assert env_name("intercom_client_secret") == "INTERCOM_CLIENT_SECRET"


def test_filled_from_only_fills_what_is_unset(monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "from-env")
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    settings = Settings(_env_file=None).filled_from(
        {"TWILIO_AUTH_TOKEN": "stored", "TWILIO_ACCOUNT_SID": "AC1"}
    )
    assert settings.secret("twilio_auth_token") == "from-env"
    assert settings.twilio_account_sid == "AC1"
