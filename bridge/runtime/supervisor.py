"""`bridge run`: everything on one machine in one command, stopped cleanly with Ctrl-C.

Children run in their own sessions, so the terminal's Ctrl-C reaches only this supervisor,
which then stops them in dependency order: the web server first (no new webhooks), then the
workers (each finishes its current job), then the sandbox, then the embedded Redis. Each child
also dies with the supervisor if it is killed outright.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from bridge.core.errors import ConfigurationError
from bridge.core.files import private_dir
from bridge.core.settings import Settings
from bridge.dev.sandbox.credentials import sandbox_credentials, stored_sandbox_credentials
from bridge.infra.connection import safe_url
from bridge.infra.durability import ack_after
from bridge.runtime.embedded import resolve_redis
from bridge.runtime.processes import die_with_parent

STOP_GRACE_SECONDS = 30.0
READY_TIMEOUT_SECONDS = 30.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


@dataclass(frozen=True)
class RunOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    sandbox: bool = False
    sandbox_port: int = 8001
    standins_port: int = 8002


def run(settings: Settings, options: RunOptions, *, say: Callable[[str], None]) -> int:
    """Start Redis (embedded unless `REDIS_URL`), web, workers and optionally the sandbox."""
    if not options.sandbox:
        settings.require("intercom_access_token")
    env = os.environ.copy()
    redis_url, embedded = resolve_redis(settings)
    env["REDIS_URL"] = redis_url
    if embedded is not None and settings.ack_after is None:
        # The children see a REDIS_URL, not the embedded server: its default named for them.
        env["BRIDGE_ACK_AFTER"] = ack_after(settings, embedded=True)
    children: list[Child] = []
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        sandbox_url = standins_url = None
        if options.sandbox:
            sandbox_url, standins_url = _start_sandbox(settings, options, env, children)
        # With its access log: that line is the web side's record of each webhook, and carries
        # the request id its job's lines carry (query values hidden, see bridge.core.logs).
        web = ["-m", "uvicorn", "bridge.app:app", "--host", options.host, "--port", str(options.port)]
        children.append(_spawn("web", web, env, module=False))
        for number in range(1, options.workers + 1):
            children.append(_spawn(f"worker-{number}", ["worker"], env))
        _wait_ready(f"http://{options.host}:{options.port}/readyz", children)
        say(_banner(options, redis_url, embedded is not None, sandbox_url, standins_url))
        return _supervise(children, stop, say)
    finally:
        _stop_all(children, say)
        if embedded is not None:
            embedded.stop()


def _start_sandbox(
    settings: Settings, options: RunOptions, env: dict[str, str], children: list[Child]
) -> tuple[str, str]:
    """The Intercom sandbox and the providers' stand-ins, and the environment that points the
    bridge at them: the whole loop (inbound, agent reply, send, delivery report) on one machine."""
    credentials = sandbox_credentials(settings.data_dir)
    env.update(sandbox_environment(credentials, options, os.environ))
    record_sandbox_run(settings.data_dir, options)
    sandbox_url = env["INTERCOM_API_URL"]
    standins_url = env["TWILIO_API_URL"]
    webhook_url = f"http://{options.host}:{options.port}/intercom/webhooks"
    # The secrets go in the environment, never the command line, which every local user can read.
    sandbox_secrets = {
        "BRIDGE_SANDBOX_TOKEN": credentials["INTERCOM_ACCESS_TOKEN"],
        "BRIDGE_SANDBOX_CLIENT_SECRET": credentials["INTERCOM_CLIENT_SECRET"],
    }
    sandbox_args = ["sandbox", "--port", str(options.sandbox_port), "--webhook-url", webhook_url]
    children.append(_spawn("sandbox", sandbox_args, env | sandbox_secrets))
    children.append(_spawn("standins", ["standins", "--port", str(options.standins_port)], env))
    _wait_ready(f"{sandbox_url}/_sandbox/state", children)
    _wait_ready(f"{standins_url}/_standin/sends", children)
    return sandbox_url, standins_url


def sandbox_environment(
    credentials: Mapping[str, str], options: RunOptions, environ: Mapping[str, str]
) -> dict[str, str]:
    """The variables that point a bridge process at a sandbox run: the generated credentials fill
    what `environ` leaves unset, except Intercom's token and client secret, which are always the
    sandbox's; Intercom is the sandbox, every provider API a stand-in."""
    sandbox_url = f"http://127.0.0.1:{options.sandbox_port}"
    standins_url = f"http://127.0.0.1:{options.standins_port}"
    env = {name: value for name, value in credentials.items() if not environ.get(name)}
    env["INTERCOM_API_URL"] = sandbox_url
    env["INTERCOM_ACCESS_TOKEN"] = credentials["INTERCOM_ACCESS_TOKEN"]
    env["INTERCOM_CLIENT_SECRET"] = credentials["INTERCOM_CLIENT_SECRET"]
    if not environ.get("BRIDGE_PUBLIC_URL"):
        env["BRIDGE_PUBLIC_URL"] = f"http://{options.host}:{options.port}"
    env.update(standin_urls(standins_url))
    return env


SANDBOX_RUN_FILE = "sandbox-run.json"


def record_sandbox_run(data_dir: Path, options: RunOptions) -> None:
    """Leave the run's ports in the data dir, so `bridge --sandbox COMMAND` in another terminal
    (doctor, jobs, contacts) talks to this run without repeating them."""
    private_dir(data_dir)
    (data_dir / SANDBOX_RUN_FILE).write_text(json.dumps(dataclasses.asdict(options)))


def last_sandbox_environment(data_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """`sandbox_environment` of the last `bridge run --sandbox` that used this data dir."""
    try:
        recorded = json.loads((data_dir / SANDBOX_RUN_FILE).read_text())
    except FileNotFoundError:
        raise ConfigurationError(
            f"no `bridge run --sandbox` has used {data_dir} (BRIDGE_DATA_DIR): start one first"
        ) from None
    options = RunOptions(**recorded)
    return sandbox_environment(stored_sandbox_credentials(data_dir), options, environ)


# Every provider API the bridge calls, pointed at the stand-ins in sandbox mode.
STANDIN_URL_VARIABLES = (
    "TWILIO_API_URL",
    "TWILIO_CONTENT_API_URL",
    "TWILIO_MESSAGING_API_URL",
    "MESSAGEBIRD_API_URL",
    "MESSAGEBIRD_CONVERSATIONS_API_URL",
    "VONAGE_API_URL",
    "VONAGE_MESSAGES_API_URL",
    "TEXTMAGIC_API_URL",
    "AFRICASTALKING_API_URL",
)


def standin_urls(standins_url: str) -> dict[str, str]:
    """Every provider API variable pointed at the stand-ins at `standins_url`; Meta's with the Graph
    API version in its path, as the bridge's own default carries it. The tests' stand-in fixture uses
    it too, so a provider added here is pointed at the stand-ins there as well."""
    urls = dict.fromkeys(STANDIN_URL_VARIABLES, standins_url)
    urls["WHATSAPP_API_URL"] = f"{standins_url}/v23.0"
    return urls


def _spawn(name: str, args: list[str], env: dict[str, str], *, module: bool = True) -> Child:
    command = [sys.executable, "-m", "bridge", *args] if module else [sys.executable, *args]
    process = subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=die_with_parent)
    return Child(name, process)


def _wait_ready(url: str, children: list[Child]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for child in children:
            if child.process.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited with status {child.process.returncode} while starting"
                )
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {READY_TIMEOUT_SECONDS:.0f}s")


def _supervise(children: list[Child], stop: threading.Event, say: Callable[[str], None]) -> int:
    while not stop.wait(0.2):
        for child in children:
            if child.process.poll() is not None:
                say(f"{child.name} exited with status {child.process.returncode}; stopping everything")
                return 1
    say("stopping…")
    return 0


def _stop_all(children: list[Child], say: Callable[[str], None]) -> None:
    order = ["web", "worker", "sandbox", "standins"]
    for prefix in order:
        group = [c for c in children if c.name.startswith(prefix) and c.process.poll() is None]
        for child in group:
            child.process.send_signal(signal.SIGTERM)
        for child in group:
            try:
                child.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                say(f"{child.name} did not stop within {STOP_GRACE_SECONDS:.0f}s; killing it")
                child.process.kill()
                child.process.wait()


def _banner(
    options: RunOptions, redis_url: str, embedded: bool, sandbox_url: str | None, standins_url: str | None
) -> str:
    web = f"http://{options.host}:{options.port}"
    lines = [
        "bridge is running",
        f"  webhooks  {web}/webhooks/{{provider}}   (health: {web}/healthz)",
        f"  workers   {options.workers}",
        f"  redis     {safe_url(redis_url)}{' (embedded; data in BRIDGE_DATA_DIR)' if embedded else ''}",
    ]
    if sandbox_url:
        lines += [
            f"  intercom  sandbox at {sandbox_url}  <- in a browser: conversations; reply as the agent",
            f"  providers stand-ins at {standins_url}  <- what the bridge sent to customers",
            "",
            "Try it:",
            f"  bridge simulate twilio --from +14155550123 --to +14155550100 --text 'Hello!' --url {web}",
            "  (add --media sample:image, or --media ./photo.jpg, for an MMS)",
            f"  then reply in the sandbox ({sandbox_url}) and see the SMS go out at {standins_url}",
        ]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)
