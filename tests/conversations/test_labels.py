"""What the workspace is asked to learn its conversation attributes and tags: once, however many
jobs start together on a fresh workspace (a threaded worker runs 50 at once).

Real parts: Valkey over a socket, the sandbox over HTTP with a latency, so that the jobs meet while
the first one's calls are in flight. What a labelled conversation carries is
tests/test_conversation_context_end_to_end.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bridge.conversations.labels import ATTRIBUTES, Definitions
from bridge.core.errors import PermanentError
from bridge.infra import keys

JOBS = 12


def calls(sandbox, path: str) -> list[str]:
    return [entry["method"] for entry in sandbox.requests() if entry["path"] == path]


def together(work: Callable[[Definitions], Any], redis_client, intercom) -> list[Any]:
    """`work` run by `JOBS` jobs at once, each with its own definitions on the shared clients."""
    with ThreadPoolExecutor(JOBS) as pool:
        return list(pool.map(lambda _: work(Definitions(redis_client, intercom)), range(JOBS)))


@pytest.fixture
def slow_sandbox(sandbox):
    sandbox.configure(latency=0.2)
    return sandbox


def test_jobs_starting_together_on_a_fresh_workspace_define_the_attributes_once(
    slow_sandbox, redis_client, intercom
):
    asked = together(lambda definitions: definitions.ensure_attributes(), redis_client, intercom)

    assert asked.count(True) == 1  # the others waited for its answer
    assert calls(slow_sandbox, "/conversations/attributes") == ["GET"] + ["POST"] * len(ATTRIBUTES)
    assert redis_client.exists(keys.definition_claim("attributes")) == 0


def test_jobs_starting_together_ask_for_a_tags_id_once(slow_sandbox, redis_client, intercom):
    found = together(lambda definitions: definitions.tag_id("SMS"), redis_client, intercom)

    assert len({tag_id for tag_id, _ in found}) == 1
    assert [asked for _, asked in found].count(True) == 1
    assert calls(slow_sandbox, "/tags") == ["POST"]


def test_when_the_job_asking_is_refused_one_waiting_job_asks_in_its_place_not_all(
    slow_sandbox, redis_client, intercom
):
    slow_sandbox.fault(403, path_prefix="/conversations/attributes", times=1)

    def ensure(definitions: Definitions) -> bool | None:
        try:
            return definitions.ensure_attributes()
        except PermanentError:
            return None  # refused: its claim goes with it

    asked = together(ensure, redis_client, intercom)

    assert (asked.count(None), asked.count(True)) == (1, 1)
    assert calls(slow_sandbox, "/conversations/attributes") == ["GET", "GET"] + ["POST"] * len(ATTRIBUTES)
