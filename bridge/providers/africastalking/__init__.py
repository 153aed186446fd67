"""Africa's Talking: inbound SMS and replies."""
