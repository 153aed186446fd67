"""`bridge doctor`: builds the real dependencies, runs `bridge.ops.doctor`'s checks, prints the report.

Exit status 0 when nothing failed (warnings allowed), 1 otherwise. `bridge --sandbox doctor`
checks the bridge a `bridge run --sandbox` runs (see `runner.last_sandbox_environment`).
Heavy imports wait inside the command, as in `bridge.cli.main`: every `bridge` invocation loads this.
"""

from __future__ import annotations

import sys

import click


@click.command()
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for each answer.")
def doctor(timeout: float) -> None:
    """Check settings, Redis, Intercom, each provider's credentials and the public URL."""
    import httpx

    from bridge.core.retrying import RetryPolicy
    from bridge.core.settings import get_settings
    from bridge.infra.connection import redis_client
    from bridge.intercom.client import IntercomClient
    from bridge.ops.doctor import failed, render, run_checks
    from bridge.providers.registry import ADAPTERS

    settings = get_settings()
    # One quick retry, and no long wait for a rate-limit window: someone is watching. Outside the
    # shared call budget: one call, and the Intercom check must not depend on the Redis check.
    policy = RetryPolicy(max_attempts=2, backoff=0.2, max_wait=2.0)
    intercom = (
        IntercomClient.from_settings(settings, redis_client=None, policy=policy)
        if settings.intercom_access_token is not None
        else None
    )
    try:
        with httpx.Client(timeout=timeout) as http:
            results = run_checks(
                settings,
                redis_factory=lambda url: redis_client(url, timeout=min(timeout, 3.0)),
                intercom=intercom,
                http=http,
                adapters=ADAPTERS.values(),
            )
    finally:
        if intercom is not None:
            intercom.close()
    click.echo(render(results), nl=False)
    sys.exit(1 if failed(results) else 0)
