"""Verifying the calls Oxbow makes to a webhook agent, as Standard Webhooks specifies: each call
carries ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,<base64 HMAC-SHA256
of "{id}.{timestamp}.{body}">``, space-separated during a secret's rotation)."""

import base64
import hashlib
import hmac
import json
import time

#: How far a call's timestamp may be from now, either way.
TOLERANCE_SECONDS = 300


class WebhookVerificationError(Exception):
    """The call is not Oxbow's, or is too old to be taken."""


def verify(secret, body, headers, now=None):
    """The call's task (its JSON body) if one of its signatures is ``secret``'s (``whsec_…``, as
    ``RegisterAgent`` or ``RotateWebhookSecret`` answered it); else :class:`WebhookVerificationError`.

    ``body`` is the raw request body, bytes exactly as received; ``headers`` any mapping of
    header names (any case) to values."""
    headers = {name.lower(): value for name, value in headers.items()}
    message_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (message_id and timestamp and signatures):
        raise WebhookVerificationError("the call is not signed")
    try:
        sent = int(timestamp)
    except ValueError:
        raise WebhookVerificationError("the timestamp is not a number") from None
    if abs((now if now is not None else time.time()) - sent) > TOLERANCE_SECONDS:
        raise WebhookVerificationError("the call is too old or from the future")
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    signed = f"{message_id}.{sent}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for signature in signatures.split(" "):
        version, _, value = signature.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return json.loads(body)
    raise WebhookVerificationError("no signature is this secret's")
