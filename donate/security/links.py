"""Signed, expiring links that need no account (a donor downloading a receipt again).

A token is ``{expires}.{mac}``: the Unix expiry time and an HMAC-SHA256 over the purpose,
the object id and that time, keyed by the platform's secret. Changing the secret key
revokes every link at once.
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import urlsafe_b64encode
from datetime import datetime


def _mac(secret: str, purpose: str, object_id: str, expires: int) -> str:
    message = f"{purpose}\n{object_id}\n{expires}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return urlsafe_b64encode(digest).decode().rstrip("=")


def sign(secret: str, purpose: str, object_id: str, expires_at: datetime) -> str:
    """A token for ``object_id`` valid until ``expires_at`` (timezone-aware)."""
    expires = int(expires_at.timestamp())
    return f"{expires}.{_mac(secret, purpose, object_id, expires)}"


def verify(secret: str, purpose: str, object_id: str, token: str, now: datetime) -> bool:
    """True when ``token`` was signed for this purpose and object and has not expired."""
    raw_expires, _, mac = token.partition(".")
    if not raw_expires.isdigit() or not mac:
        return False
    expires = int(raw_expires)
    expected = _mac(secret, purpose, object_id, expires)
    return hmac.compare_digest(expected, mac) and now.timestamp() < expires
