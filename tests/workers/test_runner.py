"""How workers run: the timings they run with, and what they load before forking a job."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from bridge.core.settings import Settings
from bridge.infra.worker_timings import WorkerTimings, worker_timings

# What a job does first in its forked process: import its function and build its HTTP clients;
# a contact search then reads every region's phone metadata (`written_exit_codes`).
JOB_START = """
import json, sys
{preload}
before = set(sys.modules)
import httpx
from rq.utils import import_attribute
from bridge.intercom.client import IntercomClient
from bridge.infra.queueing import JOB_FUNCTIONS
from bridge.core.settings import get_settings
from bridge.core.tls import tls_context
for function in JOB_FUNCTIONS:
    import_attribute(function)
with IntercomClient.from_settings(get_settings()), httpx.Client(verify=tls_context()):
    pass
from bridge.model.phones import written_exit_codes
written_exit_codes()
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _loaded_by_a_job(preload: bool) -> list[str]:
    code = JOB_START.format(preload="from workers.runner import preload; preload()" if preload else "")
    result = subprocess.run(
        [sys.executable, "-c", code], env=os.environ.copy(), capture_output=True, text=True, check=True
    )
    return list(json.loads(result.stdout))


def test_a_job_loads_nothing_the_worker_did_not_load_before_forking(bridge_env):
    # Without the preload, every job imported httpcore (and trio) and its own job module afresh,
    # and phonenumbers' metadata of ~250 regions (two thirds of a new sender's job).
    loaded = _loaded_by_a_job(preload=False)
    assert "httpcore" in loaded
    assert sum(name.startswith("phonenumbers.data.region_") for name in loaded) > 100
    assert _loaded_by_a_job(preload=True) == []


def test_worker_timings_follow_one_ttl():
    # Production: RQ's heartbeat of a busy worker every 30 s, maintenance every minute.
    assert worker_timings() == WorkerTimings(
        worker_ttl=60, maintenance_interval=60, job_monitoring_interval=30
    )
    assert worker_timings(10) == WorkerTimings(
        worker_ttl=10, maintenance_interval=10, job_monitoring_interval=5
    )


@pytest.mark.parametrize("value", ["4", "61"])
def test_a_worker_ttl_outside_what_readiness_allows_is_refused(monkeypatch, value):
    monkeypatch.setenv("BRIDGE_WORKER_TTL", value)
    with pytest.raises(ValidationError, match="BRIDGE_WORKER_TTL"):
        Settings(_env_file=None)
