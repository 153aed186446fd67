"""Putting a customer's message into their Intercom conversation: delivery, threads, lanes, media, notes."""
