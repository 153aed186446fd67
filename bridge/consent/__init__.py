"""Consent: a customer who says STOP hears nothing more from that number, and the team sees why."""
