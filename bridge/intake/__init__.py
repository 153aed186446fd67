"""Webhooks in: verified, stored as they arrived, acknowledged; read and claimed once afterwards."""
