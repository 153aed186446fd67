"""Twilio's credential check (`bridge doctor`): the Account fetch as Twilio documents it, what it
reports, refusals, and the stand-in."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from bridge.core.errors import ConfigurationError, ProviderRejected, ProviderUnavailable
from bridge.core.settings import Settings, get_settings
from bridge.providers.twilio.adapter import TwilioAdapter
from tests.providers.support import FakeApi, answer

ADAPTER = TwilioAdapter()
SID, TOKEN = "AC" + "a1" * 16, "test-twilio-auth-token"
URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}.json"

# The Account resource's properties (twilio.com/docs/iam/api/account), auth token included.
ACCOUNT = {
    "auth_token": TOKEN,
    "date_created": "Thu, 30 Jul 2015 20:00:00 +0000",
    "date_updated": "Thu, 30 Jul 2015 20:00:00 +0000",
    "friendly_name": "Acme Support",
    "owner_account_sid": SID,
    "sid": SID,
    "status": "active",
    "subresource_uris": {},
    "type": "Full",
    "uri": f"/2010-04-01/Accounts/{SID}.json",
}


def settings(**fields: Any) -> Settings:
    values: dict[str, Any] = {"twilio_account_sid": SID, "twilio_auth_token": TOKEN} | fields
    return Settings(_env_file=None, **values)


def check(api: FakeApi, **fields: Any) -> str:
    with httpx.Client(transport=httpx.MockTransport(api)) as http:
        return ADAPTER.check_credentials(settings(**fields), http)


def test_the_account_is_fetched_with_basic_auth() -> None:
    api = FakeApi(answer(200, ACCOUNT))
    check(api)
    [request] = api.requests
    assert (request.method, str(request.url)) == ("GET", URL)
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()


def test_the_report_names_the_account_without_its_token_or_full_sid() -> None:
    described = check(FakeApi(answer(200, ACCOUNT)))
    assert described == "account Acme Support (ACa1a1…), Full, active"
    assert TOKEN not in described and SID not in described


def test_the_configured_api_url_is_used() -> None:
    api = FakeApi(answer(200, ACCOUNT))
    check(api, twilio_api_url="http://127.0.0.1:9/")
    assert str(api.requests[0].url) == f"http://127.0.0.1:9/2010-04-01/Accounts/{SID}.json"


def test_a_wrong_token_is_refused_with_twilios_code() -> None:
    api = FakeApi(answer(401, {"code": 20003, "message": "Authenticate", "status": 401}))
    with pytest.raises(ProviderRejected) as refused:
        check(api)
    assert (refused.value.code, refused.value.status, refused.value.message) == ("20003", 401, "Authenticate")


@pytest.mark.parametrize("status", ["suspended", "closed"])
def test_an_account_that_cannot_send_is_refused(status: str) -> None:
    with pytest.raises(ProviderRejected, match=f"is {status}"):
        check(FakeApi(answer(200, ACCOUNT | {"status": status})))


@pytest.mark.parametrize(
    ("missing", "variable"),
    [("twilio_account_sid", "TWILIO_ACCOUNT_SID"), ("twilio_auth_token", "TWILIO_AUTH_TOKEN")],
)
def test_a_missing_credential_names_the_variable(missing: str, variable: str) -> None:
    api = FakeApi(answer(200, ACCOUNT))
    with pytest.raises(ConfigurationError, match=variable):
        check(api, **{missing: None})
    assert api.requests == []


def test_an_api_that_keeps_failing_is_unavailable_after_one_retry() -> None:
    api = FakeApi(answer(503, {"code": 20503, "message": "Service Unavailable"}))
    with pytest.raises(ProviderUnavailable):
        check(api)
    assert len(api.requests) == 2


def test_an_answer_that_is_not_json_is_refused() -> None:
    with pytest.raises(ProviderRejected, match="not a JSON object"):
        check(FakeApi(httpx.Response(200, text="<html>captive portal</html>")))


# --- against the stand-in ---


def test_the_standin_answers_the_account(providers_at_standin: Any) -> None:
    with httpx.Client(timeout=10.0) as http:
        described = ADAPTER.check_credentials(get_settings(), http)
    assert described.startswith("account Stand-in account (AC1111…)")


def test_the_standin_refuses_a_wrong_token(providers_at_standin: Any) -> None:
    wrong = get_settings().model_copy(update={"twilio_auth_token": "wrong"})
    with httpx.Client(timeout=10.0) as http, pytest.raises(ProviderRejected) as refused:
        ADAPTER.check_credentials(wrong, http)
    assert (refused.value.code, refused.value.status) == ("20003", 401)
