"""The plumbing: Redis, its keys, claims and batches, the RQ queues, the shared Intercom call budget,
the metric store.
"""
