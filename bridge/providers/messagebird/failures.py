"""Why MessageBird did not deliver or send a message, in words an agent can act on.

Two numbering schemes reach `failure_reason`:
- a classic SMS status report's `statusErrorCode` (kept by `classic.status_reports` as the status's
  error code; its `statusReason` words, e.g. `unknown subscriber`, become the error message). The
  codes and the reason each belongs to are Bird's "SMS Platform Extended Error Codes"
  (docs.bird.com/api/channels-api/message-status-and-interactions/message-failure-sources/
  sms-platform-extended-error-codes), the GSM MAP error numbers MessageBird passes on; 103, the
  customer sent STOP, is nyaruka/courier's (`errorStopped = 103`, "Contact has sent 'stop'").
- the `errors[].code` of a refused API call (`ProviderRejected.code`): the REST API's 2, 9, 10, 20,
  21, 25, 98, 99 (messagebird-async `ServiceErrorCode`) and the Conversations API's 1001 (its
  "Error Object Example").

The two overlap at 2, 9 and 10 (a report's unknown base station, illegal subscriber and bearer
service not provisioned; a refused call's request not allowed, missing and invalid parameters).
Those codes are left out: the agent then reads the provider's own words, the report's
`statusReason` or the refused call's description, which are right in either case.
"""

from __future__ import annotations

from collections.abc import Mapping

_NO_LINE = "the number is not in service (unknown subscriber); check it with the customer"
_UNAVAILABLE = (
    "the customer's phone was off, busy or out of coverage until the message expired; "
    "try again later or reach them another way"
)
_NO_SMS = "the customer's line cannot receive SMS (e.g. a landline or a data-only SIM)"

# statusErrorCode -> what happened and what to do.
DELIVERY_ERRORS: Mapping[str, str] = {
    "0": "the carrier reported a failure without a reason; try again later or reach the customer another way",
    **dict.fromkeys(("1", "3", "5"), _NO_LINE),
    **dict.fromkeys(("8", "26", "27", "31"), _UNAVAILABLE),
    "11": _NO_SMS,
    "12": "the carrier has barred this number from receiving messages",
    "34": "the customer's network failed to deliver it (system failure); try again later",
    "103": "the customer replied STOP and has opted out of SMS from this number; they must text START "
    "before you can reach them",
}

# A refused API call's errors[].code -> what to do.
API_ERRORS: Mapping[str, str] = {
    "20": "MessageBird does not know the channel or number replied from: check the MessageBird setup",
    "21": "MessageBird refused the request as malformed",
    "25": "the MessageBird account has no balance left: top it up, then replay the reply",
    "98": "MessageBird does not know this API: check MESSAGEBIRD_API_URL",
    "99": "MessageBird had an internal error; replay the reply later",
    "1001": "MessageBird refused the credentials: check MESSAGEBIRD_ACCESS_KEY",
}


def failure_reason(code: str | None) -> str | None:
    """A sentence for a status report's `statusErrorCode` or a refused call's error code; None when
    the code is in neither table (or is one of the ambiguous 2, 9, 10)."""
    if code is None:
        return None
    code = code.strip()
    # Reports may carry the code zero-padded ("034"); keep "0" itself.
    normal = (code.lstrip("0") or "0") if code.isdigit() else code
    return DELIVERY_ERRORS.get(normal) or API_ERRORS.get(normal)
