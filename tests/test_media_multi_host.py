"""Media on a deployment of several machines: two web processes and workers, each with a data
directory of its own. Every attachment reaches Intercom as a file Intercom holds, byte for byte
what the provider served, whichever process took the webhook or fetched the file; a retry on
another machine fetches the file again; an attachment too large for Intercom is linked, and served
by every web process once they share the media volume (docs/operations.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from bridge.app import create_app
from bridge.core.settings import get_settings, reset_settings_cache
from bridge.dev.simulators import SIMULATORS, SimulatedMessage
from bridge.dev.standins import StoredMedia
from bridge.runtime.serving import BackgroundServer, free_port
from tests.helpers import conversation_bodies, held_files, run_one_job, signed_twilio
from tests.intercom_openapi import conformance_problems

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PDF = b"%PDF-1.7\n" + bytes(reversed(range(256))) * 30
JPEG = b"\xff\xd8\xff\xe0" + b"a customer's photo" * 50
BUSINESS = "+14155550100"


class Deployment:
    """Machines, each with a BRIDGE_DATA_DIR of its own (`root / name`)."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self._monkeypatch = monkeypatch

    def data_dir(self, machine: str) -> Path:
        return self.root / machine

    def media(self, machine: str) -> list[Path]:
        """What the machine's media store holds."""
        directory = self.data_dir(machine) / "media"
        return sorted(directory.iterdir()) if directory.exists() else []

    def work_as(self, machine: str) -> None:
        """The in-process worker that drains the queues from now on runs on `machine`."""
        self._monkeypatch.setenv("BRIDGE_DATA_DIR", str(self.data_dir(machine)))
        reset_settings_cache()

    def share_media(self, shared: Path, *machines: str) -> None:
        """The same volume mounted at `BRIDGE_DATA_DIR/media` on each of `machines`."""
        shared.mkdir(mode=0o700, exist_ok=True)
        for machine in machines:
            self.data_dir(machine).mkdir(mode=0o700, parents=True, exist_ok=True)
            (self.data_dir(machine) / "media").symlink_to(shared)


@pytest.fixture
def deployment(providers_at_standin, tmp_path, monkeypatch) -> Deployment:
    """Machines whose web process A is at BRIDGE_PUBLIC_URL (the load balancer's address, as far
    as Intercom knows), every provider at the stand-in."""
    monkeypatch.setenv("BRIDGE_PUBLIC_URL", f"http://127.0.0.1:{free_port()}")
    return Deployment(tmp_path / "machines", monkeypatch)


@contextmanager
def web_processes(hosts: Deployment) -> Iterator[tuple[BackgroundServer, BackgroundServer]]:
    """Web processes A (at BRIDGE_PUBLIC_URL) and B, on the environment's settings, each with the
    data directory of its own machine."""
    reset_settings_cache()
    settings = get_settings()
    port_a = int(str(settings.public_url).rsplit(":", 1)[1])
    with ExitStack() as stack:
        a, b = (
            stack.enter_context(
                BackgroundServer(
                    create_app(settings.model_copy(update={"data_dir": hosts.data_dir(name)})), port=port
                )
            )
            for name, port in (("a", port_a), ("b", None))
        )
        yield a, b


@pytest.fixture
def web(deployment) -> Iterator[tuple[BackgroundServer, BackgroundServer]]:
    with web_processes(deployment) as servers:
        yield servers


def twilio_media(standin, media_id: str) -> str:
    return f"{standin.url}/2010-04-01/Accounts/AC1/Messages/MM1/Media/{media_id}"


def test_every_attachment_reaches_intercom_as_a_file_whichever_machine_took_or_fetched_it(
    deployment, web, providers_at_standin, sandbox, drain, http
):
    a, b = web
    standin = providers_at_standin
    standin.state.media["ME1"] = StoredMedia(PNG, "image/png")
    standin.state.media["ME2"] = StoredMedia(PDF, "application/pdf")
    standin.state.media["1234567890"] = StoredMedia(JPEG, "image/jpeg")
    settings = get_settings()
    mms = signed_twilio(
        a.url,
        settings,
        sender="+14155550123",
        recipient=BUSINESS,
        text="two files",
        media=(twilio_media(standin, "ME1"), twilio_media(standin, "ME2")),
    )
    assert mms.send(http).status_code == 200
    whatsapp = SimulatedMessage(
        sender="+31612345678",
        recipient="106540352242922",
        text="a photo",
        media=("https://media.example/1234567890",),  # Meta names media by id: the last segment
    )
    assert SIMULATORS["whatsapp"](whatsapp, b.url, settings).send(http).status_code == 200
    deployment.work_as("worker")
    drain()

    files = {
        conversation_bodies(conversation)[0]: held_files(conversation, http)
        for conversation in sandbox.conversations()
    }
    assert files == {
        "two files": [("attachment-1.png", "image/png", PNG), ("attachment-2.pdf", "application/pdf", PDF)],
        "a photo": [("attachment-1.jpg", "image/jpeg", JPEG)],
    }
    every_attachment = [
        attachment["url"]
        for conversation in sandbox.conversations()
        for part in [conversation["source"], *conversation["conversation_parts"]["conversation_parts"]]
        for attachment in part["attachments"]
    ]
    assert every_attachment and all(url.startswith(sandbox.url) for url in every_attachment)
    assert deployment.media("a") == deployment.media("b") == deployment.media("worker") == []
    assert conformance_problems(sandbox.requests()) == []


def test_a_retry_on_another_machine_fetches_the_files_again(
    deployment, web, providers_at_standin, sandbox, drain, http, redis_client
):
    a, _ = web
    standin = providers_at_standin
    standin.state.media["ME1"] = StoredMedia(PNG, "image/png")
    # The first attempt's files refused: its reply, then every quick retry of its look for that reply.
    sandbox.fault(503, times=5, path_prefix="/conversations/")
    request = signed_twilio(
        a.url,
        get_settings(),
        sender="+14155550123",
        recipient=BUSINESS,
        text="hi",
        media=(twilio_media(standin, "ME1"),),
    )
    assert request.send(http).status_code == 200
    deployment.work_as("worker-1")
    for _ in range(3):  # the webhook read, then the delivery's first attempt
        if not sandbox.conversations():
            run_one_job(redis_client)
    assert sandbox.conversations()
    assert len(deployment.media("worker-1")) == 2  # the file and its description, never handed over

    deployment.work_as("worker-2")
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["hi", "(1 attachment: attachment-1.png)"]
    assert held_files(conversation, http) == [("attachment-1.png", "image/png", PNG)]
    fetches = [r for r in standin.state.requests if r["path"].endswith("/Media/ME1")]
    assert len(fetches) == 2  # once on each machine
    assert deployment.media("worker-2") == []


def test_an_attachment_too_large_for_intercom_is_served_by_every_web_process_from_the_shared_volume(
    deployment, providers_at_standin, sandbox, drain, http, monkeypatch, tmp_path
):
    """What docs/operations.md says a deployment that links media needs: one media volume,
    mounted at BRIDGE_DATA_DIR/media on every machine."""
    deployment.share_media(tmp_path / "volume", "a", "b", "worker")
    monkeypatch.setenv("BRIDGE_INTERCOM_FILES_MAX_BYTES", str(len(PNG) - 1))
    with web_processes(deployment) as (a, b):
        providers_at_standin.state.media["ME1"] = StoredMedia(PNG, "image/png")
        request = signed_twilio(
            a.url,
            get_settings(),
            sender="+14155550123",
            recipient=BUSINESS,
            text="big",
            media=(twilio_media(providers_at_standin, "ME1"),),
        )
        assert request.send(http).status_code == 200
        deployment.work_as("worker")
        drain()

        [conversation] = sandbox.conversations()
        [body] = conversation_bodies(conversation)
        link = body.rsplit("\n", 1)[1]
        assert link.startswith(f"{a.url}/media/")
        for server in (a, b):
            served = http.get(server.url + link.removeprefix(a.url))
            assert served.status_code == 200 and served.content == PNG
        assert held_files(conversation, http) == []
