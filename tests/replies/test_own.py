"""The bridge's own parts in a conversation are never sent as agents' replies (`bridge.replies.own`)."""

from __future__ import annotations

from bridge.replies.own import OwnParts, Verdict


def test_a_part_is_pending_while_the_bridge_posts_in_its_conversation_and_own_once_recorded(
    redis_client, settings
):
    own = OwnParts(redis_client, settings)
    assert own.verdict("c1", "p1") is Verdict.AGENTS
    with own.posting("c1"):
        # The webhook for the part can be handled before Intercom's answer names the part.
        assert own.verdict("c1", "p1") is Verdict.PENDING
        assert own.verdict("c2", "p9") is Verdict.AGENTS  # other conversations are not held
        own.record("p1")
    assert own.verdict("c1", "p1") is Verdict.OWN
    assert own.verdict("c1", "p2") is Verdict.AGENTS  # an agent's reply after it is sent


def test_two_posts_in_one_conversation_hold_it_until_both_are_done(redis_client, settings):
    own = OwnParts(redis_client, settings)
    with own.posting("c1"):
        with own.posting("c1"):
            pass
        assert own.verdict("c1", "p7") is Verdict.PENDING
    assert own.verdict("c1", "p7") is Verdict.AGENTS


def test_a_post_that_fails_releases_the_conversation(redis_client, settings):
    own = OwnParts(redis_client, settings)
    try:
        with own.posting("c1"):
            raise RuntimeError("Intercom answered 500")
    except RuntimeError:
        pass
    assert own.verdict("c1", "p1") is Verdict.AGENTS
