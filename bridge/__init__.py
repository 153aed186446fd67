"""bridge: an omnichannel message bridge between SMS/WhatsApp providers and Intercom."""

__version__ = "0.1.0"
