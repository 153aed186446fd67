"""`bridge doctor`: whether this bridge can work, as a readable pass/fail report.

Every check is a function returning `CheckResult`s, with its effects passed in (settings, a Redis
client factory, an `IntercomClient`, an `httpx.Client`), so tests run each against real
services or scripted ones. `run_checks` runs them all in the order a person fixes things
(settings, Redis and what it makes durable, Intercom, providers, public URL); `render` prints the report.

A failure (✗) means something the bridge needs does not work: a missing required setting,
Redis or Intercom unreachable or refusing, a provider refusing its credentials, a public URL
that does not answer. A warning (⚠) is something recommended (a setting, Redis persistence,
HTTPS). A dash (–) is a line that was not checked: a provider that is off, or a check that
depends on a setting reported missing above. Every line names the variable to fix. Reports never
carry a secret or a full phone number: each line is scrubbed of every configured secret and
passed through `bridge.core.logs.mask` before it leaves `run_checks`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis
from redis import Redis

from bridge.core.errors import (
    ConfigurationError,
    IntercomRejected,
    NotDurable,
    ProviderRejected,
    RetryableError,
)
from bridge.core.logs import mask, secret_values
from bridge.core.pseudonyms import Pseudonyms
from bridge.core.settings import Settings, env_name
from bridge.core.signature_modes import log_only_providers
from bridge.infra import keys
from bridge.infra.connection import URL_FILE, safe_url
from bridge.infra.durability import Durability, RedisDurability, ack_after, confirm_once, redis_durability
from bridge.intercom.client import API_VERSION, IntercomClient
from bridge.providers.base import ProviderAdapter


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # not checked: the provider is off, or what the check needs is reported missing


MARKS: dict[Status, str] = {Status.OK: "✓", Status.WARN: "⚠", Status.FAIL: "✗", Status.SKIP: "–"}


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: what was checked, how it went, and what to do about it."""

    name: str
    status: Status
    detail: str
    hint: str | None = None


def _ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.OK, detail)


def _warn(name: str, detail: str, hint: str | None = None) -> CheckResult:
    return CheckResult(name, Status.WARN, detail, hint)


def _fail(name: str, detail: str, hint: str | None = None) -> CheckResult:
    return CheckResult(name, Status.FAIL, detail, hint)


def _skip(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.SKIP, detail)


RedisFactory = Callable[[str], Redis]

# Settings the bridge works without, and what is missing until they are set (`{}`: the variable).
RECOMMENDED: tuple[tuple[str, str], ...] = (
    (
        "public_url",
        "set {} to the HTTPS address providers call: needed behind a proxy or load balancer (signed "
        "URLs are rebuilt from it) and to link an attachment Intercom cannot take as a file",
    ),
    (
        "intercom_client_secret",
        "set {} to the Intercom app's client secret: agents' replies (Intercom's signed webhooks) "
        "and the inbox app are off without it",
    ),
    ("admin_token", "set {} to a long random token to turn on the ops API (/admin/…)"),
)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


# --- settings ---


def check_settings(settings: Settings, adapters: Iterable[ProviderAdapter]) -> list[CheckResult]:
    """The settings a working bridge needs, the recommended ones, and which providers are on."""
    results = [_required_token(settings)]
    adapters = list(adapters)
    enabled = [adapter.name for adapter in adapters if adapter.disabled_reason(settings) is None]
    if enabled:
        detail = f"{len(enabled)} of {len(adapters)} enabled: {', '.join(enabled)}"
        results.append(_ok("providers", detail))
    else:
        results.append(
            _fail(
                "providers",
                "none is enabled: a provider is on when its verifying secret is set",
                "set the verifying secret of each provider you use (its line below names it)",
            )
        )
    logging_only = log_only_providers(settings)
    if logging_only:
        results.append(
            _warn(
                env_name("signature_modes"),
                f"log-only for {', '.join(logging_only)}: webhooks whose signature fails are processed",
                "anyone who knows the URL can post messages as any sender: set it back to enforce "
                "(or unset it) once the logs show no `signature does not verify` warnings",
            )
        )
    for field, hint in RECOMMENDED:
        variable = env_name(field)
        if getattr(settings, field) is None:
            results.append(_warn(variable, "not set", hint.format(variable)))
        else:
            results.append(_ok(variable, "set"))
    return results


def _required_token(settings: Settings) -> CheckResult:
    name = env_name("intercom_access_token")
    if settings.intercom_access_token is None:
        return _fail(
            name,
            "not set: the bridge cannot reach Intercom",
            f"set {name} to the access token of your Intercom app (Developer Hub > your app > "
            "Authentication)",
        )
    return _ok(name, "set")


# --- Redis ---


def check_redis(settings: Settings, connect: RedisFactory) -> list[CheckResult]:
    """`REDIS_URL` answers PING (or the embedded server under `BRIDGE_DATA_DIR`, when running),
    and keeps an append-only file."""
    if settings.redis_url:
        where, url = "REDIS_URL", settings.redis_url
    else:
        url_file = settings.data_dir / URL_FILE
        url = url_file.read_text().strip() if url_file.exists() else ""
        where = f"embedded Valkey under {settings.data_dir}"
        if not url:
            return [_embedded_not_running(settings)]
    try:
        client = connect(url)
    except ValueError as exc:  # not a redis:// (rediss://, unix://) URL at all
        return [
            _fail(
                "redis",
                f"{where} is not a Redis URL: {exc}",
                "set REDIS_URL to e.g. redis://redis.internal:6379/0",
            )
        ]
    try:
        try:
            client.ping()
        except redis.RedisError as exc:
            if not settings.redis_url:  # a URL left by an embedded server that has stopped
                return [_embedded_not_running(settings)]
            return [
                _fail(
                    "redis",
                    f"REDIS_URL {safe_url(url)} does not answer PING: {_error(exc)}",
                    "start that Redis or correct REDIS_URL (unset, `bridge run` starts an embedded one)",
                )
            ]
        return [
            _ok("redis", f"{where} ({safe_url(url)}) answers PING"),
            _persistence(client),
        ]
    finally:
        client.close()


def _embedded_not_running(settings: Settings) -> CheckResult:
    return _ok(
        "redis",
        f"REDIS_URL is not set: the embedded default, which `bridge run` starts under "
        f"{settings.data_dir} with its append-only file on (not running now); fine for one machine",
    )


def _persistence(client: Redis) -> CheckResult:
    try:
        setting = _appendonly(client)
    except redis.RedisError as exc:
        return _warn(
            "redis persistence",
            f"cannot tell whether appendonly is on: {_error(exc)}",
            "make sure this Redis keeps an append-only file (appendonly yes)",
        )
    if setting == "yes":
        return _ok("redis persistence", "appendonly yes")
    return _warn(
        "redis persistence",
        f"appendonly {setting}: messages queued and not yet delivered would be lost on a restart",
        "turn the append-only file on: `appendonly yes` in its configuration (or the managed "
        "Redis's persistence option)",
    )


def _appendonly(client: Redis) -> str:
    """`CONFIG GET appendonly`; managed services that refuse CONFIG still answer INFO."""
    try:
        answer: dict[Any, Any] = client.config_get("appendonly")
        value = answer.get("appendonly", answer.get(b"appendonly"))
    except redis.ResponseError:
        info: dict[str, Any] = client.info("persistence")
        value = "yes" if str(info.get("aof_enabled")) == "1" else "no"
    return value.decode() if isinstance(value, bytes) else str(value)


# --- durability ---


def check_durability(settings: Settings, connect: RedisFactory) -> list[CheckResult]:
    """What the configured Redis offers `BRIDGE_ACK_AFTER` (its version, append-only file and
    fsync policy, replicas online), and for `fsync` or `replica` one durable write made as the
    web process makes it: a failure when the setting cannot be met, since every webhook would
    then be answered 503."""
    name = env_name("ack_after")
    mode = ack_after(settings, embedded=not settings.redis_url)
    url = settings.redis_url or _embedded_url(settings)
    if not url:
        return [_skip(name, f"{mode}: not checked, the embedded server is not running")]
    client = connect(url)
    try:
        try:
            offered = redis_durability(client)
        except redis.RedisError as exc:
            return [_skip(name, f"{mode}: not checked, Redis could not be asked: {_error(exc)}")]
        durability = Durability.required(settings, embedded=not settings.redis_url)
        if durability is None:
            return [_ok(name, f"write: acknowledged once Redis holds it in memory; {_offers(offered)}")]
        return [_durable(name, durability, offered, client)]
    finally:
        client.close()


def check_forget_key(settings: Settings, connect: RedisFactory) -> list[CheckResult]:
    """Whether this process holds the key forgotten customers' opt-outs are hashed with
    (`bridge.core.pseudonyms`): without it, every consent check refuses, so nothing is sent."""
    name = env_name("forget_secret")
    url = settings.redis_url or _embedded_url(settings)
    if not url:
        return [_skip(name, "not checked, the embedded server is not running")]
    client = connect(url)
    try:
        recorded = client.get(keys.FORGET_KEY_ID)
    except redis.RedisError as exc:
        return [_skip(name, f"not checked, Redis could not be asked: {_error(exc)}")]
    finally:
        client.close()
    if recorded is None:
        return [_ok(name, "nobody has been forgotten yet: no key needed")]
    recorded_id = recorded.decode() if isinstance(recorded, bytes) else str(recorded)
    mine = Pseudonyms.configured(settings)
    if mine is not None and mine.key_id == recorded_id:
        return [_ok(name, "this process holds the key forgotten customers' opt-outs are hashed with")]
    return [
        _fail(
            name,
            "forgotten customers' opt-outs are hashed with a key this process does not have: "
            "every consent check refuses, and nothing is sent",
            f"set {name} to the same value on every machine (or share BRIDGE_DATA_DIR/forget.key)",
        )
    ]


def _embedded_url(settings: Settings) -> str:
    url_file = settings.data_dir / URL_FILE
    return url_file.read_text().strip() if url_file.exists() else ""


def _offers(offered: RedisDurability) -> str:
    """What the other modes would find on this Redis."""
    fsync = "fsync possible" if offered.has_waitaof and offered.appendonly else "fsync not possible"
    if offered.appendonly:
        fsync += f" (appendonly yes, appendfsync {offered.appendfsync or 'unknown'})"
    else:
        fsync += " (appendonly no)"
    replicas = f"{offered.replicas_online} replica{'s' if offered.replicas_online != 1 else ''} online"
    return f"{offered.server}: {fsync}; {replicas}"


def _durable(name: str, durability: Durability, offered: RedisDurability, client: Redis) -> CheckResult:
    mode, server = durability.after, offered.server
    other = "write" if mode == "replica" else "write (or replica, with a replica attached)"
    if offered.role != "master":
        return _fail(
            name,
            f"{mode}: {server} is a replica (role {offered.role}); the bridge must write to the primary",
            "point REDIS_URL at the primary",
        )
    if mode == "fsync" and not offered.has_waitaof:
        return _fail(
            name,
            f"fsync needs WAITAOF (Redis or Valkey 7.2 and later); {server} has none: every webhook "
            "would be answered 503",
            f"upgrade Redis, or set {name}={other}",
        )
    if mode == "fsync" and not offered.appendonly:
        return _fail(
            name,
            f"fsync needs the append-only file; {server} has appendonly no: every webhook would be "
            "answered 503",
            f"turn it on (appendonly yes, appendfsync always), or set {name}={other}",
        )
    if mode == "replica" and offered.replicas_online == 0:
        return _fail(
            name,
            f"replica needs a replica online; {server} has none (INFO replication): every webhook "
            "would be answered 503",
            f"attach a replica to this primary (replicaof), or set {name}=fsync or write",
        )
    try:
        took = confirm_once(client, durability)
    except (NotDurable, redis.RedisError) as exc:
        hint = (
            "appendfsync no never confirms an fsync: set appendfsync always"
            if mode == "fsync"
            else "check the replicas' link and lag (INFO replication)"
        )
        return _fail(name, f"{mode}: {exc}", hint)
    if mode == "replica":
        online = f"{offered.replicas_online} replica{'s' if offered.replicas_online != 1 else ''} online"
        return _ok(
            name,
            f"replica: WAIT confirmed by a replica in {took:.1f} ms ({server}, {online}, "
            f"timeout {durability.timeout_ms} ms)",
        )
    if offered.appendfsync != "always":
        return _warn(
            name,
            f"fsync: WAITAOF answered in {took:.1f} ms ({server}), but appendfsync is "
            f"{offered.appendfsync or 'unknown (CONFIG refused)'}: with everysec the disk is written once "
            "a second, and some servers confirm WAITAOF before that fsync (Valkey 9.1.2 does; Redis "
            "before redis/redis#13793)",
            "set appendfsync always on this Redis: each write is fsynced before Redis answers it, "
            "and WAITAOF confirms what is on disk",
        )
    return _ok(
        name,
        f"fsync: WAITAOF confirmed the fsync in {took:.1f} ms ({server}, appendfsync always, "
        f"timeout {durability.timeout_ms} ms)",
    )


# --- Intercom ---


def check_intercom(settings: Settings, intercom: IntercomClient | None) -> CheckResult:
    """`GET /me` with the access token: whose token, which workspace."""
    token = env_name("intercom_access_token")
    if intercom is None:
        return _skip("intercom", f"not checked: {token} is not set")
    try:
        me = intercom.me()
    except IntercomRejected as exc:
        if exc.status == 401:
            return _fail(
                "intercom",
                f"{token} was refused (401 {exc.code}: {exc.message or 'unauthorized'})",
                f"copy the access token again from the app's Authentication page in the Developer Hub; "
                f"for an EU or AU workspace also set {env_name('intercom_api_url')}",
            )
        return _fail(
            "intercom",
            f"Intercom answered {exc.status} {exc.code} to GET /me: {exc.message}",
            f"check the app {token} belongs to in the Developer Hub",
        )
    except RetryableError as exc:
        return _fail(
            "intercom",
            f"Intercom could not be asked: {exc}",
            f"check {env_name('intercom_api_url')} ({settings.intercom_api_url}) and the network",
        )
    found = me.get("app")
    app: dict[str, Any] = found if isinstance(found, dict) else {}
    workspace = ", ".join(str(app[key]) for key in ("id_code", "region") if app.get(key))
    detail = (
        f"GET /me: admin {me.get('name') or '?'} ({me.get('id') or '?'}), "
        f"workspace {app.get('name') or '?'}" + (f" ({workspace})" if workspace else "")
    )
    return _ok("intercom", f"{detail}; Intercom-Version {API_VERSION} pinned")


def check_routes(settings: Settings, intercom: IntercomClient | None) -> list[CheckResult]:
    """Each team and teammate `BRIDGE_ROUTES` assigns conversations to exists in the workspace
    (`GET /teams`, `GET /admins`: one call each, whatever the number of routes). Routes that do
    not parse never get here: the settings refuse them at start, naming the variable. No line
    when there are none: Intercom's own assignment has every conversation."""
    name = env_name("routes")
    if not settings.routes:
        return []
    if intercom is None:
        return [_skip(name, f"not checked: {env_name('intercom_access_token')} is not set")]
    kinds = {kind for kind, _ in settings.routes.values()}
    try:
        names = {
            "team": _names(intercom.teams()) if "team" in kinds else {},
            "admin": _names(intercom.admins()) if "admin" in kinds else {},
        }
    except (IntercomRejected, RetryableError) as exc:
        return [_fail(name, f"the teams and teammates could not be listed: {exc}", "see the intercom line")]
    routes = sorted(settings.routes.items())
    missing = [
        f"{kind} {ident} (for {address})" for address, (kind, ident) in routes if ident not in names[kind]
    ]
    if missing:
        return [
            _fail(
                name,
                f"not in this workspace: {', '.join(missing)}",
                f"correct {name} with ids from Intercom (Settings > Teammates, Teams; or GET /teams, "
                "GET /admins): conversations for those numbers would be left unassigned",
            )
        ]
    found = [f"{address} → {kind} {names[kind][ident] or ident}" for address, (kind, ident) in routes]
    return [_ok(name, f"{len(found)} route{'s' if len(found) != 1 else ''}: {', '.join(found)}")]


def _names(items: list[dict[str, Any]]) -> dict[str, str]:
    """Teams or admins by id: their names."""
    return {str(item.get("id")): str(item.get("name") or "") for item in items}


# --- providers ---


def check_provider(adapter: ProviderAdapter, settings: Settings, http: httpx.Client) -> CheckResult:
    """An enabled provider's API credentials, with the cheapest authenticated read its API offers;
    a provider that is off is listed with the reason."""
    reason = adapter.disabled_reason(settings)
    if reason is not None:
        return _skip(adapter.name, f"off: {reason}")
    check = adapter.credential_check
    if check is None:
        return _warn(adapter.name, "on, but the bridge has no credential check for it")
    credentials = " and ".join(env_name(field) for field in check.credentials)
    api_url = env_name(check.api_url)
    try:
        account = adapter.check_credentials(settings, http)
    except ConfigurationError as exc:
        return _fail(
            adapter.name,
            f"{exc}: replies cannot be sent",
            f"set {credentials} (the API credentials in the provider's console)",
        )
    except ProviderRejected as exc:
        # Twilio's code is its own; TextMagic's repeats the HTTP status, said once.
        answer = " ".join(dict.fromkeys(part for part in (str(exc.status or ""), exc.code or "") if part))
        return _fail(
            adapter.name,
            f"{check.request} refused{' (' + answer + ')' if answer else ''}: {exc.message}",
            f"check {credentials} (and {api_url}: {getattr(settings, check.api_url)})",
        )
    except RetryableError as exc:
        return _fail(
            adapter.name,
            f"could not ask {check.request}: {exc}",
            f"check {api_url} ({getattr(settings, check.api_url)}) and the network",
        )
    return _ok(adapter.name, f"{check.request}: {account}")


# --- the public URL ---


def check_public_url(settings: Settings, http: httpx.Client) -> CheckResult:
    """`GET {BRIDGE_PUBLIC_URL}/healthz` answers 200, over HTTPS unless it is this machine."""
    variable = env_name("public_url")
    url = settings.public_url
    if not url:
        return _skip("public URL", f"not checked: {variable} is not set")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _fail(
            "public URL",
            f"{variable} is not an http(s) URL: {url}",
            f"set {variable} to e.g. https://bridge.example.com",
        )
    health = url.rstrip("/") + "/healthz"
    try:
        response = http.get(health)
    except httpx.HTTPError as exc:
        return _fail(
            "public URL",
            f"GET {health} failed: {_error(exc)}",
            f"start the bridge (`bridge run`) or correct {variable}: providers call the bridge there",
        )
    if response.status_code != 200:
        return _fail(
            "public URL",
            f"GET {health} answered {response.status_code} {response.reason_phrase}",
            f"point {variable} at the bridge itself: its /healthz answers 200",
        )
    if parts.hostname in LOOPBACK_HOSTS:
        return _ok("public URL", f"GET {health} answered 200 (this machine only: fine for the sandbox)")
    if parts.scheme == "http":
        return _warn(
            "public URL",
            f"GET {health} answered 200, over plain http",
            f"serve the bridge over HTTPS (TLS in front of it) and set {variable} to the https:// address",
        )
    return _ok(
        "public URL",
        f"GET {health} answered 200 from here; providers and Intercom must reach it from the internet too",
    )


# --- all of them ---


def run_checks(
    settings: Settings,
    *,
    redis_factory: RedisFactory,
    intercom: IntercomClient | None,
    http: httpx.Client,
    adapters: Iterable[ProviderAdapter],
) -> list[CheckResult]:
    """Every check, in the order a person fixes things; secrets and phone numbers scrubbed."""
    adapters = list(adapters)
    results: list[CheckResult] = []
    results += _guarded("settings", lambda: check_settings(settings, adapters))
    results += _guarded("redis", lambda: check_redis(settings, redis_factory))
    results += _guarded(env_name("ack_after"), lambda: check_durability(settings, redis_factory))
    results += _guarded(env_name("forget_secret"), lambda: check_forget_key(settings, redis_factory))
    results += _guarded("intercom", lambda: [check_intercom(settings, intercom)])
    results += _guarded(env_name("routes"), lambda: check_routes(settings, intercom))
    for adapter in adapters:
        results += _guarded(adapter.name, partial(_provider_lines, adapter, settings, http))
    results += _guarded("public URL", lambda: [check_public_url(settings, http)])
    secrets = sorted({s for s in secret_values(settings) if len(s) >= 4}, key=len, reverse=True)
    return [_scrubbed(result, secrets) for result in results]


def _provider_lines(adapter: ProviderAdapter, settings: Settings, http: httpx.Client) -> list[CheckResult]:
    return [check_provider(adapter, settings, http)]


def _guarded(name: str, check: Callable[[], list[CheckResult]]) -> list[CheckResult]:
    """A check that breaks is one failed line, not a traceback that hides the other checks."""
    try:
        return check()
    except Exception as exc:  # the doctor reports whatever goes wrong; it never crashes on it
        return [_fail(name, f"the check itself failed: {_error(exc)}")]


def _scrubbed(result: CheckResult, secrets: list[str]) -> CheckResult:
    def clean(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return mask(text)

    hint = clean(result.hint) if result.hint is not None else None
    return replace(result, name=clean(result.name), detail=clean(result.detail), hint=hint)


def _error(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- the report ---


def failed(results: Iterable[CheckResult]) -> bool:
    """Whether any check failed (the command then exits 1)."""
    return any(result.status is Status.FAIL for result in results)


def render(results: list[CheckResult]) -> str:
    """The report: one line per check (mark, name, detail), what to do under each failure or
    warning, and a summary line."""
    width = max((len(result.name) for result in results), default=0)
    lines = ["bridge doctor", ""]
    for result in results:
        lines.append(f"  {MARKS[result.status]} {result.name.ljust(width)}  {result.detail}")
        if result.hint and result.status in (Status.FAIL, Status.WARN):
            lines.append(f"    {' ' * width}  → {result.hint}")
    counts = {status: sum(1 for r in results if r.status is status) for status in Status}
    summary = (
        f"{counts[Status.OK]} ok, {counts[Status.WARN]} warning{'s' if counts[Status.WARN] != 1 else ''}, "
        f"{counts[Status.FAIL]} failed, {counts[Status.SKIP]} not checked"
    )
    if failed(results):
        names = ", ".join(result.name for result in results if result.status is Status.FAIL)
        summary += f": fix {names} (the ✗ lines) before the bridge can work"
    else:
        summary += ": nothing failed, the bridge can work"
    return "\n".join([*lines, "", summary]) + "\n"
