"""`bridge contacts`: fill the identity map from Intercom, explain how a number would match, and
forget a person.

Registered on the main command in bridge/cli/main.py (`main.add_command(contacts)`). Each command
parses its options and calls one function: `bridge.contacts.sync.sync_contacts`,
`bridge.contacts.lookup.build_lookup`, `bridge.ops.forget.Forgetter.number`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click
from redis import Redis

from bridge.contacts.matching import PRIORITY_TEXT, ContactPriority
from bridge.contacts.sync import SyncProgress, SyncStore, SyncSummary, sync_contacts
from bridge.core.errors import BridgeError, IntercomRejected
from bridge.core.settings import Settings, get_settings
from bridge.intercom.client import IntercomClient

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar


@contextmanager
def _services(settings: Settings, *, budgeted: bool) -> Iterator[tuple[Redis, IntercomClient]]:
    """Redis (the embedded server when `REDIS_URL` is unset) and the Intercom client, booking
    its calls in the budget the workers share when `budgeted` (`bridge.infra.rate_budget`)."""
    from bridge.infra.connection import redis_client
    from bridge.runtime.embedded import redis_url

    settings.require("intercom_access_token")
    with redis_url(settings) as url:
        client = redis_client(url, timeout=30.0)
        with IntercomClient.from_settings(settings, redis_client=client if budgeted else None) as intercom:
            yield client, intercom


@click.group()
def contacts() -> None:
    """Intercom's contacts and the bridge's identity map."""


@contacts.command()
@click.option("--restart", is_flag=True, help="Forget a stopped run and start again from the first page.")
def sync(restart: bool) -> None:
    """Fill the identity map from every Intercom contact (reads Intercom, never writes to it).

    A run stopped by Ctrl-C or an error continues from its last completed page when run again.
    """
    settings = get_settings()
    shown = _ProgressDisplay()
    try:
        # Page after page of reads, maybe while workers deliver: within the shared budget.
        with _services(settings, budgeted=True) as (redis, intercom):
            try:
                summary = sync_contacts(
                    redis_client=redis,
                    intercom=intercom,
                    default_region=settings.default_region,
                    priority=ContactPriority.configured(settings),
                    restart=restart,
                    on_page=shown.update,
                )
            except (KeyboardInterrupt, BridgeError) as exc:
                shown.close()
                _stopped(exc, SyncStore(redis).progress())
    except BridgeError as exc:  # a missing setting, Redis unreachable
        click.echo(f"bridge: {exc}", err=True)
        sys.exit(2)
    shown.close()
    for line in render_summary(summary):
        click.echo(line)


@contacts.command()
@click.argument("number")
@click.option("--region", default=None, help="Country for national numbers (default BRIDGE_DEFAULT_REGION).")
def lookup(number: str, region: str | None) -> None:
    """Show how a message from NUMBER would be matched: variants, map, search, rule, winner.

    Creates nothing, neither in Intercom nor in the identity map.
    """
    from bridge.contacts.lookup import build_lookup, render_lookup
    from bridge.contacts.resolution import IdentityMap

    settings = get_settings()
    try:
        # A few reads someone is waiting for, leaving nothing in Redis: outside the budget (doctor too).
        with _services(settings, budgeted=False) as (redis, intercom):
            report = build_lookup(
                number,
                region=(region or settings.default_region).upper(),
                identities=IdentityMap(redis),
                intercom=intercom,
                priority=ContactPriority.configured(settings),
            )
    except BridgeError as exc:
        click.echo(f"bridge: {exc}", err=True)
        sys.exit(2)
    for line in render_lookup(report):
        click.echo(line)


@contacts.command()
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of lines.")
def forget(number: str, as_json: bool) -> None:
    """Forget NUMBER (its other forms, and the WhatsApp ids it wrote with, too): every record of
    it in the bridge, but its opt-outs, which stay blocked under a keyed hash.

    Never asks or changes Intercom: delete the contact there yourself (with the contact.deleted
    topic subscribed, Intercom's deletion forgets its numbers here on its own).
    """
    import json

    from bridge.infra.connection import redis_client
    from bridge.ops.consent import UnknownNumber, customer_of
    from bridge.ops.forget import Forgetter, masked
    from bridge.runtime.embedded import redis_url

    settings = get_settings()
    try:
        customer = customer_of(number, settings)
        with redis_url(settings) as url:
            client = redis_client(url, timeout=30.0)
            try:
                report = Forgetter(client, settings).number(customer)
            finally:
                client.close()
    except UnknownNumber as unknown:
        click.echo(f"bridge: {unknown}", err=True)
        sys.exit(1)
    except BridgeError as exc:  # Redis unreachable, another machine's hashing key
        click.echo(f"bridge: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps({"customer": masked(customer), **report.to_json()}, indent=2))
        return
    for line in render_forgotten(masked(customer), report.to_json()):
        click.echo(line)


def render_forgotten(customer: str, report: dict[str, Any]) -> list[str]:
    """What `bridge contacts forget` prints: counts by kind, what stays hashed, Redis's files."""
    removed: dict[str, int] = report["removed"]
    lines = [f"Forgot {customer} and the other forms of the number."]
    if removed:
        width = max(len(kind) for kind in removed) + 2
        lines += ["Removed:", *(f"  {kind:<{width}}{count}" for kind, count in removed.items())]
    else:
        lines.append("The bridge held nothing of it.")
    for scope in report["kept_hashed"]:
        lines.append(f"Kept hashed: the opt-out from {scope} (messages to the number from it stay blocked).")
    lines.append(str(report["redis_files"]))
    return lines


def render_summary(summary: SyncSummary) -> list[str]:
    """The end-of-run report."""
    resumed = "; continued a stopped run" if summary.resumed else ""
    pages = f"{summary.pages} page" + ("" if summary.pages == 1 else "s")
    sender_ids = (
        f" (of them {summary.sender_ids} sender ids from bridge_identity)" if summary.sender_ids else ""
    )
    kept = (
        f" ({summary.kept_unseen} name a contact not listed with that number: kept)"
        if summary.kept_unseen
        else ""
    )
    return [
        f"Contacts read:                 {summary.contacts_read} ({pages}{resumed})",
        f"Numbers mapped:                {summary.mapped + summary.repointed}{sender_ids}",
        f"  of them re-pointed:          {summary.repointed} (to a contact the winner rule prefers)",
        f"Numbers already mapped:        {summary.already_mapped}{kept}",
        f"Numbers with several contacts: {summary.ambiguous} ({PRIORITY_TEXT[summary.priority]}: "
        f"BRIDGE_CONTACT_PRIORITY={summary.priority.value})",
        f"Phones that could not be read: {summary.unreadable_phones}",
    ]


def _stopped(exc: BaseException, progress: SyncProgress | None) -> None:
    """Say where a stopped run is and how to go on, then exit."""
    interrupted = isinstance(exc, KeyboardInterrupt)
    if not interrupted:
        click.echo(f"bridge: {exc}", err=True)
    if progress is not None and progress.pages:
        click.echo(
            f"Stopped after page {progress.pages} ({progress.contacts_read} contacts read). "
            "Run `bridge contacts sync` again to continue from there, or with --restart to start over.",
            err=True,
        )
    elif progress is not None:
        click.echo("Stopped before the first page was read.", err=True)
    if isinstance(exc, IntercomRejected) and exc.status == 400 and progress is not None and progress.cursor:
        click.echo("If Intercom no longer accepts the saved position, run with --restart.", err=True)
    sys.exit(130 if interrupted else 2)


@dataclass
class _ProgressDisplay:
    """A progress bar on a terminal (total from Intercom's `total_count`), else a counter line a page."""

    bar: ProgressBar[int] | None = None
    shown: int = 0

    def update(self, progress: SyncProgress) -> None:
        interactive = sys.stdout.isatty() and progress.total_count is not None
        if not interactive:
            total = f" of {progress.total_count}" if progress.total_count is not None else ""
            click.echo(f"page {progress.pages}: {progress.contacts_read}{total} contacts read")
            return
        if self.bar is None:
            self.bar = click.progressbar(length=progress.total_count, label="Reading contacts", show_pos=True)
        self.bar.update(progress.contacts_read - self.shown)
        self.shown = progress.contacts_read

    def close(self) -> None:
        if self.bar is not None:
            self.bar.render_finish()
            self.bar = None
