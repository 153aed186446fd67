"""The `bridge` command. Each subcommand parses its options and calls one function elsewhere."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from pydantic import ValidationError

from bridge.cli.consent import consent
from bridge.cli.contacts import contacts
from bridge.cli.doctor import doctor
from bridge.cli.jobs import jobs
from bridge.cli.outreach import send, templates
from bridge.core.errors import BridgeError, ConfigurationError
from bridge.core.logs import configure_logging, secret_values
from bridge.core.settings import Settings, describe_invalid, get_settings, reset_settings_cache


@contextmanager
def _friendly_errors() -> Iterator[None]:
    """A missing setting or an unreachable service is a message and exit status 2, not a traceback."""
    try:
        yield
    except BridgeError as exc:
        click.echo(f"bridge: {exc}", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
@click.option(
    "--sandbox",
    "use_sandbox",
    is_flag=True,
    help="Talk to the running `bridge run --sandbox` (its sandbox, stand-ins and credentials).",
)
def main(verbose: bool, use_sandbox: bool) -> None:
    """SMS and WhatsApp providers <-> Intercom conversations."""
    try:
        settings = get_settings()
        if use_sandbox:
            with _friendly_errors():
                settings = _point_at_sandbox_run(settings)
    except ValidationError as exc:
        for line in describe_invalid(exc):
            click.echo(f"bridge: invalid setting {line}", err=True)
        sys.exit(2)
    configure_logging(
        level=logging.DEBUG if verbose else logging.INFO,
        secrets=secret_values(settings),
        log_format=settings.log_format,
    )


def _point_at_sandbox_run(settings: Settings) -> Settings:
    """This process's settings pointed at the last `bridge run --sandbox` (its Redis, sandbox,
    stand-ins and credentials); ConfigurationError when none has used the data dir."""
    from bridge.runtime.supervisor import last_sandbox_environment

    os.environ.update(last_sandbox_environment(settings.data_dir, os.environ))
    reset_settings_cache()
    return get_settings()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface for the web server.")
@click.option("--port", default=8000, show_default=True, help="Port for the web server.")
@click.option("--workers", default=2, show_default=True, help="Worker processes.")
@click.option("--sandbox", is_flag=True, help="Also start the Intercom sandbox and point the bridge at it.")
@click.option("--sandbox-port", default=8001, show_default=True, help="Port for the sandbox.")
@click.option("--standins-port", default=8002, show_default=True, help="Port for the provider stand-ins.")
def run(host: str, port: int, workers: int, sandbox: bool, sandbox_port: int, standins_port: int) -> None:
    """Run web server, workers and (without REDIS_URL) an embedded Redis, in one command."""
    from bridge.runtime.supervisor import RunOptions
    from bridge.runtime.supervisor import run as run_all

    options = RunOptions(
        host=host,
        port=port,
        workers=workers,
        sandbox=sandbox,
        sandbox_port=sandbox_port,
        standins_port=standins_port,
    )
    with _friendly_errors():
        sys.exit(run_all(get_settings(), options, say=click.echo))


@main.command()
@click.option("--burst", is_flag=True, help="Drain the queues, then exit.")
@click.option(
    "--concurrency",
    type=click.IntRange(0, 256),
    default=None,
    help="Jobs in flight in this process, each in a thread (default: BRIDGE_WORKER_CONCURRENCY); "
    "0 runs RQ's forking worker, one process per job.",
)
def worker(burst: bool, concurrency: int | None) -> None:
    """Run a worker for the bridge's queues."""
    from bridge.infra.connection import redis_client
    from bridge.runtime.embedded import redis_url
    from workers.runner import Outcome, restart_process, run_worker

    settings = get_settings()
    in_flight = settings.worker_concurrency if concurrency is None else concurrency
    with _friendly_errors():
        settings.require("intercom_access_token")
        with redis_url(settings) as url:
            client = redis_client(url, timeout=30.0, wait_out_outages=True)
            outcome = run_worker(client, burst=burst, concurrency=in_flight)
    if outcome is not Outcome.DONE:
        restart_process()  # a recycled process: the same command afresh, after the embedded Redis stopped


# The dev tools answer only requests addressed to 127.0.0.1, localhost or [::1] (bridge.dev.devtools);
# reached under another name (a container's service name), they must be told it.
_allow_host = click.option(
    "--allow-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests addressed to NAME (repeatable); loopback names always are.",
)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True)
# Secrets from the environment: a command line is visible to every local user (`ps`).
@click.option(
    "--token",
    envvar="BRIDGE_SANDBOX_TOKEN",
    show_envvar=True,
    default=None,
    help="Accept only this Bearer token (default: any). Prefer the variable: `ps` shows arguments.",
)
@click.option(
    "--webhook-url", default=None, help="Send Intercom-style webhooks here (the bridge's /intercom/webhooks)."
)
@click.option(
    "--client-secret",
    envvar="BRIDGE_SANDBOX_CLIENT_SECRET",
    show_envvar=True,
    default=None,
    help="Sign those webhooks with this secret (the bridge's INTERCOM_CLIENT_SECRET).",
)
@_allow_host
def sandbox(
    host: str,
    port: int,
    token: str | None,
    webhook_url: str | None,
    client_secret: str | None,
    allowed_hosts: tuple[str, ...],
) -> None:
    """Run the Intercom sandbox: an in-memory stand-in for Intercom's REST API."""
    import uvicorn

    from bridge.dev.sandbox import Workspace, create_sandbox_app

    workspace = Workspace(token=token, webhook_url=webhook_url, client_secret=client_secret)
    app = create_sandbox_app(workspace, allowed_hosts=allowed_hosts)
    click.echo(f"Intercom sandbox on http://{host}:{port} (open it in a browser to see the workspace)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8002, show_default=True)
@_allow_host
def standins(host: str, port: int, allowed_hosts: tuple[str, ...]) -> None:
    """Run stand-ins for the providers' APIs (sends, media), with the credentials in the environment."""
    import uvicorn

    from bridge.dev.standins import StandInState, create_standin_app

    settings = get_settings()

    def plain(field: str) -> str:
        value = getattr(settings, field)
        return (
            ""
            if value is None
            else value.get_secret_value()
            if hasattr(value, "get_secret_value")
            else str(value)
        )

    state = StandInState()
    for field in StandInState.credential_fields():
        setattr(state, field, plain(field))
    click.echo(f"Provider stand-ins on http://{host}:{port} (open it in a browser to see what was sent)")
    app = create_standin_app(state, allowed_hosts=allowed_hosts)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@main.command()
@click.argument("provider")
@click.option("--from", "sender", required=True, help="The customer's number, e.g. +14155550123.")
@click.option("--to", "recipient", required=True, help="The business number the customer writes to.")
@click.option("--text", default="", help="The message text.")
@click.option(
    "--media",
    multiple=True,
    metavar="URL|FILE|sample:image",
    help="An attachment (repeatable): a URL, or a file or built-in sample (sample:image, "
    "sample:document) put on the provider's stand-in of the running `bridge run --sandbox`.",
)
@click.option("--whatsapp", is_flag=True, help="Send as a WhatsApp message (where the provider has both).")
@click.option("--profile-name", default=None, help="The WhatsApp profile name.")
@click.option("--message-id", default=None, help="Reuse a provider message id (to try a redelivery).")
@click.option(
    "--url", default=None, help="The bridge's base URL (default BRIDGE_PUBLIC_URL or http://127.0.0.1:8000)."
)
def simulate(
    provider: str,
    sender: str,
    recipient: str,
    text: str,
    media: tuple[str, ...],
    whatsapp: bool,
    profile_name: str | None,
    message_id: str | None,
    url: str | None,
) -> None:
    """Post a correctly signed inbound webhook to a running bridge, as PROVIDER would."""
    import httpx

    from bridge.dev.sandbox.credentials import stored_sandbox_credentials
    from bridge.dev.simulators import SIMULATORS, SimulatedMessage
    from bridge.dev.simulators.media import hold_media, needs_standins

    simulator = SIMULATORS.get(provider)
    if simulator is None:
        raise click.BadParameter(f"one of {', '.join(sorted(SIMULATORS))}", param_hint="PROVIDER")
    settings = get_settings()
    if needs_standins(media):
        with _friendly_errors():
            settings = _sandbox_run_for_files(settings, provider, media)
    # Secrets not in the environment come from the credentials `bridge run --sandbox` generated.
    settings = settings.filled_from(stored_sandbox_credentials(settings.data_dir))
    base_url = url or settings.public_url or "http://127.0.0.1:8000"
    with _friendly_errors(), httpx.Client(timeout=30.0) as http:
        message = SimulatedMessage(
            sender=sender,
            recipient=recipient,
            text=text,
            media=hold_media(provider, media, settings, http),
            whatsapp=whatsapp,
            profile_name=profile_name,
            message_id=message_id,
        )
        request = simulator(message, base_url, settings)
        try:
            response = request.send()
        except httpx.TransportError as exc:
            click.echo(f"bridge: could not reach {request.url}: {exc}", err=True)
            sys.exit(2)
    click.echo(f"{response.status_code} {response.text}")
    sys.exit(0 if response.is_success else 1)


def _sandbox_run_for_files(settings: Settings, provider: str, media: tuple[str, ...]) -> Settings:
    """Settings pointed at the last sandbox run, whose stand-ins the bridge fetches `provider`'s
    media from: where `--media FILE` is uploaded to."""
    from bridge.dev.simulators.media import holder, without_standins

    holder(provider)  # a provider that carries no media says so first
    try:
        return _point_at_sandbox_run(settings)
    except ConfigurationError:
        reason = f"no `bridge run --sandbox` has used {settings.data_dir} (BRIDGE_DATA_DIR)"
        raise without_standins(provider, media, reason) from None


@main.group()
def merges() -> None:
    """Merges made from the inbox app."""


@merges.command("list")
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
def merges_list(limit: int) -> None:
    """Every merge attempt: when, who, from, into, outcome."""
    import datetime

    from bridge.inbox.merges import MergeAudit
    from bridge.infra.connection import redis_client
    from bridge.runtime.embedded import redis_url

    settings = get_settings()
    with _friendly_errors(), redis_url(settings) as url:
        rows = MergeAudit(redis_client(url)).recent(limit)
    if not rows:
        click.echo("No merge attempts yet.")
        return
    click.echo(f"{'when (UTC)':<19}  {'admin':<16}  {'from':<24}  {'into':<24}  outcome")
    for row in rows:
        when = datetime.datetime.fromtimestamp(row["at"], datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        admin = row["admin"].get("name") or row["admin"].get("id") or "?"
        click.echo(
            f"{when:<19}  {admin[:16]:<16}  {row['from_id'][:24]:<24}  {row['into_id'][:24]:<24}  "
            f"{row['outcome']}"
        )


main.add_command(doctor)
main.add_command(contacts)
main.add_command(jobs)
main.add_command(send)
main.add_command(consent)
main.add_command(templates)
