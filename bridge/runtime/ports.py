"""Free TCP ports on this machine, for the servers the bridge and its tests start."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel has just found free (bound to port 0, then released): a different one for
    each caller, even for processes asking at the same moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
