"""Internal notes the bridge leaves in Intercom conversations, each said once.

Agents learn from notes what the customer did not receive (a reply blocked by WhatsApp's 24-hour
window, a delivery failure and why). A note is posted, then remembered under its `once` key: a
retried job does not repeat it. The one window: a crash between posting and remembering posts it
twice, which is better than an agent never hearing.

The author is `INTERCOM_ADMIN_ID`, or else the admin the access token belongs to (`GET /me`).
"""

from __future__ import annotations

from redis import Redis

from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.intercom.client import IntercomClient


class Notes:
    def __init__(self, redis_client: Redis, intercom: IntercomClient, settings: Settings) -> None:
        self._redis = redis_client
        self._intercom = intercom
        self._settings = settings
        self._admin_id = settings.intercom_admin_id

    def post_once(self, conversation_id: str, body: str, *, once: str) -> bool:
        """Post `body` unless a note with the same `once` key was posted; whether it was posted now."""
        key = keys.note(once)
        if self._redis.exists(key):
            return False
        self._intercom.add_note(conversation_id, admin_id=self.admin_id(), body=body)
        self._redis.set(key, conversation_id, ex=self._settings.retention_days * 86400)
        return True

    def admin_id(self) -> str:
        """The teammate the bridge writes as: `INTERCOM_ADMIN_ID`, else the token's admin."""
        if self._admin_id is None:
            self._admin_id = str(self._intercom.me()["id"])
        return self._admin_id
