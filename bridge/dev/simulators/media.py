"""`bridge simulate --media`: links named as given, files put where the provider would hold them.

A provider's webhook never carries a file: it names one the provider holds (Twilio a Media URL on
its API, Meta a media id its Graph API resolves). The bridge fetches media only from each
provider's own hosts or its configured API URL (`bridge.providers.media.urls`), so a link anywhere
else arrives in Intercom as a withheld attachment. A local file (`./cat.jpg`) or a built-in sample
(`sample:image`) is therefore uploaded to the provider's stand-in (`POST /_standin/media/{id}` on
the origin of the API URL the bridge is configured with) under an id the provider would give it,
and the webhook names it as the provider does (`HeldMedia`). That needs the stand-ins of a running
`bridge run --sandbox`; without them, only a link on the provider's hosts can work.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Sequence
from pathlib import Path

import httpx

from bridge.core.errors import ConfigurationError
from bridge.core.settings import Settings
from bridge.core.signing import sha256_hex
from bridge.dev.simulators import messagebird, twilio, vonage, whatsapp
from bridge.dev.simulators.base import HeldMedia, MediaHolder, api_origin
from bridge.dev.simulators.samples import SAMPLE_PREFIX, SAMPLES, LocalFile
from bridge.providers.registry import ADAPTERS

# The providers whose webhooks can name media, and where each keeps them. TextMagic and Africa's
# Talking carry SMS only.
MEDIA_HOLDERS: dict[str, MediaHolder] = {
    "twilio": twilio.MEDIA,
    "whatsapp": whatsapp.MEDIA,
    "messagebird": messagebird.MEDIA,
    "vonage": vonage.MEDIA,
}
# `scheme://…`: a link, named in the webhook as given (even one the bridge will refuse: trying
# that is a use too). Anything else is a file or a sample.
_LINK = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
CONTROL_MEDIA_PATH = "/_standin/media"


def is_link(value: str) -> bool:
    return bool(_LINK.match(value))


def needs_standins(values: Sequence[str]) -> bool:
    """Whether any of `values` is a file or a sample, to be uploaded to the provider stand-ins."""
    return not all(is_link(value) for value in values)


def without_standins(provider: str, values: Sequence[str], reason: str) -> ConfigurationError:
    """What to do when a file cannot reach the stand-ins (`reason` says why)."""
    [value, *_] = [value for value in values if not is_link(value)]
    hosts = ", ".join(ADAPTERS[provider].media_hosts.named) if provider in ADAPTERS else ""
    on_hosts = f" on {provider}'s media hosts ({hosts})" if hosts else ""
    return ConfigurationError(
        f"--media {value}: a file goes to the provider stand-ins of `bridge run --sandbox`, and {reason}. "
        f"Start `bridge run --sandbox` first, or pass a URL{on_hosts}"
    )


def holder(provider: str) -> MediaHolder:
    """Where `provider` keeps media; ConfigurationError for one that carries none."""
    found = MEDIA_HOLDERS.get(provider)
    if found is None:
        raise ConfigurationError(f"{provider} carries SMS only: no media")
    return found


def read_file(value: str) -> LocalFile:
    """A sample by name (`sample:image`), or the file at path `value`, typed by its extension."""
    if value.startswith(SAMPLE_PREFIX):
        make = SAMPLES.get(value.removeprefix(SAMPLE_PREFIX))
        if make is None:
            names = ", ".join(SAMPLE_PREFIX + name for name in SAMPLES)
            raise ConfigurationError(f"--media {value}: no such sample (there are {names})")
        return make()
    path = Path(value).expanduser()
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"--media {value}: cannot read it ({exc.strerror or exc})") from exc
    content_type = mimetypes.guess_type(path.name, strict=False)[0] or "application/octet-stream"
    return LocalFile(path.name, content_type, content)


def hold_media(
    provider: str, values: Sequence[str], settings: Settings, http: httpx.Client
) -> tuple[str | HeldMedia, ...]:
    """`values` as `SimulatedMessage.media`: links as given; files read and uploaded to the
    provider's stand-in at the origin of its API URL in `settings` (those of a sandbox run)."""
    if not needs_standins(values):
        return tuple(values)
    place = holder(provider)
    files = {value: read_file(value) for value in values if not is_link(value)}  # all read, or none sent
    held = {
        value: upload(value, local, place, settings, http, provider=provider)
        for value, local in files.items()
    }
    return tuple(held.get(value, value) for value in values)


def upload(
    value: str, local: LocalFile, place: MediaHolder, settings: Settings, http: httpx.Client, *, provider: str
) -> HeldMedia:
    """Seed the stand-in with `local` (given as `--media value`) under a new id of the provider's kind."""
    origin = api_origin(place.api_url(settings))
    media_id = place.new_id()
    body = {"content_base64": base64.b64encode(local.content).decode(), "content_type": local.content_type}
    try:
        response = http.post(f"{origin}{CONTROL_MEDIA_PATH}/{media_id}", json=body)
    except httpx.TransportError as exc:
        raise without_standins(provider, [value], f"none answer at {origin} ({exc})") from exc
    answer = response.json() if response.headers.get("content-type") == "application/json" else {}
    if response.status_code != 200 or answer.get("bytes") != len(local.content):
        reason = f"{origin} is not a provider stand-in (it answered HTTP {response.status_code})"
        raise without_standins(provider, [value], reason)
    return HeldMedia(
        media_id=media_id,
        content_type=local.content_type,
        sha256=sha256_hex(local.content),
        filename=local.name,
    )
