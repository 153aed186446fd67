"""`bridge consent show|set`: a customer's consent, for operators (see `bridge.ops.consent`)."""

from __future__ import annotations

import getpass
import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from redis import Redis

    from bridge.core.settings import Settings
    from bridge.intercom.client import IntercomClient


@click.group()
def consent() -> None:
    """A customer's consent (STOP / START) per business number, and its audit trail."""


@contextmanager
def _services(*, intercom: bool) -> Iterator[tuple[Redis, IntercomClient | None, Settings]]:
    from bridge.cli.main import _friendly_errors
    from bridge.core.settings import get_settings
    from bridge.infra.connection import redis_client
    from bridge.intercom.client import IntercomClient
    from bridge.runtime.embedded import redis_url

    settings = get_settings()
    with _friendly_errors(), ExitStack() as stack:
        url = stack.enter_context(redis_url(settings))
        client = redis_client(url)
        stack.callback(client.close)
        mirror = None
        if intercom and settings.intercom_access_token is not None:
            mirror = stack.enter_context(IntercomClient.from_settings(settings, redis_client=client))
        yield client, mirror, settings


@consent.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of lines.")
def consent_show(number: str, as_json: bool) -> None:
    """NUMBER's consent on every business number, and every change with when, why and by what."""
    from bridge.ops.consent import UnknownNumber, consent_report

    with _services(intercom=False) as (client, _, settings):
        try:
            report = consent_report(client, number, settings)
        except UnknownNumber as unknown:
            click.echo(f"bridge: {unknown}", err=True)
            sys.exit(1)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"Customer {report['customer']}:")
    if not report["consent"]:
        click.echo("  never opted out of any number")
    for entry in report["consent"]:
        state = "opted out" if entry["opted_out"] else "opted in"
        click.echo(f"  {entry['scope']}: {state} since {_when(entry['at'])} ({entry['reason']})")
    if report["history"]:
        click.echo("History:")
    for entry in report["history"]:
        state = "opted out of" if entry["opted_out"] else "opted in to"
        click.echo(
            f"  {_when(entry['at'])}  {state} {entry['scope']}: {entry['reason']} "
            f"({entry['source']}, {entry['by']})"
        )


@consent.command("set")
@click.argument("number")
@click.option("--from", "business", required=True, help="The business number (or WhatsApp phone number id).")
@click.option("--channel", type=click.Choice(["sms", "whatsapp"]), default="sms", show_default=True)
@click.option("--opt-out/--opt-in", "opted_out", required=True, help="The customer's choice.")
@click.option("--reason", required=True, help="Why: how the customer asked (kept in the audit trail).")
def consent_set(number: str, business: str, channel: str, opted_out: bool, reason: str) -> None:
    """Record a choice NUMBER made elsewhere (by phone, by email) for one business number."""
    from bridge.model.messages import Channel
    from bridge.ops.consent import UnknownNumber, set_consent

    with _services(intercom=True) as (client, intercom, settings):
        try:
            change = set_consent(
                client,
                intercom,
                settings,
                number=number,
                business=business,
                channel=Channel(channel),
                opted_out=opted_out,
                reason=reason,
                operator=f"operator {getpass.getuser()} (bridge consent set)",
            )
        except (UnknownNumber, ValueError) as refused:
            click.echo(f"bridge: {refused}", err=True)
            sys.exit(1)
    state = "opted out of" if opted_out else "opted in to"
    if change.changed is None:
        click.echo(f"Already {state} {change.scope}: nothing changed.")
    else:
        click.echo(f"Recorded: {state} {change.scope} ({reason.strip()}).")


def _when(at: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(float(at)))
