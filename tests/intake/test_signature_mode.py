"""BRIDGE_SIGNATURE_MODE: enforce refuses a failed signature with 403; log-only logs it, counts
it and processes the message; per provider, only the providers named."""

from __future__ import annotations

import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from bridge.app import create_app
from bridge.core.settings import Settings, describe_invalid, get_settings, reset_settings_cache
from bridge.core.signature_modes import PROVIDERS, SignatureMode, parse_signature_modes
from bridge.ops.doctor import Status, check_settings
from bridge.providers.registry import ADAPTERS
from bridge.runtime.serving import BackgroundServer
from tests.conftest import TEST_TWILIO_TOKEN
from tests.helpers import conversation_bodies, signed_twilio

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"
ENFORCE, LOG_ONLY = SignatureMode.ENFORCE, SignatureMode.LOG_ONLY


@pytest.mark.parametrize(
    ("value", "log_only"),
    [
        ("", set()),
        ("enforce", set()),
        ("log-only", set(PROVIDERS)),
        ("LOG_ONLY", set(PROVIDERS)),
        ("twilio=log-only", {"twilio"}),
        ("twilio=log-only, vonage = log-only", {"twilio", "vonage"}),
        ("log-only,whatsapp=enforce", set(PROVIDERS) - {"whatsapp"}),
        ("whatsapp=enforce,log-only", set(PROVIDERS) - {"whatsapp"}),
    ],
)
def test_the_value_reads_as_a_default_and_per_provider_modes(value, log_only):
    modes = parse_signature_modes(value)
    assert set(modes) == set(PROVIDERS)
    assert {name for name, mode in modes.items() if mode is LOG_ONLY} == log_only


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("twillio=log-only", "unknown provider 'twillio'"),
        ("loggy", "unknown mode 'loggy'"),
        ("twilio=off", "unknown mode 'off'"),
        ("log-only,enforce", "two modes for every provider"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_variable(value, reason, monkeypatch):
    monkeypatch.setenv("BRIDGE_SIGNATURE_MODE", value)
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)
    [line] = describe_invalid(refused.value)
    assert line.startswith("BRIDGE_SIGNATURE_MODE: ")
    assert reason in line


def test_every_provider_with_webhooks_has_a_mode():
    assert set(PROVIDERS) == set(ADAPTERS)


def test_settings_copied_keep_their_modes(monkeypatch):
    monkeypatch.setenv("BRIDGE_SIGNATURE_MODE", "twilio=log-only")
    settings = Settings(_env_file=None).filled_from({"TWILIO_AUTH_TOKEN": "x" * 16})
    assert settings.signature_modes["twilio"] is LOG_ONLY
    assert settings.signature_modes["whatsapp"] is ENFORCE


# --- over HTTP ---


@pytest.fixture
def serve(bridge_env, monkeypatch):
    """The bridge with BRIDGE_SIGNATURE_MODE set to the value given."""

    def _serve(mode: str) -> BackgroundServer:
        monkeypatch.setenv("BRIDGE_SIGNATURE_MODE", mode)
        reset_settings_cache()
        return BackgroundServer(create_app(get_settings()))

    return _serve


def forged_twilio(url: str, text: str = "Hello anyway"):
    request = signed_twilio(url, get_settings(), sender=CUSTOMER, recipient=BUSINESS, text=text)
    return request.__class__(request.url, request.body, {**request.headers, "X-Twilio-Signature": "AAAA"})


def webhooks_counted(http, server, outcome: str) -> float:
    text = http.get(f"{server.url}/metrics").text
    wanted = {"provider": "twilio", "kind": "inbound", "outcome": outcome}
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "bridge_webhooks_total" and sample.labels == wanted
    )


def test_log_only_processes_a_forged_message_logs_and_counts_it(serve, sandbox, drain, http, caplog):
    with serve("log-only") as server, caplog.at_level(logging.WARNING, logger="bridge.intake.signatures"):
        assert forged_twilio(server.url).send(http).status_code == 200
        drain()
        assert webhooks_counted(http, server, "would_be_forged") == 1
        assert webhooks_counted(http, server, "accepted") == 0

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["Hello anyway"]
    [warning] = [r for r in caplog.records if r.name == "bridge.intake.signatures"]
    text = warning.getMessage()
    assert "twilio" in text and "X-Twilio-Signature does not match" in text and "log-only" in text
    assert CUSTOMER.lstrip("+")[-7:] not in text and TEST_TWILIO_TOKEN not in text


def test_log_only_still_refuses_a_malformed_body(serve, http, redis_client):
    with serve("log-only") as server:
        response = http.post(
            f"{server.url}/webhooks/twilio",
            data={"From": CUSTOMER, "To": BUSINESS, "Body": "no MessageSid"},
            headers={"X-Twilio-Signature": "AAAA"},
        )
        assert response.status_code == 400
        assert webhooks_counted(http, server, "malformed") == 1


def test_enforce_refuses_a_forged_message_with_403_and_counts_it(serve, sandbox, drain, http):
    with serve("enforce") as server:
        assert forged_twilio(server.url).send(http).status_code == 403
        drain()
        assert webhooks_counted(http, server, "forged") == 1
    assert sandbox.conversations() == []


def test_a_per_provider_mode_leaves_the_other_providers_enforcing(serve, sandbox, drain, http):
    with serve("whatsapp=log-only") as server:
        assert forged_twilio(server.url).send(http).status_code == 403
        drain()
    assert sandbox.conversations() == []


def test_log_only_for_the_provider_named(serve, sandbox, drain, http):
    with serve("log-only,whatsapp=enforce") as server:
        assert forged_twilio(server.url).send(http).status_code == 200
        drain()
    assert len(sandbox.conversations()) == 1


# --- bridge doctor ---


def test_doctor_warns_while_a_provider_is_log_only(monkeypatch):
    monkeypatch.setenv("BRIDGE_SIGNATURE_MODE", "twilio=log-only,vonage=log-only")
    settings = Settings(_env_file=None, twilio_auth_token="x" * 16)
    [line] = [r for r in check_settings(settings, ADAPTERS.values()) if r.name == "BRIDGE_SIGNATURE_MODE"]
    assert line.status is Status.WARN
    assert "log-only for twilio, vonage" in line.detail
    assert "enforce" in (line.hint or "")


def test_doctor_says_nothing_of_it_while_every_provider_enforces(monkeypatch):
    monkeypatch.delenv("BRIDGE_SIGNATURE_MODE", raising=False)
    settings = Settings(_env_file=None, twilio_auth_token="x" * 16)
    assert all(r.name != "BRIDGE_SIGNATURE_MODE" for r in check_settings(settings, ADAPTERS.values()))
