"""Every Redis key the bridge writes, in one place, under one prefix.

RQ keeps its own keys (`rq:*`: queues, jobs, registries); the bridge's are below. Lifetimes:
"retention" is `BRIDGE_RETENTION_DAYS` (default 14 days), longer than any provider's redelivery
window (Meta retries for up to 7 days), so a redelivered message always meets its ledger entry.

| key                                   | type   | lifetime   | what                                         |
|---------------------------------------|--------|------------|----------------------------------------------|
| bridge:inbound:{inbound_id}           | hash   | retention  | ledger: raw payload, message, recovery points|
| bridge:inbound:seq                    | string | forever    | arrival counter (orders the ledger)          |
| bridge:webhook:{webhook_id}           | hash   | retention  | a webhook as it arrived (raw), its fate      |
| bridge:webhooks:pending               | zset   | until read | webhooks not read yet, by arrival number     |
| bridge:webhooks:reader                | string | 15 s       | a reader is taking the pending webhooks      |
| bridge:mailbox:{identity}             | list   | until empty| a sender's messages not yet delivered, FIFO  |
| bridge:lock:sender:{identity}         | string | lock ttl   | serializes contact + conversation per sender |
| bridge:identity:{identity}            | hash   | forever    | identity -> Intercom contact id and role     |
| bridge:thread:{thread}                | hash   | forever    | a channel thread -> its Intercom conversation|
| bridge:conversation:{conversation_id} | string | forever    | conversation -> thread key (for replies)     |
| bridge:status:{status_id}             | string | retention  | a provider's delivery report (dedupe + job)  |
| bridge:outbound:{provider}:{msg_id}   | hash   | retention  | a message the bridge sent, and its fate      |
| bridge:fragments:{group}              | hash   | retention  | parts of a long SMS: part number -> inbound  |
| bridge:reply:{part_id}                | hash   | retention  | an agent's reply part: status, ids sent      |
| bridge:outreach:{message_id}          | hash   | retention  | a message the team wrote first, its fate     |
| bridge:templates:{provider}           | string | 5 minutes  | a provider's WhatsApp templates (JSON)       |
| bridge:senders:{provider}             | string | 5 minutes  | the numbers a provider's account sends from  |
| bridge:own:pending:{conversation_id}  | string | 2 minutes  | the bridge is posting its own part there     |
| bridge:own:part:{part_id}             | string | retention  | a part the bridge posted itself: never sent  |
| bridge:consent:{scope}:{customer}     | hash   | forever    | opted out of a business address, why, when   |
| bridge:consent:scopes:{customer}      | set    | forever    | the scopes a customer's consent was set in   |
| bridge:consent:audit:{customer}       | list   | forever    | every change of a customer's consent (1,000) |
| bridge:note:{once}                    | string | retention  | a note already posted (said once)            |
| bridge:contact:{contact_id}:identities| set    | forever    | identity keys that lead to the contact       |
| bridge:contact:{contact_id}:threads   | set    | forever    | threads whose conversation is the contact's |
| bridge:alias:{contact_id}             | string | forever    | a merged-away contact -> the one it became   |
| bridge:merges                         | list   | forever    | audit of every merge attempt, newest last   |
| bridge:sync:contacts                  | hash   | 7 days idle| a `contacts sync` run; deleted when it ends  |
| bridge:metrics:{metric}               | hash   | forever    | one counter or histogram (`infra.metrics`)  |
| bridge:budget:intercom                | hash   | 1 min idle | Intercom call budget (`infra.rate_budget`)  |
| bridge:acks                           | string | forever    | durable batches: the write each wait follows|
| bridge:catchup:replies:mark           | string | forever    | when the last reply catch-up began (unix s)  |
| bridge:catchup:replies:lease          | string | 2 minutes  | a worker is running the reply catch-up       |
| bridge:catchup:replies:seen:{conv_id} | hash   | 1 day      | the catch-up read it at this `updated_at`    |
| bridge:forget:contact:{contact_id}    | string | retention  | Intercom deleted it: its forgetting is queued|
| bridge:forget:key                     | string | forever    | id of the key forgotten customers hash under |
| bridge:intercom:definitions           | hash   | forever    | conversation attributes defined, tag ids     |
| bridge:intercom:definitions:asking:{f}| string | 20 s       | one job is asking Intercom for definition f  |
| bridge:worker:wake:{process}          | list   | 1 minute   | a stopping threaded worker wakes its threads |

A metric's hash holds one field per series: the JSON list of its label values (a histogram's
end with the bucket's upper bound, or `sum`), valued by HINCRBYFLOAT. Counters only grow;
Prometheus takes a flushed Redis for a counter reset.
"""

from __future__ import annotations

PREFIX = "bridge:"


def inbound(inbound_id: str) -> str:
    return f"{PREFIX}inbound:{inbound_id}"


INBOUND_SEQUENCE = f"{PREFIX}inbound:seq"


def webhook(webhook_id: str) -> str:
    return f"{PREFIX}webhook:{webhook_id}"


WEBHOOKS_PENDING = f"{PREFIX}webhooks:pending"
WEBHOOKS_READER = f"{PREFIX}webhooks:reader"


def mailbox(identity: str) -> str:
    return f"{PREFIX}mailbox:{identity}"


def sender_lock(identity: str) -> str:
    return f"{PREFIX}lock:sender:{identity}"


def identity(identity_key: str) -> str:
    return f"{PREFIX}identity:{identity_key}"


def thread(thread_key: str) -> str:
    return f"{PREFIX}thread:{thread_key}"


def conversation(conversation_id: str) -> str:
    return f"{PREFIX}conversation:{conversation_id}"


def status(status_id: str) -> str:
    return f"{PREFIX}status:{status_id}"


def outbound(provider: str, provider_message_id: str) -> str:
    return f"{PREFIX}outbound:{provider}:{provider_message_id}"


def fragments(group: str) -> str:
    return f"{PREFIX}fragments:{group}"


def reply(part_id: str) -> str:
    return f"{PREFIX}reply:{part_id}"


def note(once: str) -> str:
    return f"{PREFIX}note:{once}"


def contact_identities(contact_id: str) -> str:
    return f"{PREFIX}contact:{contact_id}:identities"


def contact_threads(contact_id: str) -> str:
    return f"{PREFIX}contact:{contact_id}:threads"


def alias(contact_id: str) -> str:
    return f"{PREFIX}alias:{contact_id}"


MERGES = f"{PREFIX}merges"
# `bridge contacts sync`'s one resumable run (bridge.contacts.sync sets its idle expiry).
CONTACTS_SYNC = f"{PREFIX}sync:contacts"

METRICS_PREFIX = f"{PREFIX}metrics:"

# The Intercom call budget every process shares (bridge.infra.rate_budget): µs timestamps of the next
# free slot (`tat`) and of the end of a 429's pause (`paused_until`).
INTERCOM_BUDGET = f"{PREFIX}budget:intercom"

# Counted up by every batch that waits for durability (`bridge.infra.durability`): a write of the
# batch's own, so its WAIT / WAITAOF covers whatever was written before it, on any connection.
ACKS = f"{PREFIX}acks"


# The reply catch-up (bridge.replies.catchup): its high-water mark, the lease of the one worker
# running it, and what it read of each conversation.
REPLY_CATCHUP_MARK = f"{PREFIX}catchup:replies:mark"
REPLY_CATCHUP_LEASE = f"{PREFIX}catchup:replies:lease"


# What the workspace is known to have (bridge.conversations.labels): the conversation attributes
# the bridge defined (`attributes`) and each channel tag's id (`tag:SMS`), so conversations are
# labelled without asking Intercom first.
INTERCOM_DEFINITIONS = f"{PREFIX}intercom:definitions"


def definition_claim(field: str) -> str:
    """Held by the one job asking Intercom for `field` of `INTERCOM_DEFINITIONS`; the others wait."""
    return f"{INTERCOM_DEFINITIONS}:asking:{field}"


def worker_wake(process: str) -> str:
    """The list a threaded worker process (`workers.threaded`) pushes to when it stops: its idle
    threads wait on it beside the queues."""
    return f"{PREFIX}worker:wake:{process}"


def reply_catchup_seen(conversation_id: str) -> str:
    return f"{PREFIX}catchup:replies:seen:{conversation_id}"


def metric(name: str) -> str:
    """The hash of metric `name` (`webhooks_total`: `bridge_` is left out)."""
    return f"{METRICS_PREFIX}{name}"


def outreach(message_id: str) -> str:
    return f"{PREFIX}outreach:{message_id}"


def templates(provider: str) -> str:
    return f"{PREFIX}templates:{provider}"


def senders(provider: str) -> str:
    return f"{PREFIX}senders:{provider}"


def own_pending(conversation_id: str) -> str:
    return f"{PREFIX}own:pending:{conversation_id}"


def own_part(part_id: str) -> str:
    return f"{PREFIX}own:part:{part_id}"


def consent(scope: str, customer: str) -> str:
    return f"{PREFIX}consent:{scope}:{customer}"


def consent_scopes(customer: str) -> str:
    return f"{PREFIX}consent:scopes:{customer}"


def consent_audit(customer: str) -> str:
    return f"{PREFIX}consent:audit:{customer}"


def forget_contact(contact_id: str) -> str:
    """Intercom said `contact_id` was deleted and the forgetting of its numbers is queued: a
    repeated notification queues nothing more (`bridge.replies.deletions`)."""
    return f"{PREFIX}forget:contact:{contact_id}"


# The id of the key forgotten customers' opt-outs are hashed with (`bridge.core.pseudonyms`), set
# by the first forget: a process holding another key knows it cannot read them.
FORGET_KEY_ID = f"{PREFIX}forget:key"
