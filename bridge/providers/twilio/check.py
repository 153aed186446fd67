"""Proving Twilio's credentials: fetch the account they belong to (`bridge doctor`).

`GET {TWILIO_API_URL}/2010-04-01/Accounts/{AccountSid}.json` with HTTP Basic
`AccountSid:AuthToken` is the Account resource's fetch (twilio.com/docs/iam/api/account; the
OpenAPI's `FetchAccount`): free, read-only, and refused with 401 (code 20003 "Authenticate") when
the token does not belong to the sid. The resource carries `friendly_name`, `status` (`active`,
`suspended`, `closed`), `type` (`Trial`, `Full`) and also the `auth_token` itself, which is never
read here. A suspended or closed account cannot send: refused too.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from bridge.core.logs import mask
from bridge.core.settings import Settings
from bridge.providers.base import CredentialCheck, read_account, refused
from bridge.providers.refusals import error_code, json_answer, status_text

PROVIDER = "twilio"
PATH = "/2010-04-01/Accounts/{sid}.json"
# Statuses of an account that can no longer send (the Account resource's `status` enum).
NOT_SENDING = frozenset({"suspended", "closed"})


def check_credentials(settings: Settings, http: httpx.Client) -> str:
    """Fetch the account `TWILIO_ACCOUNT_SID` names with the auth token; `account Acme (AC12ab…),
    Full, active`."""
    settings.require("twilio_account_sid")
    sid = str(settings.twilio_account_sid)
    token = settings.secret("twilio_auth_token")
    url = settings.twilio_api_url.rstrip("/") + PATH.format(sid=quote(sid, safe=""))
    account = read_account(http, url, provider=PROVIDER, error=read_error, auth=(sid, token))
    status = str(account.get("status") or "unknown")
    if status in NOT_SENDING:
        raise refused(PROVIDER, f"the account {short_sid(sid)} is {status}: it cannot send")
    name = mask(str(account.get("friendly_name") or "(no name)"))
    kind = account.get("type")
    return f"account {name} ({short_sid(sid)}), {kind + ', ' if isinstance(kind, str) else ''}{status}"


#: `TwilioAdapter.credential_check`.
CREDENTIAL_CHECK = CredentialCheck(
    request="GET " + PATH.format(sid="{AccountSid}"),
    credentials=("twilio_account_sid", "twilio_auth_token"),
    api_url="twilio_api_url",
    run=check_credentials,
)


def read_error(response: httpx.Response) -> tuple[str | None, str]:
    """Twilio's error `code` and `message` (`{"code": 20003, "message": "Authenticate", …}`)."""
    data = json_answer(response)
    if not isinstance(data, dict):
        return None, status_text(response)
    return error_code(data.get("code")), mask(str(data.get("message") or status_text(response)))


def short_sid(sid: str) -> str:
    """`AC12ab…`: enough to tell accounts apart in a report."""
    return sid[:6] + "…" if len(sid) > 6 else sid
