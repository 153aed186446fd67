"""What the ledgers share about their entries: a field read as text, its lifetime, an update."""

from __future__ import annotations

from bridge.core.settings import Settings
from bridge.infra.entries import Fields, HashEntries


def test_an_empty_or_unreadable_field_reads_as_none():
    # "" is how an update clears a field; a time no version wrote must not fail a job that reads it.
    fields = Fields({"contact_id": "", "received_at": "not a time", "match": ""})
    assert (fields.text("contact_id"), fields.json("match"), fields.stored_at) == (None, None, None)
    assert (fields.text("absent"), fields.number("absent"), fields.request_id) == (None, None, None)


def test_an_entry_lives_for_the_retention_and_an_update_never_brings_it_back(redis_client):
    entries = HashEntries(redis_client, Settings(_env_file=None, retention_days=3))
    with redis_client.pipeline() as pipe:
        entries.store(pipe, "bridge:test:1", {"status": "queued"})
        pipe.execute()
    assert redis_client.ttl("bridge:test:1") == 3 * 86400
    assert entries.update("bridge:test:1", {"status": "delivered"})
    assert entries.read("bridge:test:1") == Fields({"status": "delivered"})

    redis_client.delete("bridge:test:1")  # expired
    assert not entries.update("bridge:test:1", {"status": "delivered"})
    assert entries.read("bridge:test:1") is None
