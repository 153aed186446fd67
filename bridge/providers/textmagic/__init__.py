"""TextMagic: inbound SMS and replies."""
