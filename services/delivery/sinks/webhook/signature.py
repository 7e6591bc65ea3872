"""X-Twilio-Signature for JSON deliveries, exactly as twilio-python's RequestValidator checks
it: the body's SHA-256 goes into the URL as `bodySHA256`, and the signature is the base64
HMAC-SHA1 of that full URL keyed with the account's auth token."""

from __future__ import annotations

import base64
import hashlib
import hmac


def with_body_hash(url: str, body: bytes) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}bodySHA256={hashlib.sha256(body).hexdigest()}"


def sign(url: str, auth_token: str) -> str:
    digest = hmac.new(auth_token.encode(), url.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
