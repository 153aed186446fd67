"""The providers' WhatsApp templates and business numbers, asked for once every few minutes.

The message API checks every template send against the provider's list (approved? how many
variables? which header?), and the inbox app shows the list in its picker: asking the provider
each time would spend its rate limit on a list that changes a few times a month. A template
paused or rejected within the cache's lifetime is refused by the provider itself, and the message
fails with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import httpx
from redis import Redis

from bridge.core.errors import ConfigurationError, ProviderRejected, RetryableError
from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.model.outgoing import HeaderKind
from bridge.providers.base import BusinessAddress, ProviderAdapter, TemplateInfo, TemplateStatus

CACHE_SECONDS = 300
T = TypeVar("T")
# Someone is waiting for the list (the API, the inbox app's picker): a provider slower than
# this is reported as unavailable rather than hold the request.
LISTING_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class Listing:
    """Approved templates, and why a provider's are missing."""

    templates: tuple[TemplateInfo, ...]
    errors: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "templates": [
                asdict(info) | {"label": info.label or info.name, "status": info.status.value}
                for info in self.templates
            ],
            "errors": dict(self.errors),
        }


class TemplateCatalog:
    def __init__(
        self,
        redis_client: Redis,
        settings: Settings,
        adapters: Mapping[str, ProviderAdapter],
        http: httpx.Client,
    ) -> None:
        self._redis = redis_client
        self._settings = settings
        self._adapters = adapters
        self._http = http

    def listing_providers(self) -> list[str]:
        """The configured providers that list templates."""
        return [
            name
            for name, adapter in self._adapters.items()
            if adapter.template_api is not None and adapter.disabled_reason(self._settings) is None
        ]

    def templates(self, provider: str) -> list[TemplateInfo]:
        """Every template of `provider`'s account, whatever its status, from the cache when fresh."""
        return self._cached(
            keys.templates(provider),
            lambda: self._adapters[provider].list_templates(self._settings, self._http),
            dump=asdict,
            load=_info,
        )

    def senders(self, provider: str) -> list[BusinessAddress]:
        """The business addresses `provider`'s account sends from (`ProviderAdapter.list_senders`),
        from the cache when fresh."""
        return self._cached(
            keys.senders(provider),
            lambda: self._adapters[provider].list_senders(self._settings, self._http),
            dump=BusinessAddress.to_json,
            load=BusinessAddress.from_json,
        )

    def _cached(
        self,
        key: str,
        fetch: Callable[[], list[T]],
        *,
        dump: Callable[[T], Mapping[str, Any]],
        load: Callable[[dict[str, Any]], T],
    ) -> list[T]:
        cached = self._redis.get(key)
        if cached is not None:
            return [load(item) for item in json.loads(cached)]
        listed = fetch()
        self._redis.set(key, json.dumps([dump(item) for item in listed]), ex=CACHE_SECONDS)
        return listed

    def find(self, provider: str, name: str, language: str) -> list[TemplateInfo]:
        """The templates `name` can mean for `provider` (its sending name or its label, as
        people call it) in `language`; empty when there is none."""
        return [
            info
            for info in self.templates(provider)
            if name in (info.name, info.label) and info.language.lower() == language.lower()
        ]

    def approved(self, provider: str | None = None) -> Listing:
        """The approved templates of every provider that lists them, or of `provider`
        (`LookupError` when it lists none); a provider that could not be asked is named under
        `errors` and the others still listed."""
        providers = self.listing_providers()
        if provider is not None:
            if provider not in providers:
                raise LookupError(f"no configured provider {provider!r} lists templates")
            providers = [provider]
        templates: list[TemplateInfo] = []
        errors: dict[str, str] = {}
        for name in providers:
            try:
                listed = self.templates(name)
            except (ConfigurationError, ProviderRejected, RetryableError) as failed:
                errors[name] = str(failed)
                continue
            templates.extend(info for info in listed if info.status is TemplateStatus.APPROVED)
        return Listing(tuple(templates), errors)

    def forget(self, provider: str) -> None:
        self._redis.delete(keys.templates(provider))


def _info(item: dict[str, Any]) -> TemplateInfo:
    header = item.get("header")
    return TemplateInfo(
        provider=str(item["provider"]),
        name=str(item["name"]),
        language=str(item["language"]),
        status=TemplateStatus(str(item["status"])),
        category=str(item.get("category") or ""),
        body=str(item.get("body") or ""),
        variables=int(str(item.get("variables") or 0)),
        header=HeaderKind(str(header)) if header else None,
        label=str(item.get("label") or ""),
    )
