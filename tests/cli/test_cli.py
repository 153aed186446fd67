"""The `bridge` command as a new user meets it: the README's commands, and clear messages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from bridge.dev.sandbox.credentials import stored_sandbox_credentials
from bridge.runtime.embedded import PASSWORD_FILE
from bridge.runtime.serving import free_port

BRIDGE = [sys.executable, "-m", "bridge"]


def clean_env(tmp_path: Path) -> dict[str, str]:
    """A new user's environment: nothing of the bridge's configured."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BRIDGE_", "REDIS_", "INTERCOM_", "TWILIO_"))
    }
    env["BRIDGE_DATA_DIR"] = str(tmp_path / ".bridge")
    return env


def bridge_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `bridge ARGS` as a new user would, in an empty directory with nothing configured."""
    return subprocess.run(
        [*BRIDGE, *args], env=clean_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def test_the_console_script_is_bridge():
    from importlib.metadata import entry_points

    [script] = [ep for ep in entry_points(group="console_scripts") if ep.name == "bridge"]
    assert script.value == "bridge.cli.main:main"


def test_a_worker_without_an_intercom_token_says_which_variable_is_missing(tmp_path):
    result = bridge_cli(tmp_path, "worker", "--burst")
    assert result.returncode == 2
    assert "INTERCOM_ACCESS_TOKEN is not set" in result.stderr


def test_run_without_the_sandbox_needs_an_intercom_token(tmp_path):
    result = bridge_cli(tmp_path, "run")
    assert result.returncode == 2
    assert "INTERCOM_ACCESS_TOKEN is not set" in result.stderr


def test_simulate_refuses_an_unknown_provider(tmp_path):
    result = bridge_cli(tmp_path, "simulate", "pigeon", "--from", "+1", "--to", "+2")
    assert result.returncode == 2
    assert "twilio" in result.stderr


@pytest.mark.slow
def test_run_with_the_sandbox_then_simulate_shows_the_conversation_and_ctrl_c_stops_everything(tmp_path):
    env = clean_env(tmp_path)
    port, sandbox_port, standins_port = free_port(), free_port(), free_port()
    run = subprocess.Popen(
        [
            *BRIDGE,
            "run",
            "--sandbox",
            "--port",
            str(port),
            "--sandbox-port",
            str(sandbox_port),
            "--standins-port",
            str(standins_port),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = _read_until(run, "Press Ctrl-C to stop.", timeout=60)
        assert f"http://127.0.0.1:{sandbox_port}" in banner

        # No secret on any command line (`ps` shows them to every local user): the sandbox gets its
        # token through the environment, and so refuses any other.
        data_dir = tmp_path / ".bridge"
        secrets = [
            *stored_sandbox_credentials(data_dir).values(),
            (data_dir / PASSWORD_FILE).read_text().strip(),
        ]
        secrets = [secret for secret in secrets if len(secret) >= 16]
        command_lines = _command_lines(run.pid)
        assert any("sandbox" in line for line in command_lines) and len(command_lines) >= 6
        for line in command_lines:
            assert not [secret for secret in secrets if secret in line], line
        wrong = httpx.get(f"http://127.0.0.1:{sandbox_port}/me", headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401

        simulate = subprocess.run(
            [
                *BRIDGE,
                "simulate",
                "twilio",
                "--from",
                "+14155550123",
                "--to",
                "+14155550100",
                "--text",
                "Hello from the README",
                "--url",
                f"http://127.0.0.1:{port}",
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert simulate.returncode == 0, simulate.stdout + simulate.stderr
        assert simulate.stdout.startswith("200 ")
        # Acknowledged once on the embedded server's disk: its default BRIDGE_ACK_AFTER is fsync.
        embedded = redis.Redis.from_url((data_dir / "redis.url").read_text().strip())
        assert embedded.config_get("appendfsync") == {"appendfsync": "always"}
        assert int(embedded.info("commandstats")["cmdstat_waitaof"]["calls"]) >= 1
        embedded.close()

        conversation = _wait_for_conversation(f"http://127.0.0.1:{sandbox_port}")
        assert conversation["source"]["body"] == "Hello from the README"
        page = httpx.get(f"http://127.0.0.1:{sandbox_port}/").text
        assert "Hello from the README" in page

        # The agent replies in the sandbox's page; the SMS goes out through the provider stand-in.
        reply = httpx.post(
            f"http://127.0.0.1:{sandbox_port}/_sandbox/ui/conversations/{conversation['id']}/reply",
            json={"body": "Hi! How can we help?"},
        )
        assert reply.status_code in (200, 303)
        [sent] = _wait_for_sends(f"http://127.0.0.1:{standins_port}")
        assert (sent["provider"], sent["to"], sent["sender"], sent["text"]) == (
            "twilio",
            "+14155550123",
            "+14155550100",
            "Hi! How can we help?",
        )

        # Another terminal's command finds the run's embedded Redis, password and all.
        failed = subprocess.run(
            [*BRIDGE, "--sandbox", "jobs", "failed"], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert failed.returncode == 0, failed.stdout + failed.stderr

        redis_url = (tmp_path / ".bridge" / "redis.url").read_text().strip()
        run.send_signal(signal.SIGINT)
        assert run.wait(60) == 0
        output = banner + run.stdout.read()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        run.stdout.close()
    assert "started embedded Valkey" in output
    for secret in secrets:
        assert secret not in output  # the banner shows the Redis URL without its password
    for url in (
        f"http://127.0.0.1:{port}/healthz",
        f"http://127.0.0.1:{sandbox_port}/_sandbox/state",
        f"http://127.0.0.1:{standins_port}/_standin/sends",
    ):
        with pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=1.0)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(redis_url, socket_connect_timeout=0.5).ping()


def _command_lines(pid: int) -> list[str]:
    """The command lines of `pid`'s descendants, as `ps` shows them to any local user (Linux)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    descendants, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - descendants
        descendants |= frontier
    lines = []
    for child in descendants:
        try:
            lines.append((Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return lines


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} never appeared; output:\n{''.join(seen)}")


def _wait_for_conversation(sandbox_url: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conversations = httpx.get(f"{sandbox_url}/_sandbox/state").json()["conversations"]
        if conversations:
            return conversations[0]
        time.sleep(0.2)
    raise AssertionError("no conversation reached the sandbox")


def _wait_for_sends(standins_url: str, timeout: float = 30.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sends = httpx.get(f"{standins_url}/_standin/sends").json()
        if sends:
            return sends
        time.sleep(0.2)
    raise AssertionError("nothing was sent to the customer")
