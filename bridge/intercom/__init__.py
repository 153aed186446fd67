"""Intercom: the REST client and the objects the bridge reads from it."""

from bridge.intercom.client import API_VERSION, IntercomClient
from bridge.intercom.models import AdminMessage, Contact, ContactRef

__all__ = ["API_VERSION", "AdminMessage", "Contact", "ContactRef", "IntercomClient"]
