"""Dev tools (the Intercom sandbox, the providers' stand-ins, the webhook simulators): production never
imports them.
"""
