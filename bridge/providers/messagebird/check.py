"""Proving MessageBird's access key: read the account's balance (`bridge doctor`).

`GET {MESSAGEBIRD_API_URL}/balance` with `Authorization: AccessKey <key>` (the Balance API,
developers.messagebird.com/api/balance; api-evangelist's MessageBird balance OpenAPI) answers
`{"payment": "prepaid" | "postpaid", "type": "credits" | "euros", "amount": 9.2}`, and a wrong
key 401 with `errors[0].code` 2 "Request not allowed (incorrect access_key)" (the REST API's
codes). The same key signs the Conversations API's sends, which lives on another host
(`MESSAGEBIRD_CONVERSATIONS_API_URL`) and offers no cheaper read.
"""

from __future__ import annotations

import httpx

from bridge.core.settings import Settings
from bridge.providers.base import CredentialCheck, read_account
from bridge.providers.messagebird.common import NAME
from bridge.providers.messagebird.send import read_error

PATH = "/balance"


def check_credentials(settings: Settings, http: httpx.Client) -> str:
    """Read the balance with the access key; `balance 9.2 credits (prepaid)`."""
    headers = {
        "Authorization": f"AccessKey {settings.secret('messagebird_access_key')}",
        "Accept": "application/json",
    }
    url = settings.messagebird_api_url.rstrip("/") + PATH
    balance = read_account(http, url, provider=NAME, error=read_error, headers=headers)
    amount, unit, payment = balance.get("amount"), balance.get("type"), balance.get("payment")
    text = f"balance {amount} {unit or ''}".rstrip()
    return text + (f" ({payment})" if payment else "")


#: `MessageBirdAdapter.credential_check`.
CREDENTIAL_CHECK = CredentialCheck(
    request="GET /balance",
    credentials=("messagebird_access_key",),
    api_url="messagebird_api_url",
    run=check_credentials,
)
