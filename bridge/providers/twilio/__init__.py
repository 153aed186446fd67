"""Twilio: SMS, MMS and WhatsApp through Twilio."""
