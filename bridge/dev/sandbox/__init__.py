"""A local, in-memory stand-in for Intercom's REST API, for trying and testing the bridge."""

from bridge.dev.sandbox.app import create_sandbox_app
from bridge.dev.sandbox.state import Workspace

__all__ = ["Workspace", "create_sandbox_app"]
