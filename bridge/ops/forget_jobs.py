"""RQ's part of forgetting a person (`bridge.ops.forget`): their jobs, and what other jobs kept.

A job's arguments are record ids only (`bridge.infra.queueing`), but RQ keeps more with it: the
traceback of a failed attempt (masked by the workers, `workers.context`, yet a number written
otherwise than `+…` passes the mask), its result, its meta. The jobs working on the person's
records go whole, in whatever state (queued, scheduled, failed, finished), so a replay cannot
bring them back; any other job whose stored traceback or result writes the number loses that
field, and keeps the rest (its record is someone else's, and may still be replayed).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Callable, Iterable, Mapping

from redis import Redis
from redis.exceptions import ResponseError
from rq.job import Job
from rq.results import Result
from rq.serializers import JSONSerializer

from bridge.infra.queueing import INBOUND_JOB, JobType
from bridge.ops.scanning import scanned_keys

# The fields that make a job what it is: a job whose stored call writes the number goes whole.
_CALL = "data"


def delete_jobs(client: Redis, records: Mapping[JobType, Iterable[str]]) -> int:
    """Delete every job of each kind on each of its records (an inbound one's later look too);
    how many there were."""
    ids = [
        job_id
        for job_type, record_ids in records.items()
        for record_id in record_ids
        for job_id in _job_ids(job_type, record_id)
    ]
    deleted = 0
    for start in range(0, len(ids), 500):
        jobs = Job.fetch_many(ids[start : start + 500], connection=client, serializer=JSONSerializer)
        for job in jobs:
            if job is not None:
                job.delete(remove_from_queue=True)
                deleted += 1
    return deleted


def scrub_jobs(client: Redis, written_in: Callable[[str], bool]) -> int:
    """Remove from every job and every job's results what `written_in` finds the person in; how
    many jobs were touched."""
    touched: set[str] = set()
    prefix = Job.redis_job_namespace_prefix
    for batch in scanned_keys(client, f"{prefix}*"):
        with client.pipeline(transaction=False) as pipe:
            for name in batch:
                pipe.hgetall(name)
            answers = pipe.execute(raise_on_error=False)
        for name, data in zip(batch, answers, strict=True):
            if not isinstance(data, dict):
                continue  # a job's dependents set, not the job
            carrying = [field for field, value in data.items() if any(map(written_in, readings(value)))]
            if not carrying:
                continue
            job_id = name.removeprefix(prefix)
            touched.add(job_id)
            if _CALL.encode() in carrying or _CALL in carrying:
                Job(job_id, connection=client, serializer=JSONSerializer).delete(remove_from_queue=True)
            else:
                client.hdel(name, *carrying)
    results_prefix = str(Result.get_key(""))  # type: ignore[no-untyped-call]
    for batch in scanned_keys(client, f"{results_prefix}*"):
        for name in batch:
            if any(written_in(reading) for value in _stream(client, name) for reading in readings(value)):
                client.delete(name)
                touched.add(name.removeprefix(results_prefix))
    return len(touched)


def readings(value: bytes | str) -> list[str]:
    """`value` as text, and unpacked as RQ packs what it keeps: zlib-compressed, maybe base64 first."""
    raw = value if isinstance(value, bytes) else value.encode()
    found = [raw.decode("utf-8", "replace")]
    decoded = _base64(raw)
    for packed in (raw, decoded):
        if packed is None:
            continue
        try:
            found.append(zlib.decompress(packed).decode("utf-8", "replace"))
        except zlib.error:
            if packed is decoded:
                found.append(packed.decode("utf-8", "replace"))
    return found


def _base64(raw: bytes) -> bytes | None:
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None


def _stream(client: Redis, name: str) -> list[bytes | str]:
    """Every field value of a stream of results (another type: nothing)."""
    try:
        entries = client.xrange(name)
    except ResponseError:  # a key of another type under RQ's prefix is not ours to read
        return []
    return [value for _, fields in entries or [] for value in (fields or {}).values()]


def _job_ids(job_type: JobType, record_id: str) -> list[str]:
    job_id = job_type.job_id(record_id)
    return [job_id, f"{job_id}-later"] if job_type is INBOUND_JOB else [job_id]
