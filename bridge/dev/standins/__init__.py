"""Provider stand-ins: local HTTP servers that answer like the providers' APIs and record calls.

Tests and `bridge run --sandbox` point the providers' `*_API_URL` settings here. Each provider's
endpoints live under the same paths as in the real API, with the same authentication, so the
bridge's requests are exercised exactly as they would be against the provider.
"""

from bridge.dev.standins.app import create_standin_app
from bridge.dev.standins.state import Read, Sent, StandInState, StoredMedia

__all__ = ["Read", "Sent", "StandInState", "StoredMedia", "create_standin_app"]
