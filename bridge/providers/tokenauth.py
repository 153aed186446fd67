"""What the adapters of providers that sign nothing share: proof by a secret in the callback URL.

TextMagic and Africa's Talking neither sign their callbacks nor document any secret to check
them with (research/providers.md §5, §6). The proof is therefore a secret the operator puts in
the callback URL they register with the provider,
`https://bridge.example.com/webhooks/textmagic?token=<TEXTMAGIC_WEBHOOK_SECRET>`: the URL
travels inside TLS, so only the provider and the bridge know it. Use a URL-safe secret
(`secrets.token_urlsafe(32)`): in a query string `+` reads as a space.

The token is compared in constant time and never echoed: errors name the variable, never the
value, and the `token` parameter is dropped from the fields the adapters read.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr

from bridge.core.errors import SignatureInvalid
from bridge.core.settings import Settings, env_name
from bridge.core.signing import verify_url_token
from bridge.providers.base import ProviderAdapter, WebhookRequest
from bridge.providers.payloads import FormData, parse_form, request_fields

TOKEN_PARAMETER = "token"


class UrlTokenAdapter(ProviderAdapter):
    """An adapter whose callbacks prove themselves with `?token=` equal to one secret setting."""

    #: The settings field holding the secret, e.g. `textmagic_webhook_secret`.
    secret_field: ClassVar[str]
    #: The provider's name as people write it, for the disabled reason.
    title: ClassVar[str]

    def disabled_reason(self, settings: Settings) -> str | None:
        if self._secret(settings) is None:
            variable = env_name(self.secret_field)
            return (
                f"{self.title} is not configured: set {variable}, and register callback URLs ending in "
                f"?token=<{variable}> with {self.title} ({self.title} signs nothing, so the URL carries "
                "the proof)"
            )
        return None

    def verify(self, request: WebhookRequest, settings: Settings) -> None:
        given = parse_form(request.query).getlist(TOKEN_PARAMETER)
        if len(given) > 1:
            # Which one would the provider mean? A URL the operator registered has exactly one.
            raise SignatureInvalid("the callback URL has more than one token= parameter")
        secret = self._secret(settings)
        if secret is None:
            raise SignatureInvalid(f"{env_name(self.secret_field)} is not set")
        verify_url_token(given[0] if given else None, secret=secret, setting=env_name(self.secret_field))

    def _secret(self, settings: Settings) -> str | None:
        # An empty variable counts as unset: it must not switch the provider on.
        value = getattr(settings, self.secret_field)
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        return str(plain) if plain else None


def callback_fields(request: WebhookRequest) -> FormData:
    """The callback's fields in any envelope (`payloads.request_fields`), without the token: it is
    proof, not data, and neither provider sends a field of that name."""
    fields = request_fields(request)
    return FormData([(key, value) for key, value in fields.multi_items() if key != TOKEN_PARAMETER])
