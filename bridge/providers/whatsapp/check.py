"""Proving Meta's access token: ask the Graph API whose token it is (`bridge doctor`).

`GET {WHATSAPP_API_URL}/me` with `Authorization: Bearer <WHATSAPP_ACCESS_TOKEN>`: "the /me node
is a special endpoint that translates to the object ID of the person or Page whose access token
is currently being used" (developers.facebook.com/docs/graph-api/overview); for the System User
token a Cloud API integration uses (…/whatsapp/access-tokens) it answers that system user's
`{"id", "name"}`. An invalid or expired token is refused in Graph's error envelope with code 190.
`/debug_token` would tell more (expiry, scopes) but wants an app token or an app developer's
token as well, which the bridge does not hold. Reading `/me` proves the token, not that it may
send from a given phone-number id: that shows on the first reply.
"""

from __future__ import annotations

import httpx

from bridge.core.errors import ConfigurationError
from bridge.core.logs import mask
from bridge.core.settings import Settings, env_name
from bridge.providers.base import CredentialCheck, read_account
from bridge.providers.whatsapp.send import PROVIDER, read_error

PATH = "/me"


def check_credentials(settings: Settings, http: httpx.Client) -> str:
    """Read `/me` with the access token; `token of System User Ada (1234…)`."""
    token = settings.secret("whatsapp_access_token")
    if not token.strip():
        raise ConfigurationError(f"{env_name('whatsapp_access_token')} is empty")
    url = settings.whatsapp_api_url.rstrip("/") + PATH
    me = read_account(http, url, provider=PROVIDER, error=read_error, headers=_bearer(token))
    name = mask(str(me.get("name") or "(no name)"))
    node = str(me.get("id") or "")
    return f"token of {name}" + (f" ({node[:6]}…)" if node else "")


#: `WhatsAppAdapter.credential_check`.
CREDENTIAL_CHECK = CredentialCheck(
    request="GET /me",
    credentials=("whatsapp_access_token",),
    api_url="whatsapp_api_url",
    run=check_credentials,
)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
