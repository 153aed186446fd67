"""One TLS context per process, shared by every HTTP client the bridge makes.

httpx builds a fresh `ssl.SSLContext` for each client it is not given one, and building one
reads and parses the whole CA bundle: about 20 ms of CPU. Workers make their clients per job (a
forking worker runs each job in a new process), so that was two thirds of a message's CPU, and
halved a worker's throughput. A context is configuration and a trust store, not connections,
and is meant to be shared: made once in the worker before it forks (`workers.runner`), every
job's process inherits it ready to use.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """The verifying context httpx would build (certifi's bundle, or `SSL_CERT_FILE`/`SSL_CERT_DIR`)."""
    return httpx.create_ssl_context()
