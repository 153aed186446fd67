"""Hypothesis strategies and signing the fuzz tests share (tests/test_fuzz_*.py).

Bodies are random bytes, random JSON, random forms, and real samples with random parts replaced
(`mutated`): garbage that is still close enough to the real thing to get past the first checks.
`signed` signs a body as a provider does, so the parsers behind the signature check get it too.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from bridge.core.settings import Settings
from bridge.core.signing import hmac_hex, sha256_hex
from bridge.dev.simulators.messagebird import signature as messagebird_signature
from bridge.providers.vonage import sms_signature
from tests.helpers import SHARED

SAMPLES = (
    sorted(path for path in (SHARED / "samples").glob("*") if path.suffix in (".json", ".form", ".query"))
    if (SHARED / "samples").exists()
    else []
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=6)
    ),
    max_leaves=25,
)


def mutated(value: Any, draw: st.DrawFn) -> Any:
    """`value` with random leaves and keys replaced, removed or retyped."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            action = draw(st.integers(0, 9))
            if action == 0:
                continue  # drop the key
            if action == 1:
                result[key] = draw(json_values)  # any value of any type
            else:
                result[key] = mutated(item, draw)
        return result
    if isinstance(value, list):
        return [mutated(item, draw) for item in value if draw(st.integers(0, 9))]
    return draw(json_values) if draw(st.integers(0, 3)) == 0 else value


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    kind = draw(
        st.sampled_from(["bytes", "json", "form", "sample"] if SAMPLES else ["bytes", "json", "form"])
    )
    if kind == "bytes":
        return draw(st.binary(max_size=3000)), draw(st.sampled_from(["", "application/json", "text/plain"]))
    if kind == "json":
        return json.dumps(draw(json_values)).encode(), "application/json"
    if kind == "form":
        fields = draw(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=60)), max_size=15))
        return urlencode(fields).encode(), "application/x-www-form-urlencoded"
    sample = draw(st.sampled_from(SAMPLES))
    raw = sample.read_bytes()
    if sample.suffix == ".json":
        return json.dumps(mutated(json.loads(raw), draw)).encode(), "application/json"
    pairs = parse_qsl(raw.decode(), keep_blank_values=True)
    kept = [
        (key, draw(st.text(max_size=40)) if draw(st.integers(0, 4)) == 0 else value)
        for key, value in pairs
        if draw(st.integers(0, 6))
    ]
    return urlencode(kept).encode(), "application/x-www-form-urlencoded"


def signed(
    provider: str, base: str, path: str, body: bytes, content_type: str, config: Settings
) -> tuple[str, bytes, dict]:
    """URL, body and headers as the provider would send them for `body` (when it can be signed)."""
    url = f"{base}{path}"
    headers = {"Content-Type": content_type} if content_type else {}
    if provider == "twilio":
        try:
            params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            return url, body, headers
        headers["X-Twilio-Signature"] = RequestValidator(
            config.secret("twilio_auth_token")
        ).compute_signature(url, params)
    elif provider == "whatsapp":
        headers["X-Hub-Signature-256"] = "sha256=" + hmac_hex(
            config.secret("whatsapp_app_secret"), body, hashlib.sha256
        )
    elif provider == "messagebird":
        headers["MessageBird-Signature-JWT"] = messagebird_signature(
            url, body, config.secret("messagebird_signing_key"), time.time()
        )
    elif provider == "vonage":
        if content_type == "application/json":
            claims = {"iat": int(time.time()), "jti": secrets.token_hex(8), "payload_hash": sha256_hex(body)}
            headers["Authorization"] = "Bearer " + jwt.encode(
                claims, config.secret("vonage_signature_secret"), "HS256"
            )
        else:
            try:
                params = [(k, v) for k, v in parse_qsl(body.decode(), keep_blank_values=True) if k != "sig"]
            except UnicodeDecodeError:
                return url, body, headers
            sig = sms_signature(
                dict(params), secret=config.secret("vonage_signature_secret"), method="md5hash"
            )
            body = urlencode([*params, ("sig", sig)]).encode()
    else:  # textmagic, africastalking: the URL carries the secret
        separator = "&" if "?" in url else "?"
        url += f"{separator}token={config.secret(f'{provider}_webhook_secret')}"
    return url, body, headers
