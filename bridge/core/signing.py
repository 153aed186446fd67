"""Signature checks the providers share, in one home.

Every comparison is constant-time. The schemes:
- HMAC of the raw body with a hex digest, optionally prefixed (`sha256=`): Meta, Intercom.
- A secret token in the callback URL's query (`?token=`): TextMagic and Africa's Talking sign
  nothing, so the URL itself carries the proof.
- A JWT signed with a shared secret whose claims bind the body (`payload_hash`) and, for
  MessageBird, the URL (`url_hash`): MessageBird's `MessageBird-Signature-JWT` and Vonage's
  Messages API `Authorization: Bearer`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import warnings
from collections.abc import Callable
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from bridge.core.errors import SignatureInvalid

HashFactory = Callable[[], Any]


def equal(given: str | bytes, expected: str | bytes) -> bool:
    """Constant-time comparison of two strings or byte strings."""
    a = given.encode() if isinstance(given, str) else given
    b = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)


def hmac_hex(secret: str, message: bytes, digest: HashFactory) -> str:
    return hmac.new(secret.encode(), message, digest).hexdigest()


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def verify_hmac_header(
    header_value: str | None, *, header: str, secret: str, body: bytes, digest: HashFactory, prefix: str = ""
) -> None:
    """`header_value` must be `prefix` + hex HMAC of the raw body (never of re-encoded JSON)."""
    if not header_value:
        raise SignatureInvalid(f"{header} is missing")
    expected = prefix + hmac_hex(secret, body, digest)
    if not equal(header_value.strip().lower(), expected):
        raise SignatureInvalid(f"{header} does not match the body")


def verify_url_token(given: str | None, *, secret: str, setting: str) -> None:
    """The callback URL's `token` parameter must equal the configured secret."""
    if not given:
        raise SignatureInvalid(f"the callback URL has no token= parameter (set it to {setting})")
    if not equal(given, secret):
        raise SignatureInvalid(f"the token= parameter does not match {setting}")


def verify_jwt(
    token: str | None,
    *,
    header: str,
    secret: str,
    body: bytes,
    algorithms: tuple[str, ...] = ("HS256",),
    issuer: str | None = None,
    required_claims: tuple[str, ...] = (),
    url: str | None = None,
    payload_hash_required: bool = True,
    leeway: float = 1.0,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify a webhook JWT and the claims that tie it to this request; the claims on success.

    `payload_hash` must equal sha256(body) when the body is non-empty (when `payload_hash_required`
    it must also be present then); with `url`, `url_hash` must equal sha256(url exactly as called).
    `exp` and `nbf` are checked against `now` (the clock, by default) with `leeway` seconds of skew.
    """
    if not token:
        raise SignatureInvalid(f"{header} is missing")
    try:
        # A short secret is the operator's to choose; PyJWT would warn on every request.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            claims: dict[str, Any] = jwt.decode(
                token,
                secret,
                algorithms=list(algorithms),
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
            )
    except jwt.InvalidTokenError as exc:
        raise SignatureInvalid(f"{header} is not a valid signature: {type(exc).__name__}") from exc
    missing = [name for name in required_claims if name not in claims]
    if missing:
        raise SignatureInvalid(f"{header} lacks the claim(s) {', '.join(missing)}")
    if issuer is not None and claims.get("iss") != issuer:
        raise SignatureInvalid(f"{header} was not issued by {issuer}")
    current = time.time() if now is None else now
    if "exp" in claims and current > _number(claims["exp"], header) + leeway:
        raise SignatureInvalid(f"{header} has expired")
    if "nbf" in claims and current < _number(claims["nbf"], header) - leeway:
        raise SignatureInvalid(f"{header} is not valid yet")
    if url is not None and not equal(str(claims.get("url_hash", "")), sha256_hex(url)):
        raise SignatureInvalid(f"{header} was made for another URL")
    if body:
        given = claims.get("payload_hash")
        if given is None and payload_hash_required:
            raise SignatureInvalid(f"{header} does not cover the body (no payload_hash)")
        if given is not None and not equal(str(given), sha256_hex(body)):
            raise SignatureInvalid(f"{header} was made for another body")
    elif claims.get("payload_hash"):
        raise SignatureInvalid(f"{header} covers a body but the request has none")
    return claims


def _number(value: Any, header: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise SignatureInvalid(f"{header} has a time claim that is not a number") from exc
