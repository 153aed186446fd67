"""Fetching a provider's media: only from its hosts, checked addresses, bounded size."""
