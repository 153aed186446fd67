"""`bridge send` and `bridge templates list`: the team writes first, from a terminal.

The same door as the message API (`bridge.outreach.accept.Outreach`): the message is checked,
stored and queued here, and a worker (`bridge worker`, or the ones `bridge run` starts) sends it.
`send` then waits a few seconds for the outcome, so the line it prints says what happened.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from bridge.outreach.accept import Outreach

WAIT_POLL_SECONDS = 0.25
WAITING = ("queued",)


@contextmanager
def _outreach() -> Iterator[Outreach]:
    import httpx

    from bridge.cli.main import _friendly_errors
    from bridge.core.settings import get_settings
    from bridge.core.tls import tls_context
    from bridge.infra.connection import redis_client
    from bridge.outreach.accept import Outreach
    from bridge.outreach.catalog import LISTING_TIMEOUT
    from bridge.providers.registry import ADAPTERS
    from bridge.runtime.embedded import redis_url

    settings = get_settings()
    with (
        _friendly_errors(),
        redis_url(settings) as url,
        httpx.Client(timeout=LISTING_TIMEOUT, verify=tls_context()) as http,
    ):
        client = redis_client(url)
        try:
            yield Outreach(client, settings, ADAPTERS, http)
        finally:
            client.close()


@click.command()
@click.option(
    "--to", "to", required=True, help="The customer's number (any written form) or WhatsApp user id."
)
@click.option("--channel", type=click.Choice(["sms", "whatsapp"]), default="sms", show_default=True)
@click.option("--provider", default=None, help="Which provider (needed when several serve the channel).")
@click.option("--from", "sender", default=None, help="The business number (default: BRIDGE_DEFAULT_SENDERS).")
@click.option("--text", default=None, help="Free text.")
@click.option("--media", "media_urls", multiple=True, help="A media URL (repeat for more).")
@click.option("--template", default=None, metavar="NAME:LANG", help="An approved WhatsApp template.")
@click.option("--var", "variables", multiple=True, help="A template body variable, in order (repeat).")
@click.option(
    "--header-media", default=None, metavar="URL", help="The template's header image/video/document."
)
@click.option("--contact", "contact_id", default=None, help="File it under this Intercom contact id.")
@click.option("--idempotency-key", default=None, help="The same key sends once, however often it is run.")
@click.option("--wait", default=15.0, show_default=True, help="Seconds to wait for the outcome (0: do not).")
def send(
    to: str,
    channel: str,
    provider: str | None,
    sender: str | None,
    text: str | None,
    media_urls: tuple[str, ...],
    template: str | None,
    variables: tuple[str, ...],
    header_media: str | None,
    contact_id: str | None,
    idempotency_key: str | None,
    wait: float,
) -> None:
    """Send a customer a message first: text (--text), or a WhatsApp template (--template)."""
    from bridge.outreach.requests import Refusal, read_request

    data: dict[str, Any] = {"to": to, "channel": channel, "text": text or "", "media_urls": list(media_urls)}
    data |= {"provider": provider, "from": sender, "intercom_contact_id": contact_id}
    data["idempotency_key"] = idempotency_key
    if template is not None:
        data["template"] = _template(template, variables, header_media)
    with _outreach() as outreach:
        try:
            request = read_request({key: value for key, value in data.items() if value is not None})
            stored = outreach.accept(request, source="cli")
        except Refusal as refused:
            field = f" ({refused.field})" if refused.field else ""
            click.echo(f"bridge: not sent{field}: {refused.reason}", err=True)
            sys.exit(1)
        view = outreach.view(stored.entry)
        deadline = time.monotonic() + wait
        while view["status"] in WAITING and time.monotonic() < deadline:
            time.sleep(WAIT_POLL_SECONDS)
            view = outreach.describe(view["id"]) or view
    click.echo(_line(view))
    if view["status"] in ("failed", "blocked"):
        sys.exit(1)


def _template(spec: str, variables: tuple[str, ...], header_media: str | None) -> dict[str, Any]:
    name, _, language = spec.partition(":")
    template: dict[str, Any] = {"name": name, "language": language or "en_US", "variables": list(variables)}
    if header_media:
        template["header"] = {"type": _header_kind(header_media), "url": header_media}
    return template


def _header_kind(url: str) -> str:
    from bridge.model.outgoing import MediaKind, media_kind

    kind = media_kind(url)
    return kind.value if kind in (MediaKind.IMAGE, MediaKind.VIDEO) else "document"


def _line(view: dict[str, Any]) -> str:
    """What happened, in a line a person reads."""
    head = f"{view['id']}: {view['channel']} to {view['to']} from {view['from']} through {view['provider']}"
    status = view["status"]
    if status == "queued":
        return f"{head}: queued; no worker has sent it yet (is `bridge worker` or `bridge run` running?)"
    if status in ("failed", "blocked"):
        error = view.get("error") or {}
        code = f" (error {error['code']})" if error.get("code") else ""
        return f"{head}: {status}{code}: {error.get('reason') or 'no reason given'}"
    conversation = f", conversation {view['conversation_id']}" if view.get("conversation_id") else ""
    return f"{head}: {status} as {view['provider_message_id']}{conversation}"


@click.group()
def templates() -> None:
    """The providers' approved WhatsApp templates."""


@templates.command("list")
@click.option("--provider", default=None, help="Only this provider's.")
def templates_list(provider: str | None) -> None:
    """Every approved WhatsApp template: provider, name, language, category, variables, header."""
    with _outreach() as outreach:
        try:
            listing = outreach.catalog.approved(provider)
        except LookupError as unknown:
            click.echo(f"bridge: {unknown}", err=True)
            sys.exit(1)
    for name, reason in listing.errors.items():
        click.echo(f"bridge: {name}'s templates could not be listed: {reason}", err=True)
    if not listing.templates:
        click.echo("No approved templates.")
        return
    columns = f"{'provider':<10}  {'name':<28}  {'language':<8}  {'category':<14}  vars  {'header':<8}"
    click.echo(f"{columns}  sent as")
    for info in listing.templates:
        shown = info.label or info.name
        header = info.header.value if info.header else "-"
        sent_as = info.name if info.name != shown else ""
        click.echo(
            f"{info.provider:<10}  {shown:<28}  {info.language:<8}  {info.category[:14]:<14}  "
            f"{info.variables:>4}  {header:<8}  {sent_as}".rstrip()
        )
