"""The provider side of a webhook: requests built and signed exactly as each provider sends them.

Used by `bridge simulate` to try a running bridge, and by the tests, which must sign requests
the way providers do. One module per provider, one line in `SIMULATORS`.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.core.settings import Settings
from bridge.dev.simulators import africastalking, messagebird, textmagic, twilio, vonage, whatsapp
from bridge.dev.simulators.base import SimulatedMessage, SimulatedRequest

Simulator = Callable[[SimulatedMessage, str, Settings], SimulatedRequest]

SIMULATORS: dict[str, Simulator] = {
    "twilio": twilio.inbound,
    "whatsapp": whatsapp.inbound,
    "messagebird": messagebird.inbound,
    "vonage": vonage.inbound,
    "textmagic": textmagic.inbound,
    "africastalking": africastalking.inbound,
}

__all__ = ["SIMULATORS", "SimulatedMessage", "SimulatedRequest", "Simulator"]
