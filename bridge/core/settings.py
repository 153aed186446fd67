"""Settings, read once from the environment (and an optional `.env`), typed, secrets hidden.

Names are the public contract (see docs/configuration in the README): never rename one.
A feature that needs a setting asks for it with `Settings.require(...)`, which fails with a
message naming the variable, so "it does not work" always comes with "because X is not set".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bridge.core.addresses import business_key
from bridge.core.errors import ConfigurationError
from bridge.core.logs import LogFormat
from bridge.core.signature_modes import PROVIDERS, SignatureMode, parse_signature_modes

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> float:
    """Seconds from `90`, `90s`, `30m`, `24h`, `14d` or `2w` (Octopods offers 1 h to 2 weeks)."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value).lower())
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 30m, 24h, 14d, 2w)")
    number, unit = match.groups()
    return float(number) * _UNIT_SECONDS[unit]


def parse_delays(value: object) -> tuple[int, ...]:
    """Retry delays in seconds from `5,30,120,600`; `0,0` retries twice at once (tests)."""
    if isinstance(value, list | tuple):
        items = [str(v) for v in value]
    else:
        items = [part for part in str(value).replace(" ", "").split(",") if part]
    delays = tuple(int(parse_duration(item)) for item in items)
    if any(delay < 0 for delay in delays):
        raise ValueError("retry delays cannot be negative")
    return delays


def parse_default_senders(value: object) -> dict[str, str]:
    """`{"twilio": "+12025550100", "twilio:whatsapp": "+14155238886"}` from
    `twilio=+12025550100,twilio:whatsapp=+14155238886`: a key is a provider, or a provider and a
    channel when one provider sends both (the more specific wins)."""
    if isinstance(value, Mapping):
        pairs = [(str(key), str(sender)) for key, sender in value.items()]
    else:
        pairs = []
        for entry in (part.strip() for part in str(value).split(",")):
            if not entry:
                continue
            key, equals, sender = entry.partition("=")
            if not equals or not key.strip() or not sender.strip():
                raise ValueError(f"{entry!r} is not provider=number (e.g. twilio=+12025550100)")
            pairs.append((key, sender))
    senders: dict[str, str] = {}
    for key, sender in pairs:
        name = key.strip().lower()
        provider, _, channel = name.partition(":")
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r} (one of {', '.join(PROVIDERS)})")
        if channel and channel not in ("sms", "whatsapp"):
            raise ValueError(f"unknown channel {channel!r} in {key!r} (sms or whatsapp)")
        senders[name] = sender.strip()
    return senders


def parse_words(value: object) -> tuple[str, ...]:
    """`STOP, Arrêt,BAJA`: each word trimmed and case-folded (how messages are compared), once."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    words = dict.fromkeys(str(item).strip().casefold() for item in items)
    return tuple(word for word in words if word)


def parse_routes(value: object) -> dict[str, tuple[str, str]]:
    """`{"sms:+12025550100": ("team", "501")}` from `+12025550100=team:501,whatsapp:10654…=admin:991`:
    a business address (a channel prefix for WhatsApp; SMS by default) and its assignee, a team or
    a teammate by their Intercom id. Keys are `bridge.core.addresses.business_key`s."""
    if isinstance(value, Mapping):
        return {str(key): (str(kind), str(ident)) for key, (kind, ident) in value.items()}
    routes: dict[str, tuple[str, str]] = {}
    for entry in (part.strip() for part in str(value).split(",")):
        if not entry:
            continue
        address, equals, assignee = entry.rpartition("=")
        kind, colon, ident = assignee.strip().partition(":")
        if not equals or not address.strip() or not colon:
            raise ValueError(f"{entry!r} is not address=team:ID or address=admin:ID")
        if kind not in ("team", "admin") or not ident.isdigit():
            raise ValueError(f"{entry!r}: the assignee is team:ID or admin:ID, with Intercom's numeric id")
        written = address.strip()
        channel = "whatsapp" if written.startswith("whatsapp:") else "sms"
        routes[business_key(channel, written)] = (kind, ident)
    return routes


Duration = Annotated[float, BeforeValidator(parse_duration)]
Routes = Annotated[dict[str, tuple[str, str]], NoDecode, BeforeValidator(parse_routes)]
Words = Annotated[tuple[str, ...], NoDecode, BeforeValidator(parse_words)]
DefaultSenders = Annotated[dict[str, str], NoDecode, BeforeValidator(parse_default_senders)]
SignatureModes = Annotated[dict[str, SignatureMode], NoDecode, BeforeValidator(parse_signature_modes)]
Delays = Annotated[tuple[int, ...], NoDecode, BeforeValidator(parse_delays)]


class Settings(BaseSettings):
    """Every setting of the bridge. Field names are for code; aliases are the contract's names."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
        # `TWILIO_AUTH_TOKEN=` (set but empty) must leave Twilio off, not verify with an empty key
        # anyone can compute.
        env_ignore_empty=True,
    )

    # --- the bridge itself ---
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    data_dir: Path = Field(Path(".bridge"), validation_alias="BRIDGE_DATA_DIR")
    public_url: str | None = Field(None, validation_alias="BRIDGE_PUBLIC_URL")
    default_region: str = Field("US", validation_alias="BRIDGE_DEFAULT_REGION")
    admin_token: SecretStr | None = Field(None, validation_alias="BRIDGE_ADMIN_TOKEN")
    retry_delays: Delays = Field((5, 30, 120, 600, 1800), validation_alias="BRIDGE_RETRY_DELAYS")
    new_conversation_after: Duration = Field(24 * 3600.0, validation_alias="BRIDGE_NEW_CONVERSATION_AFTER")
    retention_days: int = Field(14, ge=1, validation_alias="BRIDGE_RETENTION_DAYS")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, validation_alias="BRIDGE_MAX_BODY_BYTES")
    # The largest attachment the bridge fetches and re-serves (WhatsApp's documents reach 100 MB),
    # and how long one download may take, redirects included (bridge.providers.media.fetch).
    media_max_bytes: int = Field(100 * 1024 * 1024, ge=1, validation_alias="BRIDGE_MEDIA_MAX_BYTES")
    media_deadline: Duration = Field(120.0, gt=0, validation_alias="BRIDGE_MEDIA_DEADLINE")
    # The most bytes of files handed to Intercom in one request, and so the largest file: Intercom
    # documents 100 MB per attachment and no limit of its own for the API
    # (bridge.conversations.attachments). A larger attachment is linked from the bridge instead.
    intercom_files_max_bytes: int = Field(
        100 * 1024 * 1024, ge=1, validation_alias="BRIDGE_INTERCOM_FILES_MAX_BYTES"
    )
    # Base of the in-process backoff between quick retries of one HTTP call (seconds).
    http_backoff: Duration = Field(0.5, validation_alias="BRIDGE_HTTP_BACKOFF")
    # Workers' heartbeat TTL and maintenance interval (bridge.infra.heartbeats); shorter only for tests.
    worker_ttl: int = Field(60, ge=5, le=60, validation_alias="BRIDGE_WORKER_TTL")
    # Jobs in flight per `bridge worker` process, each in a thread (workers.threaded); 0 (for now
    # the default, until the chaos suite's kill test holds for it) runs RQ's forking worker, one
    # process per job.
    worker_concurrency: int = Field(0, ge=0, le=256, validation_alias="BRIDGE_WORKER_CONCURRENCY")
    # A threaded worker process starts afresh after this many jobs, or once its resident memory
    # passes the ceiling (MB), so a leak is recycled; 0 turns either off.
    worker_max_jobs: int = Field(10_000, ge=0, validation_alias="BRIDGE_WORKER_MAX_JOBS")
    worker_max_memory_mb: int = Field(512, ge=0, validation_alias="BRIDGE_WORKER_MAX_MEMORY_MB")
    # `enforce` (default), `log-only`, or per provider: `twilio=log-only` (bridge.intake.signatures).
    signature_modes: SignatureModes = Field(
        default_factory=lambda: parse_signature_modes(""), validation_alias="BRIDGE_SIGNATURE_MODE"
    )
    # Whether an agent's WhatsApp reply marks the customer's messages read (the blue ticks), where
    # the provider's API can (bridge.replies.receipts).
    read_receipts: bool = Field(True, validation_alias="BRIDGE_READ_RECEIPTS")
    # Which contact wins when several share a number (bridge.contacts.matching).
    contact_priority: Literal["latest_updated", "user", "lead"] = Field(
        "latest_updated", validation_alias="BRIDGE_CONTACT_PRIORITY"
    )
    # Business address -> assignee of the conversations the bridge opens for it:
    # `+12025550100=team:501,whatsapp:106540352242922=admin:991` (bridge.conversations.routing).
    routes: Routes = Field(default_factory=dict, validation_alias="BRIDGE_ROUTES")
    # How often workers look in Intercom for agents' replies whose webhook never arrived (seconds;
    # 0 turns the catch-up off).
    reply_catchup: Duration = Field(60.0, ge=0, validation_alias="BRIDGE_REPLY_CATCHUP_SECONDS")
    # When a webhook is acknowledged: `write` (Redis answered), `fsync` (on the primary's disk:
    # WAITAOF), `replica` (on a replica: WAIT). None: `fsync` on the embedded server, else `write`.
    ack_after: Literal["write", "fsync", "replica"] | None = Field(None, validation_alias="BRIDGE_ACK_AFTER")
    ack_timeout_ms: int = Field(2000, ge=1, le=60_000, validation_alias="BRIDGE_ACK_TIMEOUT_MS")
    # `json`, `text`, or `auto`: JSON unless stderr is a terminal (see bridge.core.logs).
    log_format: LogFormat = Field("auto", validation_alias="BRIDGE_LOG_FORMAT")
    # A customer's whole message that opts them out of a business number, or back in (carriers'
    # and Twilio's lists by default; bridge.consent.keywords).
    opt_out_keywords: Words = Field(
        ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"),
        validation_alias="BRIDGE_OPT_OUT_KEYWORDS",
    )
    opt_in_keywords: Words = Field(("start", "unstop", "yes"), validation_alias="BRIDGE_OPT_IN_KEYWORDS")
    # What the bridge answers a keyword with, where the provider does not answer it itself (SMS).
    opt_out_reply: str = Field(
        "You have been unsubscribed and will receive no more messages from this number. "
        "Reply START to resubscribe.",
        validation_alias="BRIDGE_OPT_OUT_REPLY",
    )
    opt_in_reply: str = Field(
        "You have been resubscribed to messages from this number. Reply STOP to unsubscribe.",
        validation_alias="BRIDGE_OPT_IN_REPLY",
    )
    help_reply: str = Field(
        "Reply STOP to unsubscribe, START to resubscribe. Msg & data rates may apply.",
        validation_alias="BRIDGE_HELP_REPLY",
    )
    # The message API's bearer token (`/api/…`); unset, the API answers 404 saying so.
    api_token: SecretStr | None = Field(None, validation_alias="BRIDGE_API_TOKEN")
    # The key of the hashes a forgotten customer's opt-outs are kept under (bridge.core.pseudonyms);
    # unset: a random key in BRIDGE_DATA_DIR/forget.key. The same on every machine of a deployment.
    forget_secret: SecretStr | None = Field(None, min_length=16, validation_alias="BRIDGE_FORGET_SECRET")
    # The business number a message the team writes first leaves from, per provider (or
    # `provider:channel`): `twilio=+12025550100,whatsapp=106540352242922`.
    default_senders: DefaultSenders = Field(default_factory=dict, validation_alias="BRIDGE_DEFAULT_SENDERS")

    # --- Intercom ---
    intercom_access_token: SecretStr | None = Field(None, validation_alias="INTERCOM_ACCESS_TOKEN")
    intercom_api_url: str = Field("https://api.intercom.io", validation_alias="INTERCOM_API_URL")
    intercom_client_secret: SecretStr | None = Field(None, validation_alias="INTERCOM_CLIENT_SECRET")
    intercom_admin_id: str | None = Field(None, validation_alias="INTERCOM_ADMIN_ID")
    # Intercom's rate limit for the app, in calls a minute; the bridge books 90 % of it across all
    # its processes (bridge.infra.rate_budget). 0 turns the shared budget off.
    intercom_calls_per_minute: int = Field(10_000, ge=0, validation_alias="BRIDGE_INTERCOM_CALLS_PER_MINUTE")

    # --- Twilio ---
    twilio_account_sid: str | None = Field(None, validation_alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: SecretStr | None = Field(None, validation_alias="TWILIO_AUTH_TOKEN")
    twilio_api_url: str = Field("https://api.twilio.com", validation_alias="TWILIO_API_URL")
    # Twilio's Content API, where its Content Templates (WhatsApp templates) are listed.
    twilio_content_api_url: str = Field(
        "https://content.twilio.com", validation_alias="TWILIO_CONTENT_API_URL"
    )
    # A Content Template (`HX…`) sent instead of free text outside WhatsApp's 24-hour window.
    twilio_whatsapp_content_sid: str | None = Field(None, validation_alias="TWILIO_WHATSAPP_CONTENT_SID")
    # Twilio's Messaging API, where a WhatsApp typing indicator marks the customer's message read.
    twilio_messaging_api_url: str = Field(
        "https://messaging.twilio.com", validation_alias="TWILIO_MESSAGING_API_URL"
    )

    # --- Meta WhatsApp Cloud API ---
    whatsapp_access_token: SecretStr | None = Field(None, validation_alias="WHATSAPP_ACCESS_TOKEN")
    whatsapp_app_secret: SecretStr | None = Field(None, validation_alias="WHATSAPP_APP_SECRET")
    whatsapp_verify_token: SecretStr | None = Field(None, validation_alias="WHATSAPP_VERIFY_TOKEN")
    whatsapp_api_url: str = Field("https://graph.facebook.com/v23.0", validation_alias="WHATSAPP_API_URL")
    # The WhatsApp Business Account whose message templates the bridge lists and sends.
    whatsapp_business_account_id: str | None = Field(None, validation_alias="WHATSAPP_BUSINESS_ACCOUNT_ID")
    # `name:language` of an approved template sent instead of free text outside the 24-hour window.
    whatsapp_template: str | None = Field(None, validation_alias="WHATSAPP_TEMPLATE")

    # --- MessageBird / Bird ---
    messagebird_access_key: SecretStr | None = Field(None, validation_alias="MESSAGEBIRD_ACCESS_KEY")
    messagebird_signing_key: SecretStr | None = Field(None, validation_alias="MESSAGEBIRD_SIGNING_KEY")
    messagebird_api_url: str = Field("https://rest.messagebird.com", validation_alias="MESSAGEBIRD_API_URL")
    messagebird_conversations_api_url: str = Field(
        "https://conversations.messagebird.com", validation_alias="MESSAGEBIRD_CONVERSATIONS_API_URL"
    )

    # --- Vonage ---
    vonage_api_key: str | None = Field(None, validation_alias="VONAGE_API_KEY")
    vonage_api_secret: SecretStr | None = Field(None, validation_alias="VONAGE_API_SECRET")
    vonage_signature_secret: SecretStr | None = Field(None, validation_alias="VONAGE_SIGNATURE_SECRET")
    vonage_signature_method: str = Field("md5hash", validation_alias="VONAGE_SIGNATURE_METHOD")
    vonage_api_url: str = Field("https://rest.nexmo.com", validation_alias="VONAGE_API_URL")
    vonage_messages_api_url: str = Field("https://api.nexmo.com", validation_alias="VONAGE_MESSAGES_API_URL")

    # --- TextMagic ---
    textmagic_username: str | None = Field(None, validation_alias="TEXTMAGIC_USERNAME")
    textmagic_api_key: SecretStr | None = Field(None, validation_alias="TEXTMAGIC_API_KEY")
    textmagic_webhook_secret: SecretStr | None = Field(None, validation_alias="TEXTMAGIC_WEBHOOK_SECRET")
    textmagic_api_url: str = Field("https://rest.textmagic.com", validation_alias="TEXTMAGIC_API_URL")

    # --- Africa's Talking ---
    africastalking_username: str | None = Field(None, validation_alias="AFRICASTALKING_USERNAME")
    africastalking_api_key: SecretStr | None = Field(None, validation_alias="AFRICASTALKING_API_KEY")
    africastalking_webhook_secret: SecretStr | None = Field(
        None, validation_alias="AFRICASTALKING_WEBHOOK_SECRET"
    )
    africastalking_api_url: str = Field(
        "https://api.africastalking.com", validation_alias="AFRICASTALKING_API_URL"
    )

    def require(self, *fields: str) -> None:
        """Fail with the contract's variable names when any of `fields` is unset."""
        missing = [name for name in fields if getattr(self, name) in (None, "")]
        if missing:
            names = ", ".join(env_name(name) for name in missing)
            raise ConfigurationError(f"{names} {'is' if len(missing) == 1 else 'are'} not set")

    def filled_from(self, values: Mapping[str, str]) -> Settings:
        """These settings, with the unset ones taken from `values` (keyed by variable name)."""
        fields_by_variable = {env_name(name): name for name in type(self).model_fields}
        fill = {
            fields_by_variable[variable]: value
            for variable, value in values.items()
            if variable in fields_by_variable and getattr(self, fields_by_variable[variable]) in (None, "")
        }
        return self.model_validate(self.model_dump() | fill) if fill else self

    def secret(self, field: str) -> str:
        """The plain value of a secret setting, after `require`-style checking."""
        self.require(field)
        value = getattr(self, field)
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def env_name(field: str) -> str:
    """The environment variable a settings field is read from."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else field.upper()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()


def describe_invalid(exc: ValidationError) -> list[str]:
    """One line per invalid setting, named by its environment variable, without echoing the value.

    Pydantic's own report is a traceback plus the raw input, and the input may be a secret.
    """
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        lines.append(f"{name}: {error['msg']}")
    return lines


def reset_settings_cache() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
