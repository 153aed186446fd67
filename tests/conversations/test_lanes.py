"""Sender lanes: the lock a worker holds while it delivers a sender's messages."""

from __future__ import annotations

from bridge.conversations.lanes import SenderLane
from bridge.infra import keys

SENDER = "phone:+14155550123"


def _lock_ttl_ms(redis_client, lane: SenderLane) -> int:
    with lane.held():
        return int(redis_client.pttl(keys.sender_lock(SENDER)))


def test_a_lane_lock_lasts_two_worker_ttls_so_a_dead_holder_frees_it(redis_client):
    # A worker killed mid-delivery never releases the lock: its timeout is how long the sender
    # waits. Production's worker TTL (60 s) gives two minutes; BRIDGE_WORKER_TTL=10 twenty seconds.
    assert 60_000 < _lock_ttl_ms(redis_client, SenderLane(redis_client, SENDER)) <= 120_000
    assert 0 < _lock_ttl_ms(redis_client, SenderLane(redis_client, SENDER, worker_ttl=10)) <= 20_000
    assert redis_client.exists(keys.sender_lock(SENDER)) == 0  # released after delivery


def test_passing_on_keeps_the_lock_for_the_next_message_and_lets_it_go_when_none_waits(redis_client):
    lane, lock = SenderLane(redis_client, SENDER, worker_ttl=10), keys.sender_lock(SENDER)
    redis_client.rpush(keys.mailbox(SENDER), "m1", "m2")
    with lane.held():
        redis_client.pexpire(lock, 500)  # a long delivery has used up most of the lock's time
        assert lane.pass_on("m1") == ["m2"]
        assert 500 < redis_client.pttl(lock) <= 20_000  # its timeout started again, in the same step
        assert lane.pass_on("m2") == []
        assert redis_client.exists(lock) == 0  # gone with the step that found the lane empty
