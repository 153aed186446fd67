"""Agents' replies out to customers: what to send, the ledger of what was sent, delivery reports."""
