"""Every provider's credential check (`bridge doctor`), held to one contract.

`bridge doctor` relies on the same things from each provider's check, whatever its API: the
documented request carrying the credentials, a short report that shows no secret, the configured
API URL honoured, a refusal read in the provider's own code and words and never showing a
credential, a missing credential named by its variable before any call, one retry of an API that
keeps failing, an answer that is not JSON refused, and the stand-in answering and refusing as the
provider does. Each provider contributes only its data (`Check`), taken from its API's
documentation; what only one provider's check does is tested after the contract.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bridge.core.errors import ConfigurationError, ProviderRejected, ProviderUnavailable
from bridge.core.settings import Settings, get_settings
from bridge.providers.africastalking.adapter import AfricasTalkingAdapter
from bridge.providers.base import CredentialCheck, ProviderAdapter
from bridge.providers.messagebird import MessageBirdAdapter
from bridge.providers.registry import ADAPTERS
from bridge.providers.textmagic.adapter import TextMagicAdapter
from bridge.providers.twilio.adapter import TwilioAdapter
from bridge.providers.vonage import VonageAdapter
from bridge.providers.whatsapp import WhatsAppAdapter
from tests.providers.support import FakeApi, answer

#: An answer as a provider sends it: its status and its body (JSON, or text when a string).
Answer = tuple[int, object]


@dataclass(frozen=True)
class Check:
    """One provider's credential check: what its API documents and what the bridge makes of it."""

    adapter: ProviderAdapter
    settings: Mapping[str, str]  # a configured provider: its credentials (and webhook secret)
    credentials: Mapping[str, str]  # the fields the check requires, in order, with their variables
    api: str  # the default API URL
    path: str  # the documented request's path below it
    query: Mapping[str, list[str]]  # the request's query fields, in any order
    headers: Mapping[str, str]  # the request's headers that carry the credentials
    account: object  # the documented answer to good credentials (JSON)
    report: str  # what `bridge doctor` prints for that answer
    hidden: tuple[str, ...]  # never in a report or a refusal: secrets, the owner's number
    refusal: Answer  # the documented answer to wrong credentials
    refused: tuple[str | None, int, str]  # the refusal's code, status and message, as read
    standin_report: str  # what the check reports against the stand-in
    standin_refused: tuple[str | None, int]  # the stand-in's code and status for a wrong credential
    unavailable: Answer = (503, "Service Unavailable")  # an API that is down


# --- Twilio: the Account fetch (twilio.com/docs/iam/api/account) ---

TWILIO_SID, TWILIO_TOKEN = "AC" + "a1" * 16, "test-twilio-auth-token"
# The Account resource's properties, auth token included.
ACCOUNT = {
    "auth_token": TWILIO_TOKEN,
    "date_created": "Thu, 30 Jul 2015 20:00:00 +0000",
    "date_updated": "Thu, 30 Jul 2015 20:00:00 +0000",
    "friendly_name": "Acme Support",
    "owner_account_sid": TWILIO_SID,
    "sid": TWILIO_SID,
    "status": "active",
    "subresource_uris": {},
    "type": "Full",
    "uri": f"/2010-04-01/Accounts/{TWILIO_SID}.json",
}
TWILIO = Check(
    adapter=TwilioAdapter(),
    settings={"twilio_account_sid": TWILIO_SID, "twilio_auth_token": TWILIO_TOKEN},
    credentials={"twilio_account_sid": "TWILIO_ACCOUNT_SID", "twilio_auth_token": "TWILIO_AUTH_TOKEN"},
    api="https://api.twilio.com",
    path=f"/2010-04-01/Accounts/{TWILIO_SID}.json",
    query={},
    headers={"authorization": "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()},
    account=ACCOUNT,
    report="account Acme Support (ACa1a1…), Full, active",
    hidden=(TWILIO_TOKEN, TWILIO_SID),
    refusal=(401, {"code": 20003, "message": "Authenticate", "status": 401}),
    refused=("20003", 401, "Authenticate"),
    standin_report="account Stand-in account (AC1111…), Full, active",
    standin_refused=("20003", 401),
    unavailable=(503, {"code": 20503, "message": "Service Unavailable"}),
)

# --- TextMagic: the current user, with the X-TM headers ---

TEXTMAGIC_USER, TEXTMAGIC_KEY = "test-textmagic-user", "test-textmagic-api-key"
# textmagic-rest-python-v2 docs/User.md (the JSON names are camelCase).
CURRENT_USER = {
    "id": 5,
    "username": TEXTMAGIC_USER,
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@example.com",
    "status": "A",
    "balance": 12.5,
    "phone": "447860021130",
    "company": "Acme",
    "currency": {"id": "GBP", "htmlSymbol": "&pound;"},
    "subaccountType": "P",
}
TEXTMAGIC = Check(
    adapter=TextMagicAdapter(),
    settings={
        "textmagic_webhook_secret": "s",
        "textmagic_username": TEXTMAGIC_USER,
        "textmagic_api_key": TEXTMAGIC_KEY,
    },
    credentials={"textmagic_username": "TEXTMAGIC_USERNAME", "textmagic_api_key": "TEXTMAGIC_API_KEY"},
    api="https://rest.textmagic.com",
    path="/api/v2/user",
    query={},
    headers={"x-tm-username": TEXTMAGIC_USER, "x-tm-key": TEXTMAGIC_KEY},
    account=CURRENT_USER,
    report=f"user {TEXTMAGIC_USER}, balance 12.5 GBP",
    hidden=(TEXTMAGIC_KEY, "447860021130"),
    refusal=(401, {"code": 401, "message": "Unauthorized", "errors": None}),
    refused=("401", 401, "Unauthorized"),
    standin_report="user test-textmagic-user, balance 12.5 GBP",
    standin_refused=("401", 401),
)

# --- Africa's Talking: the app's data, as the SDK's `fetch_application_data` reads it ---

AT_USER, AT_KEY = "acme", "test-at-api-key"
AFRICASTALKING = Check(
    adapter=AfricasTalkingAdapter(),
    settings={
        "africastalking_webhook_secret": "s",
        "africastalking_username": AT_USER,
        "africastalking_api_key": AT_KEY,
    },
    credentials={
        "africastalking_username": "AFRICASTALKING_USERNAME",
        "africastalking_api_key": "AFRICASTALKING_API_KEY",
    },
    api="https://api.africastalking.com",
    path="/version1/user",
    query={"username": [AT_USER]},
    headers={"apikey": AT_KEY, "accept": "application/json"},
    account={"UserData": {"balance": "KES 1785.5000"}},
    report=f"app {AT_USER}, balance KES 1785.5000",
    hidden=(AT_KEY,),
    refusal=(401, "The supplied authentication is invalid"),
    refused=(None, 401, "The supplied authentication is invalid"),
    standin_report="app test-at-user, balance KES 1785.5000",
    standin_refused=(None, 401),
)

# --- MessageBird: the Balance API (developers.messagebird.com/api/balance) ---

MESSAGEBIRD_KEY = "test-messagebird-access-key"
WRONG_ACCESS_KEY = {
    "errors": [
        {"code": 2, "description": "Request not allowed (incorrect access_key)", "parameter": "access_key"}
    ]
}
MESSAGEBIRD = Check(
    adapter=MessageBirdAdapter(),
    settings={"messagebird_signing_key": "s", "messagebird_access_key": MESSAGEBIRD_KEY},
    credentials={"messagebird_access_key": "MESSAGEBIRD_ACCESS_KEY"},
    api="https://rest.messagebird.com",
    path="/balance",
    query={},
    headers={"authorization": f"AccessKey {MESSAGEBIRD_KEY}"},
    account={"payment": "prepaid", "type": "credits", "amount": 9.2},
    report="balance 9.2 credits (prepaid)",
    hidden=(MESSAGEBIRD_KEY,),
    refusal=(401, WRONG_ACCESS_KEY),
    refused=("2", 401, "Request not allowed (incorrect access_key) (parameter access_key)"),
    standin_report="balance 9.2 credits (prepaid)",
    standin_refused=("2", 401),
)

# --- Vonage: the Account API's balance (Nexmo/api-specification definitions/account.yml,
# getAccountBalance's example and its 401) ---

VONAGE_KEY, VONAGE_SECRET = "abcd1234", "test-vonage-api-secret"
VONAGE = Check(
    adapter=VonageAdapter(),
    settings={
        "vonage_signature_secret": "s",
        "vonage_api_key": VONAGE_KEY,
        "vonage_api_secret": VONAGE_SECRET,
    },
    credentials={"vonage_api_key": "VONAGE_API_KEY", "vonage_api_secret": "VONAGE_API_SECRET"},
    api="https://rest.nexmo.com",
    path="/account/get-balance",
    query={"api_key": [VONAGE_KEY], "api_secret": [VONAGE_SECRET]},
    headers={},  # the key and secret travel in the query
    account={"value": 10.171275, "autoReload": False},
    report="balance €10.17, auto-reload off (key abcd…)",
    hidden=(VONAGE_SECRET, VONAGE_KEY),
    refusal=(401, {"error-code": "401", "error-code-label": "authentication failed"}),
    refused=("401", 401, "authentication failed"),
    standin_report="balance €10.17, auto-reload off (key abcd…)",
    standin_refused=("401", 401),
)

# --- WhatsApp (Meta's Graph API): `/me` with the access token ---

WHATSAPP_TOKEN = "EAAG-test-token"
ME = {"name": "Bridge System User", "id": "122100000000000001"}
# Graph's answer to an expired or invalid token (…/whatsapp/support/error-codes: 190).
EXPIRED = {
    "error": {
        "message": "Error validating access token: Session has expired",
        "type": "OAuthException",
        "code": 190,
        "error_subcode": 463,
        "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
    }
}
WHATSAPP = Check(
    adapter=WhatsAppAdapter(),
    settings={"whatsapp_app_secret": "s", "whatsapp_access_token": WHATSAPP_TOKEN},
    credentials={"whatsapp_access_token": "WHATSAPP_ACCESS_TOKEN"},
    api="https://graph.facebook.com/v23.0",
    path="/me",
    query={},
    headers={"authorization": f"Bearer {WHATSAPP_TOKEN}"},
    account=ME,
    report="token of Bridge System User (122100…)",
    hidden=(WHATSAPP_TOKEN,),
    refusal=(401, EXPIRED),
    refused=("190", 401, "Error validating access token: Session has expired"),
    standin_report="token of Stand-in System User (122100…)",
    standin_refused=("190", 401),
)

CHECKS = [TWILIO, TEXTMAGIC, AFRICASTALKING, MESSAGEBIRD, VONAGE, WHATSAPP]
every_provider = pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.adapter.name)
every_credential = pytest.mark.parametrize(
    ("check", "field", "variable"),
    [
        pytest.param(check, field, variable, id=variable)
        for check in CHECKS
        for field, variable in check.credentials.items()
    ],
)
# An API URL set in the settings: a path below the host, and a trailing slash to fold.
CONFIGURED = "http://127.0.0.1:9/proxied/"


def declared(check: Check) -> CredentialCheck:
    """The check the adapter declares (doctor names its variables from it)."""
    assert check.adapter.credential_check is not None
    return check.adapter.credential_check


def run(check: Check, api: FakeApi, **fields: Any) -> str:
    """The check against `api`, with the provider configured (`fields` changed)."""
    settings = Settings(_env_file=None, **{**check.settings, **fields})
    with httpx.Client(transport=httpx.MockTransport(api)) as http:
        return check.adapter.check_credentials(settings, http)


def reply(status: int, body: object) -> httpx.Response:
    """Some providers refuse in plain text (Africa's Talking), the others in JSON."""
    return httpx.Response(status, text=body) if isinstance(body, str) else answer(status, body)


def where(request: httpx.Request) -> tuple[str, str, dict[str, list[str]]]:
    """A request's method, URL without its query, and its query's fields (whatever their order)."""
    url = urlsplit(str(request.url))
    return request.method, url._replace(query="").geturl(), parse_qs(url.query)


def shown(check: Check, text: str) -> list[str]:
    """What of `check.hidden` shows in `text`: doctor's output is read and pasted by people."""
    return [secret for secret in check.hidden if secret in text]


# --- the contract ---


def test_every_provider_with_a_credential_check_is_held_to_the_contract() -> None:
    checked = {name for name, adapter in ADAPTERS.items() if adapter.credential_check is not None}
    assert sorted(check.adapter.name for check in CHECKS) == sorted(checked)


@every_provider
def test_the_check_makes_the_documented_request_with_the_credentials(check: Check) -> None:
    api = FakeApi(answer(200, check.account))
    run(check, api)
    [request] = api.requests
    assert where(request) == ("GET", check.api + check.path, check.query)
    assert {name: request.headers.get(name) for name in check.headers} == check.headers


@every_provider
def test_the_report_describes_the_account_and_shows_no_secret(check: Check) -> None:
    described = run(check, FakeApi(answer(200, check.account)))
    assert described == check.report
    assert shown(check, described) == []


@every_provider
def test_the_configured_api_url_is_used(check: Check) -> None:
    api = FakeApi(answer(200, check.account))
    run(check, api, **{declared(check).api_url: CONFIGURED})
    assert where(api.requests[0])[1] == CONFIGURED.rstrip("/") + check.path


@every_provider
def test_wrong_credentials_are_refused_with_the_providers_code_and_words(check: Check) -> None:
    with pytest.raises(ProviderRejected) as refused:
        run(check, FakeApi(reply(*check.refusal)))
    assert (refused.value.code, refused.value.status, refused.value.message) == check.refused


@every_provider
def test_a_refusal_that_names_no_secret_keeps_it_out_of_the_error(check: Check) -> None:
    with pytest.raises(ProviderRejected) as refused:
        run(check, FakeApi(httpx.Response(403, text="Forbidden")))
    assert shown(check, str(refused.value)) == []


@every_provider
def test_the_check_declares_the_credentials_it_requires(check: Check) -> None:
    assert declared(check).credentials == tuple(check.credentials)


@every_credential
def test_a_missing_credential_names_the_variable_before_any_call(
    check: Check, field: str, variable: str
) -> None:
    api = FakeApi(answer(200, check.account))
    with pytest.raises(ConfigurationError, match=f"{variable} is not set"):
        run(check, api, **{field: None})
    assert api.requests == []


@every_provider
def test_an_api_that_keeps_failing_is_unavailable_after_one_retry(check: Check) -> None:
    api = FakeApi(reply(*check.unavailable))
    with pytest.raises(ProviderUnavailable):
        run(check, api)
    assert len(api.requests) == 2


@every_provider
def test_an_answer_that_is_not_json_is_refused(check: Check) -> None:
    with pytest.raises(ProviderRejected, match="not a JSON object"):
        run(check, FakeApi(httpx.Response(200, text="<html>captive portal</html>")))


# --- the contract, against the stand-in ---


@every_provider
def test_the_standin_answers_the_check(check: Check, providers_at_standin: Any) -> None:
    with httpx.Client(timeout=10.0) as http:
        assert check.adapter.check_credentials(get_settings(), http) == check.standin_report


@every_provider
def test_the_standin_refuses_each_wrong_credential(check: Check, providers_at_standin: Any) -> None:
    for field in check.credentials:
        wrong = get_settings().model_copy(update={field: "wrong"})
        with httpx.Client(timeout=10.0) as http, pytest.raises(ProviderRejected) as refused:
            check.adapter.check_credentials(wrong, http)
        assert (refused.value.code, refused.value.status) == check.standin_refused, field


# --- what only one provider's check does ---


@pytest.mark.parametrize("status", ["suspended", "closed"])
def test_a_twilio_account_that_cannot_send_is_refused(status: str) -> None:
    with pytest.raises(ProviderRejected, match=f"is {status}"):
        run(TWILIO, FakeApi(answer(200, ACCOUNT | {"status": status})))


def test_a_textmagic_trial_account_says_so() -> None:
    assert run(TEXTMAGIC, FakeApi(answer(200, CURRENT_USER | {"status": "T"}))).endswith(", trial account")


def test_an_africastalking_answer_without_user_data_is_refused() -> None:
    with pytest.raises(ProviderRejected, match="UserData"):
        run(AFRICASTALKING, FakeApi(answer(200, {"SMSMessageData": {}})))


def test_a_blank_whatsapp_token_is_refused_as_empty_before_any_call() -> None:
    api = FakeApi(answer(200, ME))
    with pytest.raises(ConfigurationError, match="WHATSAPP_ACCESS_TOKEN is empty"):
        run(WHATSAPP, api, whatsapp_access_token="  ")
    assert api.requests == []
