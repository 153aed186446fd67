"""MessageBird's credential check (`bridge doctor`): the Balance API with the access key, what it
reports, refusals, and the stand-in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bridge.core.errors import ConfigurationError, ProviderRejected
from bridge.core.settings import Settings, get_settings
from bridge.providers.messagebird import MessageBirdAdapter
from tests.providers.support import FakeApi, answer

ADAPTER = MessageBirdAdapter()
KEY = "test-messagebird-access-key"
# developers.messagebird.com/api/balance: the balance object.
BALANCE = {"payment": "prepaid", "type": "credits", "amount": 9.2}
WRONG_KEY = {
    "errors": [
        {"code": 2, "description": "Request not allowed (incorrect access_key)", "parameter": "access_key"}
    ]
}


def settings(**fields: Any) -> Settings:
    values: dict[str, Any] = {"messagebird_signing_key": "s", "messagebird_access_key": KEY} | fields
    return Settings(_env_file=None, **values)


def check(api: FakeApi, **fields: Any) -> str:
    with httpx.Client(transport=httpx.MockTransport(api)) as http:
        return ADAPTER.check_credentials(settings(**fields), http)


def test_the_balance_is_read_with_the_access_key() -> None:
    api = FakeApi(answer(200, BALANCE))
    check(api)
    [request] = api.requests
    assert (request.method, str(request.url)) == ("GET", "https://rest.messagebird.com/balance")
    assert request.headers["authorization"] == f"AccessKey {KEY}"


def test_the_report_gives_the_balance() -> None:
    assert check(FakeApi(answer(200, BALANCE))) == "balance 9.2 credits (prepaid)"


def test_the_configured_api_url_is_used() -> None:
    api = FakeApi(answer(200, BALANCE))
    check(api, messagebird_api_url="http://127.0.0.1:9/")
    assert str(api.requests[0].url) == "http://127.0.0.1:9/balance"


def test_a_wrong_key_is_refused_with_messagebirds_code() -> None:
    with pytest.raises(ProviderRejected) as refused:
        check(FakeApi(answer(401, WRONG_KEY)))
    assert (refused.value.code, refused.value.status) == ("2", 401)
    assert refused.value.message.startswith("Request not allowed (incorrect access_key)")


def test_a_missing_key_names_the_variable() -> None:
    api = FakeApi(answer(200, BALANCE))
    with pytest.raises(ConfigurationError, match="MESSAGEBIRD_ACCESS_KEY"):
        check(api, messagebird_access_key=None)
    assert api.requests == []


# --- against the stand-in ---


def test_the_standin_answers_the_balance(providers_at_standin: Any) -> None:
    with httpx.Client(timeout=10.0) as http:
        assert ADAPTER.check_credentials(get_settings(), http) == "balance 9.2 credits (prepaid)"


def test_the_standin_refuses_a_wrong_key(providers_at_standin: Any) -> None:
    wrong = get_settings().model_copy(update={"messagebird_access_key": "wrong"})
    with httpx.Client(timeout=10.0) as http, pytest.raises(ProviderRejected) as refused:
        ADAPTER.check_credentials(wrong, http)
    assert (refused.value.code, refused.value.status) == ("2", 401)
